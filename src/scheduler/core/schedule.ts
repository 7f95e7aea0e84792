/**
 * The one decision entry point the extender and the simulator share: `schedule` filters and scores the nodes,
 * `decide` turns the placement on a chosen node into an `Allocation`. Neither changes the state: the caller applies
 * the allocation (`ClusterState.apply`) once it commits to it.
 */
import { err, ok, type Result } from '../../errors.js';
import { DEFAULT_RUN_CONTEXT, type Policy, type RunContext } from '../policies/policy.js';
import { fitNode, type FitInputs } from './fit.js';
import type { ClusterState, NodeState } from './state.js';
import type { NodePlacement } from './view.js';
import type { Allocation, NodeFit, PodRequest, Reason } from './types.js';

export interface ScheduleOptions {
  /** Only these nodes (the extender's candidate list); unknown names fail with `UnknownNode`. Default: all. */
  readonly candidates?: readonly string[];
  readonly context?: RunContext;
  /** Keep only the best `limit` ranked nodes (the simulator needs one). Default: all. */
  readonly limit?: number;
  /** Record why each failed node failed (default true; the simulator skips it to save the garbage). */
  readonly explain?: boolean;
}

export interface RankedNode {
  readonly node: string;
  /** The policy's score in [0, MAX_NODE_SCORE]. */
  readonly score: number;
  readonly placement: NodePlacement;
}

export interface ScheduleResult {
  /** Best first: highest score, then lowest node rank, then name. */
  readonly ranked: readonly RankedNode[];
  readonly failed: readonly NodeFit[];
}

function inputsFor(state: ClusterState, request: PodRequest, policy: Policy, context: RunContext): FitInputs {
  return {
    request,
    policy,
    context,
    gpuDirection: request.gpuPolicy ?? context.gpuPolicy,
    planner: state.migPlanner,
  };
}

/** Filters every candidate node, scores those that fit, and ranks them. */
export function schedule(state: ClusterState, request: PodRequest, policy: Policy, options: ScheduleOptions = {}): ScheduleResult {
  const context = options.context ?? DEFAULT_RUN_CONTEXT;
  const inputs = inputsFor(state, request, policy, context);
  const direction = request.nodePolicy ?? context.nodePolicy;
  const explain = options.explain ?? true;
  const limit = options.limit ?? Infinity;
  const rankOf = (node: string): number => context.nodeRank?.(node) ?? Number.MAX_SAFE_INTEGER;
  const better = (a: RankedNode, b: RankedNode): number => b.score - a.score || rankOf(a.node) - rankOf(b.node) || (a.node < b.node ? -1 : a.node > b.node ? 1 : 0);

  const ranked: RankedNode[] = [];
  const failed: NodeFit[] = [];
  const visit = (node: NodeState): void => {
    const { fit, placement } = fitNode(node, inputs);
    if (placement === null) {
      if (explain) failed.push(fit);
      return;
    }
    const entry = { node: node.name, score: policy.scoreNode({ node, request, placement, direction, context }), placement };
    if (ranked.length < limit) {
      ranked.push(entry);
      if (ranked.length === limit) ranked.sort(better);
      return;
    }
    // Full: keep the best `limit`, sorted (insertion into a short list).
    const worst = ranked[ranked.length - 1] as RankedNode;
    if (better(entry, worst) >= 0) return;
    let at = ranked.length - 1;
    while (at > 0 && better(entry, ranked[at - 1] as RankedNode) < 0) at--;
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

/** The allocation a placement stands for (plain data, ready for `ClusterState.apply` and the annotations). */
export function allocationOf(state: ClusterState, request: PodRequest, placement: NodePlacement): Result<Allocation, Reason> {
  const node = state.internalNode(placement.node);
  if (!node) return err({ kind: 'UnknownNode', node: placement.node });
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
  const { fit, placement } = fitNode(node, inputsFor(state, request, policy, context));
  if (placement === null) return err(fit);
  const allocation = allocationOf(state, request, placement);
  return allocation.ok ? allocation : err({ node: nodeName, outcome: 'error', reasons: [allocation.error] });
}
