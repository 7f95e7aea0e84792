/**
 * Per-pod work kept between filter and prioritize (kube-scheduler's PreFilter state): the parsed request and each
 * fitting node's score, with the node's version and the view's generation when it was computed. Prioritize reuses
 * every score when nothing changed in between, and otherwise recomputes only the nodes whose version moved (binds
 * of other pods land in between). Prioritize consumes the scores: bind needs only the request, and per-node arrays
 * kept for hundreds of pods would outlive the young generation (at 5,000 nodes each copy and promotion costs the
 * next request).
 */
import { LRUMap } from 'mnemonist';
import type { PodRequest } from '../../request/index.js';

export interface CycleEntry {
  request: PodRequest;
  /** The pod's annotations as kube-scheduler sent them (bind may come before the pod informer catches up). */
  annotations: Record<string, string> | undefined;
  /** The per-node work of filter, until prioritize consumes it. */
  scored: CycleScores | undefined;
}

export interface CycleScores {
  /** The cluster view's generation when the scores were computed. */
  generation: number;
  /** The nodes that fit, in filter's order; `versions` and `scores` are parallel to it (and may run longer). */
  nodes: string[];
  /** Typed arrays: their contents live outside the heap, so the collector never copies them. */
  versions: Float64Array;
  /** On the policy's 0..MAX_NODE_SCORE scale. */
  scores: Float64Array;
}

export class CycleCache {
  private readonly entries: LRUMap<string, CycleEntry>;

  /** `capacity` bounds memory: kube-scheduler works on one pod at a time, so a few hundred is plenty. */
  constructor(capacity = 512) {
    this.entries = new LRUMap(capacity);
  }

  get(podUid: string): CycleEntry | undefined {
    return this.entries.get(podUid);
  }

  set(podUid: string, entry: CycleEntry): void {
    this.entries.set(podUid, entry);
  }
}
