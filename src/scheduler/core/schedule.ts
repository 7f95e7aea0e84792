/**
 * The one decision entry point the extender and the simulator share: `schedule` filters and scores the nodes,
 * `decide` turns the placement on a chosen node into an `Allocation`. Neither changes the state: the caller applies
 * the allocation (`ClusterState.apply`) once it commits to it.
 */
import { err, ok, type Result } from '../../errors.js';
import { DEFAULT_RUN_CONTEXT, type Policy, type RunContext, type ScoreInput } from '../policies/policy.js';
import { fitNode, prepare, type Fitting } from './fit.js';
import type { ClusterState, NodeState } from './state.js';
import type { GpuTotals, NodePlacement, NodeView } from './view.js';
import type { Allocation, NodeFit, PackingDirection, PodRequest, Reason } from './types.js';

export interface ScheduleOptions {
  /** Only these nodes (the extender's candidate list); unknown names fail with `UnknownNode`. Default: all. */
  readonly candidates?: readonly string[];
  readonly context?: RunContext;
  /** Keep only the best `limit` ranked nodes (the simulator needs one). Default: all. */
  readonly limit?: number;
  /** Record why each failed node failed (default true; without it `failed` stays empty and makes no garbage). */
  readonly explain?: boolean;
}

export interface RankedNode {
  readonly node: string;
  /** The policy's score in [0, MAX_NODE_SCORE]. */
  readonly score: number;
  /** The devices the policy picks on this node (computed on first read). */
  readonly placement: NodePlacement;
}

export interface ScheduleResult {
  /** Best first: highest score, then lowest node rank, then name. */
  readonly ranked: readonly RankedNode[];
  readonly failed: readonly NodeFit[];
}

/** Filters every candidate node, scores those that fit, and ranks them. */
export function schedule(state: ClusterState, request: PodRequest, policy: Policy, options: ScheduleOptions = {}): ScheduleResult {
  const context = options.context ?? DEFAULT_RUN_CONTEXT;
  const explain = options.explain ?? true;
  const prepared = prepare(request, policy, context, state.migPlanner, explain);
  const direction = request.nodePolicy ?? context.nodePolicy;
  const limit = options.limit ?? Infinity;
  const rankOf = context.nodeRank;

  const ranked: Entry[] = [];
  const failed: NodeFit[] = [];
  const visit = (node: NodeState): void => {
    const { fit, fitting } = fitNode(node, prepared);
    if (fitting === null) {
      if (explain) failed.push(fit);
      return;
    }
    const score = policy.scoreNode(new NodeScoreInput(node, request, fitting, direction, context));
    const entry = new Entry(node.name, score, rankOf?.(node.name) ?? Number.MAX_SAFE_INTEGER, fitting);
    if (ranked.length < limit) {
      ranked.push(entry);
      if (ranked.length === limit) ranked.sort(better);
      return;
    }
    // Full: keep the best `limit`, sorted (insertion into a short list).
    if (better(entry, ranked[ranked.length - 1] as Entry) >= 0) return;
    let at = ranked.length - 1;
    while (at > 0 && better(entry, ranked[at - 1] as Entry) < 0) at--;
    ranked.splice(at, 0, entry);
    ranked.pop();
  };

  if (options.candidates) {
    for (const name of options.candidates) {
      const node = state.internalNode(name);
      if (node) visit(node);
      else if (explain) failed.push({ node: name, outcome: 'unresolvable', reasons: [{ kind: 'UnknownNode', node: name }] });
    }
  } else {
    for (const node of state.internalNodes()) visit(node);
  }
  if (ranked.length < limit) ranked.sort(better);
  return { ranked, failed };
}

/** A ranked node (classes with prototype getters: no closures per node on the hot path). */
class Entry implements RankedNode {
  constructor(
    readonly node: string,
    readonly score: number,
    readonly rank: number,
    private readonly fitting: Fitting,
  ) {}

  get placement(): NodePlacement {
    return this.fitting.placement();
  }
}

const better = (a: Entry, b: Entry): number => b.score - a.score || a.rank - b.rank || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);

/** The policy's view of one fitting node; the placement is chosen only if the policy reads it. */
class NodeScoreInput implements ScoreInput {
  readonly added: GpuTotals;

  constructor(
    readonly node: NodeView,
    readonly request: PodRequest,
    private readonly fitting: Fitting,
    readonly direction: PackingDirection,
    readonly context: RunContext,
  ) {
    this.added = fitting.added;
  }

  get placement(): NodePlacement {
    return this.fitting.placement();
  }
}

/** The allocation a placement stands for (plain data, ready for `ClusterState.apply` and the annotations). */
export function allocationOf(state: ClusterState, request: PodRequest, placement: NodePlacement): Result<Allocation, Reason> {
  const node = state.internalNode(placement.node);
  if (!node) return err({ kind: 'UnknownNode', node: placement.node });
  const complete = request.containers.every((c, i) => (placement.containers[i]?.length ?? 0) === (c.gpu?.count ?? 0));
  if (!complete) return err({ kind: 'Inconsistent', message: `the placement on ${placement.node} does not cover every vGPU the pod asks for` });
  return ok({
    pod: { ...request.pod },
    node: node.name,
    mode: node.mode,
    cpuMilli: request.cpuMilli,
    memoryMiB: request.memoryMiB,
    containers: request.containers.map((c, i) => ({
      name: c.name,
      devices: (placement.containers[i] ?? []).map((o) => {
        const gpu = node.gpus[o.gpu];
        const base = { uuid: gpu?.uuid ?? '', index: gpu?.index ?? -1, memoryMiB: o.memoryMiB, cores: o.cores };
        return o.mig ? { ...base, mig: { profile: o.mig.profile, start: o.mig.start, plan: o.mig.plan.map((op) => ({ ...op })) } } : base;
      }),
    })),
  });
}

/** The allocation for `request` on one node, or why the node cannot take it. */
export function decide(
  state: ClusterState,
  request: PodRequest,
  nodeName: string,
  policy: Policy,
  context: RunContext = DEFAULT_RUN_CONTEXT,
): Result<Allocation, NodeFit> {
  const node = state.internalNode(nodeName);
  if (!node) return err({ node: nodeName, outcome: 'unresolvable', reasons: [{ kind: 'UnknownNode', node: nodeName }] });
  const { fit, fitting } = fitNode(node, prepare(request, policy, context, state.migPlanner, true));
  if (fitting === null) return err(fit);
  const allocation = allocationOf(state, request, fitting.placement());
  return allocation.ok ? allocation : err({ node: nodeName, outcome: 'error', reasons: [allocation.error] });
}
