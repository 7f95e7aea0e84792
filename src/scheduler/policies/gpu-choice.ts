/**
 * GPU-level choice shared by the packing policies: which device of the node takes the next vGPU.
 *
 *   binpack: the GPU already most used, spread: the least used, where
 *   use(gpu) = MAX x (usedMemory / memory + usedCores / coreUnits) / 2     (before this pod's picks)
 *
 * then, for MIG, the option that changes the least (fewest plan ops, then least memory: the smallest instance that
 * holds the request); ties go to the lowest GPU position and the lowest placement start, so the choice is stable.
 */
import type { DeviceOption, GpuView } from '../core/index.js';
import { MAX_NODE_SCORE, type ChooseInput } from '../core/index.js';

/** How used one GPU is, in [0, MAX_NODE_SCORE] (memory and cores weighted equally). */
export function gpuUse(gpu: GpuView): number {
  const memory = gpu.memoryMiB > 0 ? gpu.usedMemoryMiB / gpu.memoryMiB : 1;
  const cores = gpu.coreUnits > 0 ? gpu.usedCores / gpu.coreUnits : 1;
  return (MAX_NODE_SCORE * (memory + cores)) / 2;
}

const planSize = (o: DeviceOption): number => o.mig?.plan.length ?? 0;

/** Index of the option that `compare` ranks first (negative: a before b); the earliest wins ties. */
export function firstBy(options: readonly DeviceOption[], compare: (a: DeviceOption, b: DeviceOption) => number): number {
  let best = 0;
  for (let i = 1; i < options.length; i++) if (compare(options[i] as DeviceOption, options[best] as DeviceOption) < 0) best = i;
  return best;
}

/** Least change first, then the smallest instance: what every MIG choice prefers after its own criterion. */
export const leastChange = (a: DeviceOption, b: DeviceOption): number => planSize(a) - planSize(b) || a.memoryMiB - b.memoryMiB;

/** The GPU-level binpack or spread choice described above. */
export function chooseByPacking(input: ChooseInput): number {
  const sign = input.direction === 'binpack' ? -1 : 1;
  const use = (o: DeviceOption): number => gpuUse(input.node.gpus[o.gpu] as GpuView);
  return firstBy(input.options, (a, b) => sign * (use(a) - use(b)) || leastChange(a, b) || a.gpu - b.gpu);
}
