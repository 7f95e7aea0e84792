/**
 * The allocator core: pure data in, pure data out. Parse a pod into a `PodRequest`, keep a `ClusterState`, ask
 * `schedule` for ranked nodes (and failed nodes with structured reasons), `decide` on one node, then
 * `state.apply(allocation)` / `state.release(podUid)`.
 */
export * from './types.js';
export type { GpuTotals, GpuView, NodeView, DeviceOption, NodePlacement } from './view.js';
export type { MigInstanceView, MigOption, MigPlanner } from './mig.js';
export { parseQuantity, quantityCeil, quantityInteger, type Quantity } from './quantity.js';
export { DEFAULT_REQUEST_CONFIG, parsePodRequest, wantsGpu, type RequestConfig } from './request.js';
export { ClusterState, type ClusterStateOptions, type IdleMigInstances, type MigOpsApplied, type NodeSnapshot } from './state.js';
export { memoryNeed } from './fit.js';
export { allocationOf, decide, eachFit, schedule, type FitOptions, type RankedNode, type ScheduleOptions, type ScheduleResult } from './schedule.js';
export { reasonText } from './reasons.js';
export { createGeometryPlanner, type GeometryPlannerOptions } from './geometry-planner.js';
export {
  DEFAULT_RUN_CONTEXT,
  MAX_NODE_SCORE,
  clampScore,
  toNodeScore,
  type ChooseInput,
  type MigPlannerOptions,
  type Policy,
  type RunContext,
  type ScoreInput,
  type ShareShape,
  type TypicalShape,
} from './policy.js';
