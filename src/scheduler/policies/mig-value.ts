/**
 * How much Tessera wants one MIG option for one vGPU, in [0, 1], in three bands:
 *
 *   a free instance at most OVERSIZE × the asked memory        2/3 + (spared + fit)/6   (no layout change, little waste)
 *   a layout change (create, or destroy free instances)        1/3 + (spared + fit)/6
 *   a free instance larger than that                           (spared + fit)/6         (no change, most of it wasted)
 *
 * where fit = asked / instance memory and spared = 1 - the share of the GPU's capacity for future demand that the
 * option takes away (the planner's estimate). Every layout change is a mig-parted run on the node, so a
 * well-fitting free instance anywhere beats any change; within a band, the option that costs the workload least
 * wins: on a GPU whose free room already suits little else rather than on an empty one (so GPUs fill up and whole
 * ones stay free for large pods), and the free instance whose loss matters least. An instance more than twice the
 * request would hold idle memory for the pod's whole life, so a change that gives the pod a fitting instance beats
 * it: 2x measured best of 1.2x, 1.5x, 2x and 8x on the tuned-on MIG trace families (src/simulator/trace/families.ts;
 * docs/policy.md, which also lists what else was tried).
 */
import type { MigOption } from '../core/index.js';
import type { GpuDemand } from '../../request/index.js';

/** A free instance up to this many times the asked memory counts as well fitting. */
export const OVERSIZE = 2;
/** The lower bound of the well-fitting band (where HAMi-core shares rank too: they change no layout). */
export const WELL_FITTING = 2 / 3;

export function migOptionValue(option: MigOption, askedMiB: number): number {
  const fit = askedMiB > 0 ? Math.min(1, askedMiB / option.memoryMiB) : 1;
  const spared = 1 - option.lostCapacity;
  if (option.plan.length > 0) return 1 / 3 + (spared + fit) / 6;
  return fit * OVERSIZE >= 1 ? WELL_FITTING + (spared + fit) / 6 : (spared + fit) / 6;
}

/** Memory one vGPU asks for, MiB; 0 (fits anything) when it asks for a percentage or no memory. */
export function askedPerVgpuMiB(demand: GpuDemand | null): number {
  return demand && 'mib' in demand.memory ? demand.memory.mib : 0;
}
