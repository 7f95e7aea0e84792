/**
 * Tessera's default policy on fractional-share (HAMi-core) GPUs: FGD's gradient search over a fragment measure
 * that also sees the CPU. FGD counts a GPU's left as usable by a typical request t whenever the node has t.cpu
 * CPU left, even when the CPU left can serve far fewer copies of t than there are GPUs with room: that GPU
 * capacity is stranded (on openb, a third of the GPU left idle at 130% load sits on nodes with < 4 cores left).
 *
 *   frag_t = Σ left of GPUs with left < t.milli  +  STRANDED_WEIGHT × stranded_t       when t can run here
 *   frag_t = all GPU left                                                              otherwise
 *   stranded_t = the smallest lefts among GPUs with room beyond the floor(cpuLeft / t.cpu) × t.gpus the CPU reaches
 *
 * Stranded capacity weighs 1/8: CPU frees up as pods finish and typical CPU is an estimate, so the term nudges the
 * gradient rather than rules it (measured on seeds 0-3 of the four openb traces: 1/2 loses to FGD on multigpu50,
 * 1/4 ties on gpushare40, 1/8 and 1/10 win on all four; see docs/policy.md). Score, GPU choice and rank tie-break
 * are FGD's.
 */
import type { DeviceOption } from '../core/view.js';
import { gradientPlacement, memoizedFragment } from './fgd.js';
import { firstBy } from './gpu-choice.js';
import { MAX_NODE_SCORE, toNodeScore, type Policy } from './policy.js';
import { modelAllowed, totalLeft, type ShareNodeView, type SharePolicy, type ShareRunContext, type TypicalShape } from './frag.js';

export const STRANDED_WEIGHT = 0.125;

/** `scratch` (at least one slot per GPU) lets a caller in a hot loop spare the allocation. */
export function reachFragmentation(node: ShareNodeView, typical: readonly TypicalShape[], scratch?: Float64Array): number {
  const all = totalLeft(node.gpuLeft);
  const count = node.gpuLeft.length;
  // Rooms of the GPUs with space for t, reused across t.
  const roomy = scratch && scratch.length >= count ? scratch : new Float64Array(count);
  let frag = 0;
  for (const t of typical) {
    if (t.gpus === 0 || t.milli === 0 || node.cpuLeft < t.cpu || !modelAllowed(node, t)) {
      frag += t.freq * all;
      continue;
    }
    let rooms = 0;
    let unusable = 0;
    for (let i = 0; i < count; i++) {
      const left = node.gpuLeft[i] ?? 0;
      if (left >= t.milli) roomy[rooms++] = left;
      else unusable += left;
    }
    if (rooms < t.gpus) {
      frag += t.freq * all;
      continue;
    }
    const reachable = t.cpu > 0 ? Math.floor(node.cpuLeft / t.cpu) * t.gpus : rooms;
    let stranded = 0;
    if (reachable < rooms) {
      sortPrefix(roomy, rooms);
      for (let i = 0; i < rooms - reachable; i++) stranded += roomy[i] ?? 0;
    }
    frag += t.freq * (unusable + STRANDED_WEIGHT * stranded);
  }
  return frag;
}

export function createTesseraSharePolicy(context: ShareRunContext): SharePolicy {
  let scratch = new Float64Array(8);
  const fragment = memoizedFragment((n) => {
    if (scratch.length < n.gpuLeft.length) scratch = new Float64Array(n.gpuLeft.length);
    return reachFragmentation(n, context.typical, scratch);
  });
  return { name: 'tessera', place: (node, pod) => gradientPlacement(node, pod, fragment) };
}

/**
 * Tessera on the allocator's node views (MIG and HAMi-core nodes alike). GPU choice: on MIG GPUs, a GPU that
 * already runs instances before an idle one (idle GPUs stay whole for the largest profiles), then the fewest MIG
 * changes, then the planner's order (most future capacity kept); on HAMi-core GPUs, the fullest GPU that fits
 * (what the fragment gradient picks when the typical mix is unknown). Node score: first whether the pod runs
 * on the node as its MIG layouts stand (a free instance reused, HAMi-core shares), because every layout change is
 * a mig-parted run on the node; then how full the node's GPUs are after placement, so work gathers and whole
 * GPUs and nodes stay free:
 *
 *   score = MAX/2 × [no MIG layout change] + MAX/2 × (used memory + added memory) / GPU memory     (truncated)
 *
 * On bench/fixtures/mig the first term cuts reconfigurations by 37% and places a few more pods (docs/policy.md).
 */
export const tesseraPolicy: Policy = {
  name: 'tessera',
  chooseDevice(input) {
    const busy = (o: DeviceOption): number => ((input.node.gpus[o.gpu]?.usedSlots ?? 0) > 0 ? 0 : 1);
    const changes = (o: DeviceOption): number => o.mig?.plan.length ?? 0;
    const left = (o: DeviceOption): number => {
      const gpu = input.node.gpus[o.gpu];
      return gpu ? gpu.memoryMiB - gpu.usedMemoryMiB - o.memoryMiB : 0;
    };
    return firstBy(input.options, (a, b) => (a.mig || b.mig ? busy(a) - busy(b) || changes(a) - changes(b) : left(a) - left(b)));
  },
  scoreNode(input) {
    const { gpuCapacity: capacity, gpuUsed: used } = input.node;
    if (capacity.memoryMiB === 0) return 0;
    const fullness = (used.memoryMiB + input.added.memoryMiB) / capacity.memoryMiB;
    return toNodeScore((MAX_NODE_SCORE / 2) * ((input.node.mode !== 'mig' || input.placement.migLayoutChanges === 0 ? 1 : 0) + fullness));
  },
};

/** Sorts the first `n` values ascending in place: insertion sort, as a node has a handful of GPUs. */
function sortPrefix(values: Float64Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const v = values[i] ?? 0;
    let j = i - 1;
    while (j >= 0 && (values[j] ?? 0) > v) {
      values[j + 1] = values[j] ?? 0;
      j--;
    }
    values[j + 1] = v;
  }
}
