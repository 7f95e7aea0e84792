/** Timed MIG trace replay through the allocator. */
export { runTrace, type TraceReport } from './run.js';
export { MIG_FAMILIES, generateMigFamily, type MigFamily, type MigFamilyTrace } from './families.js';
export { replayTrace, type TraceOutcome } from './replay.js';
export { migCapacityBound, type CapacityBound } from './bound.js';
