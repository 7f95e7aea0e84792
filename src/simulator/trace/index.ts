/** Timed MIG trace replay through the allocator. */
export { runTrace, type TraceReport } from './run.js';
