/** The trace simulators: openb (the FGD paper's protocol) and timed MIG traces, through the allocator. */
export { PROFILE_SOURCES, simulatorPolicy, type ProfileSource } from './policy.js';
