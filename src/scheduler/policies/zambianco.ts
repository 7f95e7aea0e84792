/**
 * The MIG policy of Zambianco, Fasol and Doriguzzi-Corin, "An Online Fragmentation-Aware GPU Scheduler for
 * Multi-Tenant MIG-based Clouds" (arXiv 2511.18906, 2025), as a baseline: for each arriving workload, the GPU and
 * placement (over the whole cluster) whose fragmentation grows least (geometry/baselines.ts `zambiancoPlans`, which
 * says what was assumed of the metric). Node score and GPU choice both follow that growth, so they agree; equal
 * growth goes to a GPU already running instances (our assumption, for the paper's "about the same number of
 * GPUs"), then to the earliest. HAMi-core nodes rank as HAMi ranks them.
 */
import { zambiancoPlans } from '../../geometry/index.js';
import { clampScore, createGeometryPlanner, MAX_NODE_SCORE, type DeviceOption, type MigPlanner, type Policy } from '../core/index.js';
import { chooseByPacking } from './gpu-choice.js';
import { hamiPolicy } from './hami.js';

/** The paper's greedy per GPU; `keptCapacity` is (1 - fragmentation growth) / 2. */
export function zambiancoMigPlanner(): MigPlanner {
  return createGeometryPlanner({ choosePlans: (model, instances, memoryMiB) => zambiancoPlans(model, instances, { memoryMiB }) });
}

const value = (o: DeviceOption): number => o.mig?.keptCapacity ?? 0;

export const zambiancoPolicy: Policy = {
  name: 'zambianco',
  migPlanner: () => zambiancoMigPlanner(),
  chooseDevice(input) {
    if (!input.options[0]?.mig) return chooseByPacking(input);
    const busy = (x: DeviceOption): number => ((input.node.gpus[x.gpu]?.usedSlots ?? 0) > 0 ? 1 : 0);
    let best = 0;
    for (let i = 1; i < input.options.length; i++) {
      const o = input.options[i] as DeviceOption;
      const b = input.options[best] as DeviceOption;
      if (value(o) > value(b) || (value(o) === value(b) && busy(o) > busy(b))) best = i;
    }
    return best;
  },
  // HAMi's score on HAMi-core nodes and the kept capacity on MIG nodes: neither reads the pod's CPU.
  scoreCpu: 'steps',
  scoreNode(input, span) {
    if (input.node.allocation !== 'mig') return hamiPolicy.scoreNode(input, span);
    let least = 1;
    for (const picks of input.placement.containers) for (const pick of picks) if (pick.mig) least = Math.min(least, pick.mig.keptCapacity);
    return clampScore(MAX_NODE_SCORE * least);
  },
};
