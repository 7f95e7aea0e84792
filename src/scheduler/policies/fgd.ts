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
 *
 * The allocator runs FGD through gradient.ts; the published search here is what it is tested against.
 */
import { isSharedRequest, nodeAfter, nodeFragmentation, tightestGpus, type ShareNodeView, type SharePlacement, type ShareShape, type TypicalShape } from './frag.js';

export const FGD_MAX_SCORE = 100;
/** Milli-GPU of fragment change that moves the sigmoid by one unit of its argument. */
const FRAGMENT_SCALE = 1000;

const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** The integer FGD score of going from fragment `before` to `after`. */
export function fgdScoreOf(before: number, after: number): number {
  return Math.trunc(sigmoid((before - after) / FRAGMENT_SCALE) * FGD_MAX_SCORE);
}

/**
 * The published search, for any fragment measure: a shared request tries each GPU with room (equal lefts score
 * alike, so each value once, at its first index, which is the published choice among equal scores) and keeps
 * the first best integer score; other requests take the fullest GPUs with room.
 */
export function gradientPlacement(node: ShareNodeView, pod: ShareShape, fragment: (node: ShareNodeView) => number): SharePlacement | null {
  const before = fragment(node);
  if (!isSharedRequest(pod)) {
    const gpus = tightestGpus(node.gpuLeft, pod.milli, pod.gpus);
    if (gpus.length < pod.gpus) return null;
    return { score: fgdScoreOf(before, fragment(nodeAfter(node, pod, gpus))), gpus };
  }
  // One scratch copy of the node with the pod's CPU taken; each candidate GPU is taken and given back in turn.
  const gpuLeft = Array.from(node.gpuLeft);
  const after: ShareNodeView = { model: node.model, cpuLeft: node.cpuLeft - pod.cpu, gpuLeft, gpuTasks: node.gpuTasks };
  const tried = new Set<number>();
  let best: SharePlacement | null = null;
  for (let i = 0; i < gpuLeft.length; i++) {
    const left = gpuLeft[i] ?? 0;
    if (left < pod.milli || tried.has(left)) continue;
    tried.add(left);
    gpuLeft[i] = left - pod.milli;
    const score = fgdScoreOf(before, fragment(after));
    gpuLeft[i] = left;
    if (best === null || score > best.score) best = { score, gpus: [i] };
  }
  return best;
}

export function fgdPlacement(node: ShareNodeView, pod: ShareShape, typical: readonly TypicalShape[]): SharePlacement | null {
  return gradientPlacement(node, pod, (n) => nodeFragmentation(n, typical));
}
