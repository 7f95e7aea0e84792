/**
 * Node-level binpack or spread over GPU memory, CPU and memory (the pod's `hami.io/node-scheduler-policy`, else
 * the cluster default):
 *
 *   use = mean over { GPU memory, CPU, memory } with capacity > 0 of (used + requested) / capacity
 *   binpack: score = MAX x use          spread: score = MAX x (1 - use)          (truncated to an integer)
 *
 * GPU choice: GPU-level binpack or spread (`gpu-choice.ts`).
 */
import { chooseByPacking } from './gpu-choice.js';
import { MAX_NODE_SCORE, toNodeScore, type Policy } from '../core/index.js';

export const packingPolicy: Policy = {
  name: 'packing',
  chooseDevice: chooseByPacking,
  scoreNode({ node, request, added, direction }) {
    const terms: [number, number][] = [
      [node.gpuUsed.memoryMiB + added.memoryMiB, node.gpuCapacity.memoryMiB],
      [node.cpuUsedMilli + request.cpuMilli, node.cpuMilli],
      [node.memoryUsedMiB + request.memoryMiB, node.memoryMiB],
    ];
    const counted = terms.filter(([, capacity]) => capacity > 0);
    const use = counted.length > 0 ? counted.reduce((sum, [used, capacity]) => sum + used / capacity, 0) / counted.length : 0;
    return toNodeScore(MAX_NODE_SCORE * (direction === 'binpack' ? use : 1 - use));
  },
};
