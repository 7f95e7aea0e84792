/**
 * MIG planners for the allocator (`MigPlanner`, core/mig.ts) over the geometry engine: Tessera's, which ranks the
 * engine's legal plans by the future capacity they keep for the expected demand (the MIG side of fragmentation
 * awareness; the allocator's own `createGeometryPlanner`), and HAMi's v2.10 and v2.9 rules as baselines, which
 * pick one of the engine's plans. Legality has one source, the engine; only the choice differs.
 */
import { hamiV210Plan, hamiV29Plan, hamiV29StockGeometries, type DemandMix, type MigRestriction } from '../../geometry/index.js';
import { createGeometryPlanner } from '../core/index.js';
import type { MigPlanner } from '../core/index.js';

/**
 * Tessera's planner: the engine's legal plans, most future capacity kept for `demand` (the workload's mix of
 * instance sizes) first. A free instance may be destroyed to make room, on a busy GPU too (HAMi v2.10's nodes
 * destroy an instance as soon as its pod ends, so keeping free instances out of the way is the bar to meet); an
 * instance in use never is. A plan that changes a layout also carves the GPU's remaining empty slices for `demand`
 * in the same change (geometry/fill.ts), so the next requests reuse instead of each changing the layout again; not
 * on models with `restrictions` (HAMi's knownMigGeometries or migProfileAllowlist), whose layouts are the
 * operator's.
 */
export function tesseraMigPlanner(options: { demand?: DemandMix; restrictions?: ReadonlyMap<string, MigRestriction> } = {}): MigPlanner {
  const { demand, restrictions } = options;
  return createGeometryPlanner({
    ...(demand ? { demand, carve: demand } : {}),
    ...(restrictions ? { restrictions } : {}),
  });
}

/**
 * HAMi v2.10 (geometry/baselines.ts): the smallest allowed profile with a placement clear of the instances in use,
 * no look-ahead. Per model, the device config's migProfileAllowlist entry, else HAMi's stock one.
 */
export function hamiV210MigPlanner(restrictions?: ReadonlyMap<string, MigRestriction>): MigPlanner {
  return createGeometryPlanner({
    choosePlans: (model, instances, memoryMiB) => {
      const plan = hamiV210Plan(model, instances, { memoryMiB }, restrictions?.get(model.name)?.allowedProfiles);
      return plan ? [plan] : [];
    },
  });
}

/**
 * HAMi v2.9 (geometry/baselines.ts): a geometry chosen only on an idle GPU, fixed while anything runs. Per model,
 * the device config's knownMigGeometries, else HAMi's stock ones.
 */
export function hamiV29MigPlanner(restrictions?: ReadonlyMap<string, MigRestriction>): MigPlanner {
  return createGeometryPlanner({
    choosePlans: (model, instances, memoryMiB) => {
      const plan = hamiV29Plan(model, instances, { memoryMiB }, restrictions?.get(model.name)?.allowedGeometries ?? hamiV29StockGeometries(model));
      return plan ? [plan] : [];
    },
  });
}
