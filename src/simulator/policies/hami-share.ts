/**
 * HAMi's own node score (hami.md "How it decides"; the allocator's `hamiRaw`) on the fractional-share model, as
 * the `hami` baseline of the openb replay. With cores and memory both proportional to milli-GPU and the pod
 * counted as placed, it comes to:
 *
 *   raw = 10 × ((tasks + gpus) / (10 × G) + 2 × (used + milli × gpus) / (1000 × G))      binpack: highest wins
 *
 * over the node's G GPUs. GPU choice: spread, the least used GPUs with room (use = used / 1000, as the allocator's
 * gpu-choice.ts weighs memory and cores), lowest index first.
 */
import { MILLI_PER_GPU, totalLeft, type ShareNodeView, type SharePolicy } from '../../scheduler/policies/frag.js';
import { hamiRaw } from '../../scheduler/policies/hami.js';

/** HAMi's default deviceSplitCount: task slots per GPU. */
const SPLIT_COUNT = 10;

export function createHamiSharePolicy(): SharePolicy {
  return {
    name: 'hami',
    place(node, pod) {
      const count = node.gpuLeft.length;
      if (count === 0) return { score: 0, gpus: [] };
      let tasks = 0;
      for (let g = 0; g < count; g++) tasks += node.gpuTasks[g] ?? 0;
      // Cores and memory are both the milli-GPU share here.
      const used = count * MILLI_PER_GPU - totalLeft(node.gpuLeft) + pod.milli * pod.gpus;
      const capacity = MILLI_PER_GPU * count;
      const raw = hamiRaw(tasks + pod.gpus, SPLIT_COUNT * count, used, capacity, used, capacity);
      return { score: raw, gpus: leastUsedGpus(node, pod.milli, pod.gpus) };
    },
  };
}

function leastUsedGpus(node: ShareNodeView, milli: number, gpus: number): number[] {
  const candidates: number[] = [];
  for (let g = 0; g < node.gpuLeft.length; g++) if ((node.gpuLeft[g] ?? 0) >= milli) candidates.push(g);
  candidates.sort((a, b) => (node.gpuLeft[b] ?? 0) - (node.gpuLeft[a] ?? 0) || a - b);
  return candidates.slice(0, gpus);
}
