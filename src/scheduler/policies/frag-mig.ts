/**
 * MIG planners for the allocator (`MigPlanner`, core/mig.ts) over the geometry engine: Tessera's, which ranks the
 * engine's legal plans by the future capacity they keep for the expected demand (the MIG side of fragmentation
 * awareness; the allocator's own `createGeometryPlanner`), and HAMi's v2.10 and v2.9 rules as baselines, which
 * pick one of the engine's plans. Legality has one source, the engine; only the choice differs.
 */
import { findProfile, hamiV210Plan, hamiV29Plan, type DemandMix, type GpuModel, type MigGeometry, type MigRestriction } from '../../geometry/index.js';
import { createGeometryPlanner } from '../core/index.js';
import type { MigPlanner } from '../core/index.js';

/**
 * Tessera's planner: the engine's legal plans, most future capacity kept for `demand` (the workload's mix of
 * instance sizes) first. A GPU that runs an instance is never reshaped: its free instances are reused and its
 * empty slices used, and only a GPU with nothing running is re-carved, so layouts change when they must. A plan
 * that changes a layout also carves the GPU's remaining empty slices for `demand` in the same change
 * (geometry/fill.ts), so the next requests reuse instead of each changing the layout again; not on models with
 * `restrictions` (HAMi's knownMigGeometries or migProfileAllowlist), whose layouts are the operator's.
 */
export function tesseraMigPlanner(options: { demand?: DemandMix; restrictions?: ReadonlyMap<string, MigRestriction> } = {}): MigPlanner {
  const { demand, restrictions } = options;
  return createGeometryPlanner({
    reconfigureBusy: false,
    ...(demand ? { demand, carve: demand } : {}),
    ...(restrictions ? { restrictions } : {}),
  });
}

/** HAMi v2.10: the smallest profile whose memory fits and that has a free placement; no look-ahead. */
export function hamiV210MigPlanner(): MigPlanner {
  return createGeometryPlanner({
    choosePlans: (model, instances, memoryMiB) => {
      const plan = hamiV210Plan(model, instances, { memoryMiB });
      return plan ? [plan] : [];
    },
  });
}

/** HAMi up to v2.9: a geometry from `geometries(model)` chosen only on an idle GPU, fixed while anything runs. */
export function hamiV29MigPlanner(geometries: (model: GpuModel) => readonly MigGeometry[]): MigPlanner {
  return createGeometryPlanner({
    choosePlans: (model, instances, memoryMiB) => {
      const plan = hamiV29Plan(model, instances, { memoryMiB }, geometries(model));
      return plan ? [plan] : [];
    },
  });
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
