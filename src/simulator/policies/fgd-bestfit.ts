/**
 * The FGD paper's BestFit baseline (fgd.md §4, `best_fit_score.go`), kept to check our protocol against the
 * published figure (93.08 on openb default). Named `fgd-bestfit` to keep it apart from the allocator's HAMi-style
 * bestfit.
 *
 *   score = int(100 × (1 − [0.5 × (cpuLeft − cpu)/128000 + 0.5 × (gpuLeftTotal − milli × gpus)/8000]))
 *
 * The published min-max normalisation preserves order and is left out. GPU choice: the fullest GPUs with room.
 */
import { tightestGpus, totalLeft, type SharePolicy } from '../../scheduler/policies/frag.js';

/** The normalising capacities of the published formula: a 128-core, 8-GPU node. */
const CPU_SCALE = 128_000;
const GPU_SCALE = 8_000;

export function createFgdBestFitPolicy(): SharePolicy {
  return {
    name: 'fgd-bestfit',
    place(node, pod) {
      const gpus = tightestGpus(node.gpuLeft, pod.milli, pod.gpus);
      const cpuSlack = (node.cpuLeft - pod.cpu) / CPU_SCALE;
      const gpuSlack = (totalLeft(node.gpuLeft) - pod.milli * pod.gpus) / GPU_SCALE;
      return { score: Math.trunc(100 * (1 - (0.5 * cpuSlack + 0.5 * gpuSlack))), gpus };
    },
  };
}
