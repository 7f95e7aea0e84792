/**
 * Fragmentation of a node's shared GPUs against a mix of typical requests, after the FGD paper
 * (fgd.md §2-§3, `pkg/utils/frag.go`). Pure arithmetic on plain data: milli-GPU integers, float64 sums.
 */
import { MILLI_PER_GPU } from '../core/index.js';
import type { ShareShape, TypicalShape } from '../core/index.js';

export type { ShareShape, TypicalShape };

/** A node as FGD's fragment measure sees it: CPU left and the milli-GPU left on each GPU (1000 = free). */
export interface ShareNodeView {
  readonly model: string;
  readonly cpuLeft: number;
  readonly gpuLeft: ArrayLike<number>;
  /** Requests running on each GPU. */
  readonly gpuTasks: ArrayLike<number>;
}

export { MILLI_PER_GPU };
/** Share of pods the typical set must cover (the published `podPopularityThreshold=95`). */
export const TYPICAL_COVERAGE = 0.95;

/** Whether the node's model is among the shape's allowed models (no list: any model). */
export function modelAllowed(node: ShareNodeView, shape: ShareShape): boolean {
  return shape.models.length === 0 || shape.models.includes(node.model);
}

export function totalLeft(gpuLeft: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < gpuLeft.length; i++) sum += gpuLeft[i] ?? 0;
  return sum;
}

/**
 * The typical set: identical shapes counted over `pods`, most frequent first (ties: shape tuple descending, as
 * the published Go sort does), taken until they cover `coverage` of pods or number `maxShapes`, frequencies
 * renormalised to sum to 1.
 */
export function typicalShapes(pods: readonly ShareShape[], coverage = TYPICAL_COVERAGE, maxShapes = Number.POSITIVE_INFINITY): TypicalShape[] {
  const counts = new Map<string, { shape: ShareShape; count: number }>();
  for (const pod of pods) {
    const key = `${pod.cpu},${pod.milli},${pod.gpus},${pod.models.join('|')}`;
    const entry = counts.get(key);
    if (entry) entry.count++;
    else counts.set(key, { shape: { cpu: pod.cpu, milli: pod.milli, gpus: pod.gpus, models: pod.models }, count: 1 });
  }
  const sorted = [...counts.values()].sort((a, b) => b.count - a.count || compareShapesDescending(a.shape, b.shape));
  const chosen: { shape: ShareShape; count: number }[] = [];
  let covered = 0;
  for (const entry of sorted) {
    if (covered >= coverage * pods.length || chosen.length >= maxShapes) break;
    chosen.push(entry);
    covered += entry.count;
  }
  return chosen.map(({ shape, count }) => ({ ...shape, freq: count / covered }));
}

function compareShapesDescending(a: ShareShape, b: ShareShape): number {
  const ka = a.models.join('|');
  const kb = b.models.join('|');
  return b.cpu - a.cpu || b.milli - a.milli || b.gpus - a.gpus || (ka < kb ? 1 : ka > kb ? -1 : 0);
}

/**
 * FGD's expected fragment of one node, in milli-GPU: Σ_t freq_t × frag_t where, with L = all milli left,
 *   frag_t = Σ left of GPUs with left < t.milli   if t can run here (model, CPU and t.gpus GPUs with t.milli left),
 *   frag_t = L                                      otherwise, and always for CPU-only t.
 * A GPU-less node has no fragment.
 */
export function nodeFragmentation(node: ShareNodeView, typical: readonly TypicalShape[]): number {
  const gpuLeft = node.gpuLeft;
  const all = totalLeft(gpuLeft);
  let frag = 0;
  for (const t of typical) {
    if (t.gpus === 0 || t.milli === 0 || node.cpuLeft < t.cpu || !modelAllowed(node, t)) {
      frag += t.freq * all;
      continue;
    }
    let roomy = 0;
    let unusable = 0;
    for (let i = 0; i < gpuLeft.length; i++) {
      const left = gpuLeft[i] ?? 0;
      if (left >= t.milli) roomy++;
      else unusable += left;
    }
    frag += t.freq * (roomy >= t.gpus ? unusable : all);
  }
  return frag;
}

/** Where a request goes on a node and how much the policy likes it (higher wins; ties go to the lower node rank). */
export interface SharePlacement {
  readonly score: number;
  /** GPU indices on the node, one per requested GPU; empty for CPU-only requests. */
  readonly gpus: readonly number[];
}

/**
 * The `gpus` GPUs with at least `milli` left, fullest first (ascending left, then index): the published
 * `nodeRes.Sub` and `best` GPU choice. Whole-GPU requests thus take the lowest-index free GPUs.
 */
export function tightestGpus(gpuLeft: ArrayLike<number>, milli: number, gpus: number): number[] {
  const candidates: number[] = [];
  for (let i = 0; i < gpuLeft.length; i++) if ((gpuLeft[i] ?? 0) >= milli) candidates.push(i);
  candidates.sort((a, b) => (gpuLeft[a] ?? 0) - (gpuLeft[b] ?? 0) || a - b);
  return candidates.slice(0, gpus);
}

/** A copy of the node with `pod` placed on `gpus`. */
export function nodeAfter(node: ShareNodeView, pod: ShareShape, gpus: readonly number[]): ShareNodeView {
  const gpuLeft = Array.from(node.gpuLeft);
  const gpuTasks = Array.from(node.gpuTasks);
  for (const g of gpus) {
    gpuLeft[g] = (gpuLeft[g] ?? 0) - pod.milli;
    gpuTasks[g] = (gpuTasks[g] ?? 0) + 1;
  }
  return { model: node.model, cpuLeft: node.cpuLeft - pod.cpu, gpuLeft, gpuTasks };
}

/** Whether the request is a fraction of a single GPU (the only kind whose GPU choice is open). */
export const isSharedRequest = (pod: ShareShape): boolean => pod.gpus === 1 && pod.milli < MILLI_PER_GPU;
