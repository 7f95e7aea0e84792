/**
 * MIG planners for the allocator (`MigPlanner`, core/mig.ts) over the geometry engine: Tessera's, which ranks the
 * engine's legal plans by the future capacity they keep for the expected demand (the MIG side of fragmentation
 * awareness; the allocator's own `createGeometryPlanner`), and HAMi's v2.10 and v2.9 rules as baselines, which
 * pick one of the engine's plans. Legality has one source, the engine; only the choice differs.
 */
import { hamiV210Plan, hamiV29Plan, type DemandMix, type GpuModel, type MigGeometry } from '../../geometry/index.js';
import { createGeometryPlanner } from '../core/geometry-planner.js';
import type { MigOption, MigPlanner } from '../core/mig.js';

/**
 * Tessera's planner: every legal plan (reuse, create, reconfigure free instances), in the engine's order: most
 * future capacity kept for `demand` (the workload's mix of instance sizes) first, less oversized reuses.
 */
export function tesseraMigPlanner(demand?: DemandMix): MigPlanner {
  const engine = createGeometryPlanner(demand ? { demand } : {});
  return { ...engine, options: (modelName, instances, memoryMiB) => withoutOversizedReuse(engine.options(modelName, instances, memoryMiB)) };
}

/**
 * With idle instances kept (the trace simulator), the engine's ranking may reuse a free instance much larger than
 * the request (no op, no capacity used up in its score), which wastes the instance's memory while the pod runs.
 * Such oversized reuses are dropped: the engine then also offers a plan for the smallest fitting instance (a
 * create, or a reconfigure of free instances), which stays; the engine's order is kept otherwise.
 */
function withoutOversizedReuse(options: readonly MigOption[]): readonly MigOption[] {
  const smallest = Math.min(...options.map((o) => o.memoryMiB));
  return options.filter((o) => !(o.plan.length === 0 && o.memoryMiB > smallest));
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
