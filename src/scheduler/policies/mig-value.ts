/**
 * How much Tessera wants one MIG option for one vGPU, in [0, 1], in three bands:
 *
 *   a free instance at most OVERSIZE × the asked memory        2/3 + fit/3     (no layout change, little waste)
 *   a layout change (create, or destroy free instances)        1/3 + (kept + fit)/6
 *   a free instance larger than that                           fit/3           (no change, but most of it wasted)
 *
 * where fit = asked / instance memory and kept = the planner's estimate of the capacity the GPU keeps for future
 * demand. Every layout change is a mig-parted run on the node, so a well-fitting free instance anywhere beats any
 * change; among changes, the one that leaves the GPU most useful to the workload wins (a 40 GB request takes
 * half an H100 and leaves room for small instances, rather than all of an A100). An instance more than twice the
 * request would hold idle memory for the pod's whole life, so a change that gives the pod a fitting instance beats
 * it: 2x measured best of 1.2x, 1.5x, 2x and 8x on the tuned-on MIG trace families (src/simulator/trace/families.ts;
 * docs/policy.md).
 */
import type { MigOption } from '../core/index.js';
import type { GpuDemand } from '../../request/index.js';

/** A free instance up to this many times the asked memory counts as well fitting. */
export const OVERSIZE = 2;
/** The lower bound of the well-fitting band (where HAMi-core shares rank too: they change no layout). */
export const WELL_FITTING = 2 / 3;

export function migOptionValue(option: MigOption, askedMiB: number): number {
  const fit = askedMiB > 0 ? Math.min(1, askedMiB / option.memoryMiB) : 1;
  if (option.plan.length > 0) return 1 / 3 + (option.keptCapacity + fit) / 6;
  return fit * OVERSIZE >= 1 ? WELL_FITTING + fit / 3 : fit / 3;
}

/** Memory one vGPU asks for, MiB; 0 (fits anything) when it asks for a percentage or no memory. */
export function askedPerVgpuMiB(demand: GpuDemand | null): number {
  return demand && 'mib' in demand.memory ? demand.memory.mib : 0;
}
