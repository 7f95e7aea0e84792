/**
 * FGD's fragment gradient on the allocator's nodes, MIG and HAMi-core alike. Each GPU is projected onto FGD's one
 * dimension (`NodeView.gpuLeft`: the fraction of the GPU its scarcer resource, memory or cores, has left, in
 * milli-GPU; none on a GPU without a free slot), and a pick takes the fraction its memory or its cores take,
 * whichever is larger. The run's typical shapes (`RunContext.typical`) are in the same units.
 *
 *   score = int(sigmoid((F(node) − F(node with the pod)) / 1000) × 100)      F: the policy's fragment measure
 *
 * GPU choice, as published: a single shared vGPU tries every option and keeps the first with the best integer
 * score; anything else takes the tightest GPU (least left after the pick). Without typical shapes every node
 * scores alike (ties go to the node rank), as FGD does with an empty typical set.
 */
import type { NodeView, DeviceOption, GpuView } from '../core/view.js';
import { fgdScoreOf } from './fgd.js';
import { MILLI_PER_GPU, nodeFragmentation, type ShareNodeView, type TypicalShape } from './frag.js';
import { firstBy } from './gpu-choice.js';
import { toNodeScore, type ChooseInput, type Policy, type ScoreInput } from './policy.js';

/** `scratch` (at least a slot per GPU) lets a measure in the hot loop spare its own allocation. */
export type FragmentMeasure = (node: ShareNodeView, typical: readonly TypicalShape[], scratch?: Float64Array) => number;

/** Milli-GPU a pick of `memoryMiB` and `cores` takes of `gpu`: the larger of its memory and core fractions. */
export function milliOf(gpu: GpuView, memoryMiB: number, cores: number): number {
  const byMemory = gpu.memoryMiB > 0 ? Math.ceil((MILLI_PER_GPU * memoryMiB) / gpu.memoryMiB) : MILLI_PER_GPU;
  const byCores = gpu.coreUnits > 0 ? Math.ceil((MILLI_PER_GPU * cores) / gpu.coreUnits) : 0;
  return Math.max(byMemory, byCores);
}

/** FGD's measure is blind to tasks per GPU; the projection has none to give. */
const NO_TASKS: readonly number[] = [];

/** Scores and GPU choices by the gradient of `measure`, memoizing each node's fragment per version and mix. */
export function gradientScorer(measure: FragmentMeasure): {
  score(input: ScoreInput): number;
  choose(input: ChooseInput): number;
} {
  const memo = new WeakMap<NodeView, { version: number; typical: readonly TypicalShape[]; value: number }>();
  const before = (node: NodeView, typical: readonly TypicalShape[]): number => {
    const hit = memo.get(node);
    if (hit && hit.version === node.version && hit.typical === typical) return hit.value;
    const value = measure({ model: node.model, cpuLeft: node.cpuLeft, gpuLeft: node.gpuLeft, gpuTasks: NO_TASKS }, typical);
    memo.set(node, { version: node.version, typical, value });
    return value;
  };
  // Reused across calls (the allocator is single-threaded): every node scored per decision would allocate them.
  let gpuLeft = new Float64Array(8);
  let scratch = new Float64Array(8);
  /** The fragment of `node` after the picks of `placement` (or the one `pick`) and `cpu` milli of CPU are taken. */
  const after = (node: NodeView, typical: readonly TypicalShape[], picks: readonly (readonly DeviceOption[])[], cpu: number): number => {
    const count = node.gpuLeft.length;
    if (gpuLeft.length < count) {
      gpuLeft = new Float64Array(count);
      scratch = new Float64Array(count);
    }
    const left = gpuLeft.subarray(0, count);
    for (let i = 0; i < count; i++) left[i] = node.gpuLeft[i] ?? 0;
    for (const container of picks) {
      for (const o of container) {
        const gpu = node.gpus[o.gpu];
        if (gpu) left[o.gpu] = Math.max(0, (left[o.gpu] ?? 0) - milliOf(gpu, o.memoryMiB, o.cores));
      }
    }
    return measure({ model: node.model, cpuLeft: node.cpuLeft - cpu, gpuLeft: left, gpuTasks: NO_TASKS }, typical, scratch);
  };
  return {
    score({ node, request, placement, context }: ScoreInput): number {
      const typical = context.typical ?? [];
      return toNodeScore(fgdScoreOf(before(node, typical), after(node, typical, placement.containers, request.cpuMilli)));
    },
    choose(input: ChooseInput): number {
      const { node, options, request, context } = input;
      const typical = context.typical ?? [];
      const gpu = (o: DeviceOption): GpuView => node.gpus[o.gpu] as GpuView;
      const leftAfter = (o: DeviceOption): number => (node.gpuLeft[o.gpu] ?? 0) - milliOf(gpu(o), o.memoryMiB, o.cores);
      const demand = request.containers[input.container]?.gpu;
      const first = options[0];
      const shared = demand?.count === 1 && first !== undefined && milliOf(gpu(first), first.memoryMiB, first.cores) < MILLI_PER_GPU;
      if (!shared || typical.length === 0) return firstBy(options, (a, b) => leftAfter(a) - leftAfter(b) || a.gpu - b.gpu);
      const from = before(node, typical);
      let best = 0;
      let bestScore = -1;
      for (let i = 0; i < options.length; i++) {
        const score = fgdScoreOf(from, after(node, typical, [[options[i] as DeviceOption]], request.cpuMilli));
        if (score > bestScore) {
          best = i;
          bestScore = score;
        }
      }
      return best;
    },
  };
}

const fgd = gradientScorer(nodeFragmentation);

/** FGD (fgd.ts) as an allocator policy over the projection above. */
export const fgdPolicy: Policy = { name: 'fgd', needsTypical: true, chooseDevice: fgd.choose, scoreNode: fgd.score };
