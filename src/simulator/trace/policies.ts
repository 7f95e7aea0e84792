/**
 * What `tessera simulate --cluster --trace` can replay with: a node policy from the allocator's table and a MIG
 * planner. The HAMi baselines pair HAMi's node formula with its v2.10 or v2.9 MIG rule.
 */
import { TesseraError } from '../../errors.js';
import { findProfile, type DemandMix, type GpuModel, type MigGeometry } from '../../geometry/index.js';
import { createGeometryPlanner, type MigPlanner } from '../../scheduler/core/index.js';
import { hamiV210MigPlanner, hamiV29MigPlanner, tesseraMigPlanner } from '../../scheduler/policies/frag-mig.js';
import { fgdPolicy } from '../../scheduler/policies/gradient.js';
import { hamiPolicy } from '../../scheduler/policies/hami.js';
import type { Policy } from '../../scheduler/policies/policy.js';
import { tesseraPolicy } from '../../scheduler/policies/tessera.js';

export interface TracePolicy {
  readonly policy: Policy;
  readonly planner: MigPlanner;
}

/**
 * HAMi's stock geometries for v2.9, smallest instances first as its default device config lists them: all
 * 1-slice, all 2-slice, all 3-slice, one whole-GPU instance.
 */
export function defaultGeometries(model: GpuModel): MigGeometry[] {
  const spec = model.mig;
  if (!spec) return [];
  const geometries: MigGeometry[] = [];
  for (const slices of [1, 2, 3, spec.totalComputeSlices]) {
    const profile = spec.profiles.find((p) => p.computeSlices === slices && !p.mediaExtensions);
    if (!profile || !findProfile(model, profile.name)) continue;
    const count = Math.min(profile.maxCount, Math.floor(spec.totalMemorySlices / profile.memorySlices));
    geometries.push([{ profile: profile.name, count }]);
  }
  return geometries;
}

export const TRACE_POLICIES: Readonly<Record<string, (demand: DemandMix) => TracePolicy>> = {
  tessera: (demand) => ({ policy: tesseraPolicy, planner: tesseraMigPlanner({ demand }) }),
  fgd: () => ({ policy: fgdPolicy, planner: createGeometryPlanner() }),
  hami: () => ({ policy: hamiPolicy, planner: hamiV210MigPlanner() }),
  'hami-v2.10-mig': () => ({ policy: hamiPolicy, planner: hamiV210MigPlanner() }),
  'hami-v2.9-mig': () => ({ policy: hamiPolicy, planner: hamiV29MigPlanner(defaultGeometries) }),
};

export function tracePolicyByName(name: string, demand: DemandMix): TracePolicy {
  const make = TRACE_POLICIES[name];
  if (!make) throw new TesseraError('INVALID_INPUT', `unknown policy '${name}' for --cluster/--trace (known: ${Object.keys(TRACE_POLICIES).join(', ')})`, { field: '--policy' });
  return make(demand);
}
