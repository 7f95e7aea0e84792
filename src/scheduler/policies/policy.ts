/**
 * The one interface every scheduling policy implements, after kube-scheduler's score plugins: a small pure node
 * scorer returning an integer on a named scale, and a GPU-choice step that picks, vGPU by vGPU, which device of the
 * chosen node serves the pod. The allocator (`src/scheduler/core/schedule.ts`) gathers the inputs, calls these, and
 * keeps the arithmetic out of its own code.
 */
import type { DeviceOption, GpuTotals, NodePlacement, NodeView } from '../core/view.js';
import type { TypicalShape } from './frag.js';
import type { PackingDirection, PodRequest } from '../../request/index.js';

/** Node scores fall in [0, MAX_NODE_SCORE]; higher is better. The extender maps them to its 0..10 scale. */
export const MAX_NODE_SCORE = 100;

/** What stays the same for a whole run (a scheduler process, or one simulation). */
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
   * The workload's typical request shapes, in milli-GPU of `NodeView.gpuLeft` (frag.ts `typicalShapes`): what the
   * fragmentation-aware policies (fgd, tessera) keep room for. Absent: fgd scores every node alike and tessera
   * packs HAMi-core GPUs by fullness.
   */
  readonly typical?: readonly TypicalShape[];
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
  /** The devices the policy's own `chooseDevice` picks on this node: computed on first read. */
  readonly placement: NodePlacement;
  /** The pod's node packing direction (annotation, else the run default). */
  readonly direction: PackingDirection;
  readonly context: RunContext;
}

export interface Policy {
  readonly name: string;
  /**
   * The policy scores nothing without `RunContext.typical` (fgd): a scheduler learns the typical requests for it.
   * Others that can use them (tessera) are given them only where they are cheap to honour (the trace simulator):
   * scoring every HAMi-core node by the gradient costs 14-19 ms per decision at 10,000 nodes.
   */
  readonly needsTypical?: boolean;
  /**
   * Index into `input.options` of the device to take. Must be pure and deterministic, and depend only on the node,
   * the pod's GPU demands and filters, the direction and the context: the allocator reuses a node's choice for
   * the same GPU shape until the node's version changes.
   */
  chooseDevice(input: ChooseInput): number;
  /** Integer in [0, MAX_NODE_SCORE]. Must be pure; may memoize per node on `node.version`. */
  scoreNode(input: ScoreInput): number;
}

/** Clamps and truncates a raw score onto the scale (policies compute in floats, report integers). */
export function toNodeScore(raw: number): number {
  if (!Number.isFinite(raw)) return 0;
  return Math.max(0, Math.min(MAX_NODE_SCORE, Math.trunc(raw)));
}
