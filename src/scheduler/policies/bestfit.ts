/**
 * Best fit: the placement that leaves the least GPU memory free on the GPUs it uses.
 *
 *   score = MAX x (1 - free memory left on the chosen GPUs / memory of the chosen GPUs)    (pod counted as placed)
 *   CPU-only pods: score = MAX x (CPU used + requested) / CPU allocatable
 *
 * GPU choice: the tightest GPU, the one with the least memory left after the vGPU, then the least cores left,
 * then (MIG) the least change, then the lowest position.
 */
import type { DeviceOption, GpuView } from '../core/index.js';
import { firstBy, leastChange } from './gpu-choice.js';
import { MAX_NODE_SCORE, toNodeScore, type Policy } from '../core/index.js';

export const bestfitPolicy: Policy = {
  name: 'bestfit',
  chooseDevice(input) {
    const gpuOf = (o: DeviceOption): GpuView => input.node.gpus[o.gpu] as GpuView;
    const memoryLeft = (o: DeviceOption): number => gpuOf(o).memoryMiB - gpuOf(o).usedMemoryMiB - o.memoryMiB;
    const coresLeft = (o: DeviceOption): number => gpuOf(o).coreUnits - gpuOf(o).usedCores - o.cores;
    return firstBy(input.options, (a, b) => memoryLeft(a) - memoryLeft(b) || coresLeft(a) - coresLeft(b) || leastChange(a, b) || a.gpu - b.gpu);
  },
  scoreNode({ node, request, placement }) {
    const picks = placement.containers.flat();
    if (picks.length === 0) {
      return node.cpuMilli > 0 ? toNodeScore((MAX_NODE_SCORE * (node.cpuUsedMilli + request.cpuMilli)) / node.cpuMilli) : 0;
    }
    let capacity = 0;
    let used = 0;
    for (const gpu of new Set(picks.map((o) => o.gpu))) {
      const view = node.gpus[gpu] as GpuView;
      capacity += view.memoryMiB;
      used += view.usedMemoryMiB;
    }
    used += picks.reduce((sum, o) => sum + o.memoryMiB, 0);
    return toNodeScore(capacity > 0 ? (MAX_NODE_SCORE * used) / capacity : 0);
  },
};
