/**
 * The one decision entry point the extender and the simulator share: `schedule` filters, scores and ranks the
 * nodes (`eachFit` visits them unranked), `decide` turns the placement on a chosen node into an `Allocation`.
 * None changes the state: the caller applies the allocation (`ClusterState.apply`) once it commits to it.
 */
import { err, ok, type Result } from '../../errors.js';
import { DEFAULT_RUN_CONTEXT, type CpuSpan, type Policy, type RunContext, type ScoreInput } from './policy.js';
import { fitNode, placementOn, prepare, type PreparedRequest } from './fit.js';
import type { ClusterState, NodeState } from './state.js';
import type { GpuTotals, NodePlacement } from './view.js';
import type { Allocation, NodeFit } from './types.js';
import type { PackingDirection, PodRequest, Reason } from '../../request/index.js';

export interface ScheduleOptions {
  /** Only these nodes (the extender's candidate list); unknown names fail with `UnknownNode`. Default: all. */
  readonly candidates?: readonly string[];
  readonly context?: RunContext;
  /** Keep only the best `limit` ranked nodes (the simulator needs one). Default: all. */
  readonly limit?: number;
  /** Record why each failed node failed (default true; without it `failed` stays empty and makes no garbage). */
  readonly explain?: boolean;
}

/** What `eachFit` reads: the candidates and the context (it neither ranks nor limits, and hands failures on). */
export type FitOptions = Pick<ScheduleOptions, 'candidates' | 'context'>;

/** Receives each node that failed, with why. */
type OnFail = (fit: NodeFit) => void;

export interface RankedNode {
  readonly node: string;
  /** The node's ordinal in its ClusterState (NodeView.ordinal). */
  readonly ordinal: number;
  /** The node's version when it was ranked (`NodeView.version`): a caller keeping the score knows when it went stale. */
  readonly version: number;
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

/** The placement of a fitting node whose devices `fitNode` did not have to choose: chosen now, and kept. */
const chooseNow = (state: NodeState, prepared: PreparedRequest): NodePlacement => placementOn(state, prepared, { placement: null }, true);

/** One fitting node, with its score and what `fitNode` found there. */
type OnFit = (node: NodeState, score: number, chosen: Chosen, prepared: PreparedRequest) => void;

/** A fitting node whose devices are chosen when first read. */
const UNCHOSEN: Chosen = { placement: null };

/** Checks every candidate node, scores each that fits, and hands each failed one to `onFail` when given. */
function scan(state: ClusterState, request: PodRequest, policy: Policy, options: FitOptions, onFit: OnFit, onFail: OnFail | undefined): void {
  const context = options.context ?? DEFAULT_RUN_CONTEXT;
  const prepared = prepare(state, request, policy, context);
  const input = new NodeScoreInput(prepared, request.nodePolicy ?? context.nodePolicy);
  // Only a scan reads kept scores (none for a request seen once): `decide` never asks for them.
  const scores = state.scoreColumn(prepared.scoreKey);
  const cpu = request.cpuMilli;
  const span: CpuSpan = { above: -Infinity, upTo: Infinity };
  const visit = (node: NodeState): void => {
    // A node unchanged since a decision for this GPU shape keeps its score, and a score is kept only for a node
    // whose GPUs took the shape: with the pod's own CPU and memory checked, most decisions score few nodes anew.
    if (scores !== undefined && hostFits(node, request)) {
      const kept = scores.find(node, cpu);
      if (!Number.isNaN(kept)) return onFit(node, kept, UNCHOSEN, prepared);
    }
    const verdict = fitNode(node, prepared);
    if ('reason' in verdict) {
      onFail?.(verdict.fit);
      return;
    }
    span.above = -Infinity;
    span.upTo = Infinity;
    const score = policy.scoreNode(input.at(node, verdict), span);
    scores?.keep(node, span, score);
    onFit(node, score, input.chosen ?? verdict, prepared);
  };
  if (options.candidates) {
    for (const name of options.candidates) {
      const node = state.internalNode(name);
      if (node) visit(node);
      else onFail?.({ node: name, outcome: 'unresolvable', reasons: [{ kind: 'UnknownNode', node: name }] });
    }
  } else {
    for (const node of state.internalNodes()) visit(node);
  }
}

/** Whether the node has the CPU and memory the pod asks (what a kept score does not say). */
const hostFits = (node: NodeState, request: PodRequest): boolean => request.cpuMilli <= node.cpuMilli - node.cpuUsedMilli && request.memoryMiB <= node.memoryMiB - node.memoryUsedMiB;

/** Filters every candidate node, scores those that fit, and ranks them. */
export function schedule(state: ClusterState, request: PodRequest, policy: Policy, options: ScheduleOptions = {}): ScheduleResult {
  const limit = options.limit ?? Infinity;
  const rankOf = options.context?.nodeRank;
  const byName = state.nameOrder();
  const ranked: Entry[] = [];
  const failed: NodeFit[] = [];
  const onFail = (options.explain ?? true) ? (fit: NodeFit): void => void failed.push(fit) : undefined;
  scan(
    state,
    request,
    policy,
    options,
    (node, score, fits, prepared) => {
      const rank = rankOf?.(node.name) ?? Number.MAX_SAFE_INTEGER;
      if (ranked.length >= limit) {
        // Full: keep the best `limit`, sorted (insertion into a short list); most nodes stop here, allocating nothing.
        const worst = ranked[ranked.length - 1] as Entry;
        if (compareRanked(score, rank, byName[node.ordinal] ?? 0, worst.score, worst.rank, worst.nameRank) >= 0) return;
      }
      const entry = new Entry(node, score, rank, byName[node.ordinal] ?? 0, prepared, fits);
      if (ranked.length < limit) {
        ranked.push(entry);
        if (ranked.length === limit) ranked.sort(better);
        return;
      }
      let at = ranked.length - 1;
      while (at > 0 && better(entry, ranked[at - 1] as Entry) < 0) at--;
      ranked.splice(at, 0, entry);
      ranked.pop();
    },
    onFail,
  );
  if (ranked.length < limit) ranked.sort(better);
  return { ranked, failed };
}

/**
 * Visits every fitting node in candidate order, scored, keeping nothing: for a caller that needs the set and the
 * scores but no ranking (the extender's filter: kube-scheduler ranks). Sorting 10,000 nodes was half of an
 * all-nodes decision, and one ranked entry per node was half of a 5,000-node filter's garbage. `fit` is one
 * object re-aimed at each node: read it during the call only. Each failed node goes to `failed`, when given, with
 * why (no list is kept: at 10,000 nodes its growth was most of a decision's garbage).
 */
export function eachFit(state: ClusterState, request: PodRequest, policy: Policy, options: FitOptions, fit: (node: RankedNode) => void, failed?: OnFail): void {
  const cursor = new FitCursor();
  scan(state, request, policy, options, (node, score, fits, prepared) => fit(cursor.at(node, score, fits, prepared)), failed);
}

/**
 * The best of the nodes offered, in the order `schedule` ranks them: for a caller that visits with `eachFit` and
 * drops some nodes on its own (the extender's filter answers kube-scheduler with this one node).
 */
export class BestNode {
  private readonly nodeRank: ((node: string) => number | undefined) | undefined;
  private readonly byName: readonly number[];
  private best: { node: string; score: number; rank: number; nameRank: number } | undefined;

  constructor(state: ClusterState, context: RunContext | undefined) {
    this.nodeRank = context?.nodeRank;
    this.byName = state.nameOrder();
  }

  /** Whether `ranked` would be the best so far: a caller with a costlier check of its own makes it only then. */
  beats(ranked: RankedNode): boolean {
    const best = this.best;
    return !best || compareRanked(ranked.score, this.rankOf(ranked), this.nameRankOf(ranked), best.score, best.rank, best.nameRank) < 0;
  }

  offer(ranked: RankedNode): void {
    const rank = this.rankOf(ranked);
    const nameRank = this.nameRankOf(ranked);
    const best = this.best;
    if (best && compareRanked(ranked.score, rank, nameRank, best.score, best.rank, best.nameRank) >= 0) return;
    this.best = { node: ranked.node, score: ranked.score, rank, nameRank };
  }

  private rankOf(ranked: RankedNode): number {
    return this.nodeRank?.(ranked.node) ?? Number.MAX_SAFE_INTEGER;
  }

  private nameRankOf(ranked: RankedNode): number {
    return this.byName[ranked.ordinal] ?? Number.MAX_SAFE_INTEGER;
  }

  /** The best node offered so far, if any. */
  get node(): string | undefined {
    return this.best?.node;
  }
}

/** Highest score first, then the lowest rank, then the name (by its place in name order: numbers compare faster). */
function compareRanked(scoreA: number, rankA: number, nameA: number, scoreB: number, rankB: number, nameB: number): number {
  return scoreB - scoreA || rankA - rankB || nameA - nameB;
}

const better = (a: Entry, b: Entry): number => compareRanked(a.score, a.rank, a.nameRank, b.score, b.rank, b.nameRank);

type Fits = { readonly added: GpuTotals; readonly placement: NodePlacement | null };

/** What a fitting node's visit passes on: its devices when already chosen. */
type Chosen = { readonly placement: NodePlacement | null };

/** A ranked node; its placement is chosen on first read (a class with a prototype getter: no closure per node). */
class Entry implements RankedNode {
  readonly node: string;
  readonly ordinal: number;
  readonly version: number;
  private chosen: NodePlacement | null;

  constructor(
    private readonly state: NodeState,
    readonly score: number,
    readonly rank: number,
    /** Place of the node's name in name order. */
    readonly nameRank: number,
    private readonly prepared: PreparedRequest,
    fits: Chosen,
  ) {
    this.node = state.name;
    this.ordinal = state.ordinal;
    this.version = state.version;
    this.chosen = fits.placement;
  }

  get placement(): NodePlacement {
    return (this.chosen ??= chooseNow(this.state, this.prepared));
  }
}

/** `eachFit`'s view of the node it visits; the placement is chosen only if read, as for a ranked entry. */
class FitCursor implements RankedNode {
  node = '';
  ordinal = 0;
  version = 0;
  score = 0;
  private state!: NodeState;
  private prepared!: PreparedRequest;
  private chosen: NodePlacement | null = null;

  at(state: NodeState, score: number, fits: Chosen, prepared: PreparedRequest): this {
    this.node = state.name;
    this.ordinal = state.ordinal;
    this.version = state.version;
    this.score = score;
    this.state = state;
    this.prepared = prepared;
    this.chosen = fits.placement;
    return this;
  }

  get placement(): NodePlacement {
    return (this.chosen ??= chooseNow(this.state, this.prepared));
  }
}

/**
 * The policy's view of one fitting node, one object per decision re-aimed at each node (policies must not keep
 * it); the placement is chosen only if the policy reads it, and then kept for the node's ranked entry.
 */
class NodeScoreInput implements ScoreInput {
  readonly request: PodRequest;
  readonly context: RunContext;
  node!: NodeState;
  added: GpuTotals = { slots: 0, cores: 0, memoryMiB: 0 };
  /** The node's placement once the policy has read it. */
  chosen: { readonly added: GpuTotals; readonly placement: NodePlacement } | null = null;
  private fits!: Fits;

  constructor(
    private readonly prepared: PreparedRequest,
    readonly direction: PackingDirection,
  ) {
    this.request = prepared.request;
    this.context = prepared.context;
  }

  at(node: NodeState, fits: Fits): this {
    this.node = node;
    this.added = fits.added;
    this.fits = fits;
    this.chosen = null;
    return this;
  }

  get placement(): NodePlacement {
    if (!this.chosen) {
      // A verdict that already chose its devices serves as it is: no object per node per decision.
      const fits = this.fits;
      this.chosen = fits.placement ? (fits as { readonly added: GpuTotals; readonly placement: NodePlacement }) : { added: this.added, placement: placementOn(this.node, this.prepared, fits, true) };
    }
    return this.chosen.placement;
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
export function decide(state: ClusterState, request: PodRequest, nodeName: string, policy: Policy, context: RunContext = DEFAULT_RUN_CONTEXT): Result<Allocation, NodeFit> {
  const node = state.internalNode(nodeName);
  if (!node) return err({ node: nodeName, outcome: 'unresolvable', reasons: [{ kind: 'UnknownNode', node: nodeName }] });
  const prepared = prepare(state, request, policy, context);
  const verdict = fitNode(node, prepared);
  if ('reason' in verdict) return err(verdict.fit);
  const allocation = allocationOf(state, request, placementOn(node, prepared, verdict));
  return allocation.ok ? allocation : err({ node: nodeName, outcome: 'error', reasons: [allocation.error] });
}
