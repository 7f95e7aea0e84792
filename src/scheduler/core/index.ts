/**
 * The allocator core: pure data in, pure data out. Given a `PodRequest` (src/request), keep a `ClusterState`, ask
 * `schedule` for ranked nodes (and failed nodes with structured reasons), `decide` on one node, then
 * `state.apply(allocation)` / `state.release(podUid)`.
 */
export * from './types.js';
export type { GpuTotals, GpuView, NodeView, DeviceOption, NodePlacement } from './view.js';
export { MILLI_PER_GPU } from './view.js';
export type { MigInstanceView, MigOption, MigPlanner } from './mig.js';
export { ClusterState, type ClusterStateOptions, type IdleMigInstances, type MigOpsApplied, type NodeSnapshot } from './state.js';
export { memoryNeed } from './fit.js';
export { BestNode, allocationOf, decide, eachFit, schedule, type FitOptions, type RankedNode, type ScheduleOptions, type ScheduleResult } from './schedule.js';
export { createGeometryPlanner, type GeometryPlannerOptions } from './geometry-planner.js';
export {
  DEFAULT_RUN_CONTEXT,
  MAX_NODE_SCORE,
  clampScore,
  narrowSpan,
  toNodeScore,
  type ChooseInput,
  type CpuSpan,
  type MigPlannerOptions,
  type Policy,
  type RunContext,
  type ScarceHomes,
  type ScoreInput,
  type ShareShape,
  type TypicalShape,
} from './policy.js';
