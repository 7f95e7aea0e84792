/**
 * The allocator's MIG planner over the geometry engine (`src/geometry`): resolves each GPU model once, asks
 * `planMig` for ranked plans (never touching an instance in use), and hands them over as `MigOption`s with the
 * ops the device plugin applies.
 */
import { planMig, planOps, resolveGpuModel, type DemandMix, type GpuModel, type MigGeometry, type MigInstance, type MigPlan } from '../../geometry/index.js';
import type { MigOption, MigPlanner } from './mig.js';

export interface GeometryPlannerOptions {
  /** Weights of future demand the engine keeps capacity for (default: every profile the same). */
  readonly demand?: DemandMix;
  /** HAMi's legacy mode: per canonical model name, the only geometries a GPU may be left in. */
  readonly allowedGeometries?: ReadonlyMap<string, readonly MigGeometry[]>;
  /**
   * Another rule's choice among the engine's plans (the HAMi baselines); default: the engine's own ranking under
   * `demand` and `allowedGeometries`.
   */
  readonly choosePlans?: (model: GpuModel, instances: readonly MigInstance[], memoryMiB: number) => readonly MigPlan[];
}

export function createGeometryPlanner(options: GeometryPlannerOptions = {}): MigPlanner {
  const models = new Map<string, GpuModel | null>();
  const modelOf = (name: string): GpuModel | null => {
    let model = models.get(name);
    if (model === undefined) {
      const resolved = resolveGpuModel(name);
      model = resolved.ok && resolved.value.mig ? resolved.value : null;
      models.set(name, model);
    }
    return model;
  };
  return {
    options(name, instances, memoryMiB): readonly MigOption[] {
      const model = modelOf(name);
      if (!model?.mig) return [];
      const { mig } = model;
      const allowed = options.allowedGeometries?.get(model.name);
      const plans = options.choosePlans
        ? options.choosePlans(model, instances, memoryMiB)
        : planMig(model, instances, { memoryMiB }, { ...(options.demand ? { demand: options.demand } : {}), ...(allowed ? { allowedGeometries: allowed } : {}) });
      return plans.flatMap((plan) => {
        const profile = mig.profiles.find((p) => p.name === plan.target.profile);
        if (!profile) return [];
        return [
          {
            profile: profile.name,
            start: plan.target.start,
            memoryMiB: profile.memoryMiB,
            computeShare: profile.computeSlices / mig.totalComputeSlices,
            plan: planOps(plan),
          },
        ];
      });
    },
    largestInstanceMiB(name) {
      const model = modelOf(name);
      return model?.mig ? Math.max(0, ...model.mig.profiles.map((p) => p.memoryMiB)) : 0;
    },
  };
}
