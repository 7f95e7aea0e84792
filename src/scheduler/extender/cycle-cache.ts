/**
 * Per-pod work kept between filter and prioritize (kube-scheduler's PreFilter state): the parsed request and each
 * fitting node's score with the node version it was computed at. Prioritize reuses a score while the node's
 * version is unchanged and recomputes only nodes that changed (binds of other pods land in between).
 */
import { LRUMap } from 'mnemonist';
import type { PodRequest } from '../core/index.js';

export interface CycleEntry {
  request: PodRequest;
  /** node -> score on the policy's scale, and the node version it was computed at. */
  scores: Map<string, { version: number; score: number }>;
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
