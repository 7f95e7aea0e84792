/**
 * The one contract every scheduling policy implements, after kube-scheduler's score plugins: a small pure node
 * scorer on a named scale, a GPU-choice step that picks, vGPU by vGPU, which device of the chosen node serves the
 * pod, and optionally the MIG planner the policy pairs with. The allocator (schedule.ts, fit.ts) gathers the
 * inputs and calls these; the policies themselves live in `src/scheduler/policies` and are served by its one
 * registry.
 */
import type { DemandMix, MigRestriction } from '../../geometry/index.js';
import type { MigPlanner } from './mig.js';
import type { PackingDirection, PodRequest } from '../../request/index.js';
import type { DeviceOption, GpuTotals, NodePlacement, NodeView } from './view.js';

/** Node scores fall in [0, MAX_NODE_SCORE]; higher is better. The extender maps them to its 0..10 scale. */
export const MAX_NODE_SCORE = 100;

/** A request shape in FGD's units: CPU milli, milli-GPU per GPU, GPU count, allowed models (empty = any). */
export interface ShareShape {
  readonly cpu: number;
  readonly milli: number;
  readonly gpus: number;
  readonly models: readonly string[];
}

export interface TypicalShape extends ShareShape {
  /** Share of the typical set's pods with this shape; the typical set's frequencies sum to 1. */
  readonly freq: number;
}

/** What stays the same for a whole run (a scheduler process, or one simulation) until the workload is relearned. */
export interface RunContext {
  /** Cluster default when the pod's `hami.io/node-scheduler-policy` is absent. */
  readonly nodePolicy: PackingDirection;
  /** Cluster default when the pod's `hami.io/gpu-scheduler-policy` is absent. */
  readonly gpuPolicy: PackingDirection;
  /**
   * Tie-break rank of a node (smaller wins); nodes it does not know rank after those it does, by name. The openb
   * protocol needs first-fit in a fixed random node order.
   */
  readonly nodeRank?: (node: string) => number | undefined;
  /**
   * The workload's typical request shapes, in milli-GPU of `NodeView.gpuLeft` (policies/frag.ts `typicalShapes`):
   * what the fragmentation-aware policies (fgd, tessera) keep room for. A new set is a new array: policies key
   * what they cache on its identity. Absent: fgd scores every node alike and tessera packs HAMi-core GPUs by
   * fullness.
   */
  readonly typical?: readonly TypicalShape[];
  /**
   * The nodes a learned workload keeps for pods that fit few nodes (policies/workload.ts `scarceHomes`), learned
   * with `typical`. A new value is a new object: the allocator keys the scores it keeps on its identity.
   */
  readonly scarceHomes?: ScarceHomes;
}

/**
 * Nodes kept for the GPU pods that fit few of them: a node may be kept when it is one of the few homes (by CPU, host
 * memory and GPU count, when empty) of a GPU pod shape the scheduler has seen, and a pod that could go to more
 * nodes than that scores lower there (how much is the policy's). On openb's multigpu50, the 8-GPU pods that ask
 * 120 cores fit only the 39 128-core nodes, which the other pods otherwise fill first.
 */
export interface ScarceHomes {
  /** Node name -> the number of nodes the scarcest shape it is kept for fits on. */
  readonly keptFor: ReadonlyMap<string, number>;
  /**
   * How many nodes could ever hold `request`, counted by GPU count alone (0 for a pod that names GPU types: the
   * nodes it names are its own to take). A pod is held back from a kept node only when this exceeds the node's count.
   */
  homesOf(request: PodRequest): number;
}

export const DEFAULT_RUN_CONTEXT: RunContext = { nodePolicy: 'binpack', gpuPolicy: 'spread' };

export interface ChooseInput {
  /** The node as it is now (before the pod). */
  readonly node: NodeView;
  readonly request: PodRequest;
  /** Position of the container in `request.containers` and of the vGPU within it. */
  readonly container: number;
  readonly vgpu: number;
  /** Devices that can serve this vGPU given the picks already made for the pod (never empty). */
  readonly options: readonly DeviceOption[];
  /** Picks already made for this pod on this node, per container. */
  readonly picked: readonly (readonly DeviceOption[])[];
  /** The pod's GPU packing direction (annotation, else the run default). */
  readonly direction: PackingDirection;
  readonly context: RunContext;
}

export interface ScoreInput {
  readonly node: NodeView;
  readonly request: PodRequest;
  /** What the pod adds to `node.gpuUsed`; known without choosing devices, so reading it costs nothing. */
  readonly added: GpuTotals;
  /**
   * The devices the policy's own `chooseDevice` picks on this node: computed on first read, then the same object
   * for this pod shape until the node's version or the typical set changes (policies may key a cache on it).
   */
  readonly placement: NodePlacement;
  /** The pod's node packing direction (annotation, else the run default). */
  readonly direction: PackingDirection;
  readonly context: RunContext;
}

/**
 * Pod CPU in milli, (above, upTo]: the range over which a node's score holds. The allocator hands a policy the
 * whole line; a policy that reads the pod's CPU in steps narrows it to the step the pod fell in (`narrowSpan`).
 */
export interface CpuSpan {
  above: number;
  upTo: number;
}

/** Narrows `span` to (above, upTo]. */
export function narrowSpan(span: CpuSpan, above: number, upTo: number): void {
  span.above = Math.max(span.above, above);
  span.upTo = Math.min(span.upTo, upTo);
}

/** What a policy's MIG planner is built from: the workload's demand mix and the operator's restrictions. */
export interface MigPlannerOptions {
  readonly demand?: DemandMix;
  readonly restrictions?: ReadonlyMap<string, MigRestriction>;
}

export interface Policy {
  readonly name: string;
  /**
   * The policy reads `RunContext.typical` (fgd scores nothing without it; tessera's HAMi-core gradient needs it):
   * a scheduler learns the typical requests for it.
   */
  readonly needsTypical?: boolean;
  /**
   * The MIG planner this policy pairs with, for the learned demand; absent: the geometry engine's own ranking
   * (`createGeometryPlanner`).
   */
  readonly migPlanner?: (options: MigPlannerOptions) => MigPlanner;
  /**
   * Index into `input.options` of the device to take. Must be pure and deterministic, and depend only on the node,
   * the pod's GPU demands and filters, the direction and the context: the allocator reuses a node's choice for
   * the same GPU shape until the node's version changes.
   */
  chooseDevice(input: ChooseInput): number;
  /**
   * How `scoreNode` reads the pod's CPU and host memory. 'exact' (the default): anyhow, so a score is kept only for
   * the very same request. 'steps': never the host memory, and the CPU only in steps, each call narrowing `span` to
   * the step the pod's CPU fell in (or leaving it whole when the CPU is not read): a score is then kept per step for
   * every pod of the same GPU shape, so pods that differ only in what CPU they ask share it.
   */
  readonly scoreCpu?: 'exact' | 'steps';
  /**
   * A number in [0, MAX_NODE_SCORE]; equal scores go to the node rank, so a policy whose ties matter (FGD's
   * truncation) returns integers. Must be pure; may memoize per node on `node.version`. `span` arrives whole
   * (see `scoreCpu`).
   */
  scoreNode(input: ScoreInput, span: CpuSpan): number;
}

/** Clamps and truncates a raw score onto the scale (for policies whose integer ties are part of the policy). */
export function toNodeScore(raw: number): number {
  return Math.trunc(clampScore(raw));
}

/** Clamps a raw score onto the scale, keeping its fraction (equal raw scores stay equal, distinct ones distinct). */
export function clampScore(raw: number): number {
  if (!Number.isFinite(raw)) return 0;
  return Math.max(0, Math.min(MAX_NODE_SCORE, raw));
}
