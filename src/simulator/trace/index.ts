/** Timed MIG trace replay through the allocator. */
export { TRACE_POLICIES } from './policies.js';
export { runTrace, type TraceReport } from './run.js';
