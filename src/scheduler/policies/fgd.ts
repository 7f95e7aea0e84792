/**
 * FGD, the fragmentation-gradient policy of "Beware of Fragmentation" (ATC '23), as published
 * (fgd.md §3, `pkg/simulator/plugin/fgd_score.go`).
 *
 *   score = int(sigmoid((F(S) - F(S')) / 1000) × 100)      in 0..100, truncated toward zero
 *
 * where F is the node's expected fragment against the run's typical requests (frag.ts) and S' the node after
 * placement. A shared request tries every GPU with room, in index order, and keeps the first that reaches the
 * best integer score; other requests take the fullest GPUs with room. The truncation is part of the policy: it
 * makes ties, which the simulator breaks by a fixed node rank, and that packing is worth ~0.9 points.
 */
import {
  isSharedRequest,
  nodeAfter,
  nodeFragmentation,
  tightestGpus,
  type ShareNodeView,
  type SharePlacement,
  type SharePolicy,
  type ShareRunContext,
  type ShareShape,
  type TypicalShape,
} from './frag.js';

export const FGD_MAX_SCORE = 100;
/** Milli-GPU of fragment change that moves the sigmoid by one unit of its argument. */
const FRAGMENT_SCALE = 1000;

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** The integer FGD score of going from fragment `before` to `after`. */
export function fgdScoreOf(before: number, after: number): number {
  return Math.trunc(sigmoid((before - after) / FRAGMENT_SCALE) * FGD_MAX_SCORE);
}

export function fgdPlacement(node: ShareNodeView, pod: ShareShape, typical: readonly TypicalShape[]): SharePlacement | null {
  const before = nodeFragmentation(node, typical);
  if (!isSharedRequest(pod)) {
    const gpus = tightestGpus(node.gpuLeft, pod.milli, pod.gpus);
    if (gpus.length < pod.gpus) return null;
    return { score: fgdScoreOf(before, nodeFragmentation(nodeAfter(node, pod, gpus), typical)), gpus };
  }
  // F depends only on the multiset of GPU lefts, so GPUs with equal left score alike: try each value once, at
  // its first index (the published choice among equal scores).
  const tried = new Set<number>();
  let best: SharePlacement | null = null;
  for (let i = 0; i < node.gpuLeft.length; i++) {
    const left = node.gpuLeft[i] ?? 0;
    if (left < pod.milli || tried.has(left)) continue;
    tried.add(left);
    const score = fgdScoreOf(before, nodeFragmentation(nodeAfter(node, pod, [i]), typical));
    if (best === null || score > best.score) best = { score, gpus: [i] };
  }
  return best;
}

export function createFgdPolicy(context: ShareRunContext): SharePolicy {
  return { name: 'fgd', place: (node, pod) => fgdPlacement(node, pod, context.typical) };
}
