/**
 * HAMi's own scoring (hami.md "How it decides") on the fractional-share model, as the `hami` baseline of the
 * openb replay. With cores and memory both proportional to milli-GPU:
 *
 *   node score = 10 × (tasks / (10 × GPUs) + 2 × used milli / (1000 × GPUs))      before placement; binpack: highest
 *
 * GPU choice: spread, the least used GPUs with room (usage = tasks / 10 + 2 × used / 1000), lowest index first.
 */
import { MILLI_PER_GPU, type ShareNodeView, type SharePolicy } from '../../scheduler/policies/frag.js';

/** HAMi's default deviceSplitCount: task slots per GPU. */
const SPLIT_COUNT = 10;

function gpuUsage(node: ShareNodeView, g: number): number {
  return (node.gpuTasks[g] ?? 0) / SPLIT_COUNT + (2 * (MILLI_PER_GPU - (node.gpuLeft[g] ?? 0))) / MILLI_PER_GPU;
}

export function createHamiSharePolicy(): SharePolicy {
  return {
    name: 'hami',
    place(node, pod) {
      const count = node.gpuLeft.length;
      let usage = 0;
      for (let g = 0; g < count; g++) usage += gpuUsage(node, g);
      const candidates: number[] = [];
      for (let g = 0; g < count; g++) if ((node.gpuLeft[g] ?? 0) >= pod.milli) candidates.push(g);
      candidates.sort((a, b) => gpuUsage(node, a) - gpuUsage(node, b) || a - b);
      return { score: count === 0 ? 0 : (10 * usage) / count, gpus: candidates.slice(0, pod.gpus) };
    },
  };
}
