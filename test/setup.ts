import fc from 'fast-check';

// CI replays one fixed seed so a landing never depends on luck; developers' runs draw new seeds and keep exploring.
// Reproduce a local failure with the seed and path fast-check prints.
if (process.env.CI) fc.configureGlobal({ seed: 20261124 });
