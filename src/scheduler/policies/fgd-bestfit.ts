/**
 * The FGD paper's BestFit baseline (fgd.md §4, `best_fit_score.go`), kept to check our openb protocol against the
 * published figure (93.08 on openb default). Named `fgd-bestfit` to keep it apart from the HAMi-style `bestfit`.
 *
 *   score = int(100 × (1 − [0.5 × (cpuLeft − cpu)/128000 + 0.5 × (gpuLeftTotal − milli × gpus)/8000]))
 *
 * over gradient.ts's projection (milli-GPU). The published min-max normalisation preserves order and is left
 * out. GPU choice: the fullest GPUs with room.
 */
import { toNodeScore, type Policy } from '../core/index.js';
import type { DeviceOption, GpuView } from '../core/index.js';
import { totalLeft } from './frag.js';
import { firstBy } from './gpu-choice.js';
import { milliOf } from './gradient.js';

/** The normalising capacities of the published formula: a 128-core, 8-GPU node. */
const CPU_SCALE = 128_000;
const GPU_SCALE = 8_000;

export const fgdBestFitPolicy: Policy = {
  name: 'fgd-bestfit',
  chooseDevice({ node, options }) {
    const left = (o: DeviceOption): number => (node.gpuLeft[o.gpu] ?? 0) - milliOf(node.gpus[o.gpu] as GpuView, o.memoryMiB, o.cores);
    return firstBy(options, (a, b) => left(a) - left(b) || a.gpu - b.gpu);
  },
  scoreNode({ node, request, placement }) {
    let taken = 0;
    for (const picks of placement.containers) for (const o of picks) taken += milliOf(node.gpus[o.gpu] as GpuView, o.memoryMiB, o.cores);
    const cpuSlack = (node.cpuLeft - request.cpuMilli) / CPU_SCALE;
    const gpuSlack = (totalLeft(node.gpuLeft) - taken) / GPU_SCALE;
    return toNodeScore(100 * (1 - (0.5 * cpuSlack + 0.5 * gpuSlack)));
  },
};
