/**
 * The allocator's MIG planner over the geometry engine (`src/geometry`): resolves each GPU model once, asks
 * `planMig` for ranked plans (never touching an instance in use), and hands them over as `MigOption`s with the
 * ops the device plugin applies.
 */
import {
  MAX_PLAN_SCORE,
  carveEmptySlices,
  planMig,
  planOps,
  resolveGpuModel,
  type DemandMix,
  type GpuModel,
  type MigInstance,
  type MigOp,
  type MigPlan,
  type MigRestriction,
} from '../../geometry/index.js';
import { LRUMap } from 'mnemonist';
import type { MigInstanceView, MigOption, MigPlanner } from './mig.js';

export interface GeometryPlannerOptions {
  /** Weights of future demand the engine keeps capacity for (default: every profile the same). */
  readonly demand?: DemandMix;
  /**
   * Per canonical model name, the device config's restriction: the only geometries a GPU may be left in (HAMi's
   * knownMigGeometries) or the only profiles it may use (migProfileAllowlist).
   */
  readonly restrictions?: ReadonlyMap<string, MigRestriction>;
  /** False: never destroy free instances on a GPU that runs one (`PlanOptions.reconfigureBusy`). */
  readonly reconfigureBusy?: boolean;
  /**
   * When a plan changes the layout anyway, also carve the GPU's remaining empty slices for this demand in the same
   * change (geometry/fill.ts), so later requests reuse instead of each changing the layout again. Not on a model
   * with a restriction: those layouts are the operator's.
   */
  readonly carve?: DemandMix;
  /**
   * Another rule's choice among the engine's plans (the HAMi baselines); default: the engine's own ranking under
   * `demand` and `restrictions`.
   */
  readonly choosePlans?: (model: GpuModel, instances: readonly MigInstance[], memoryMiB: number) => readonly MigPlan[];
}

/**
 * Option lists kept per model, memory and layout (the planner is pure): a fleet's GPUs share few layouts, and a
 * node whose pod came and went asks again about the layout it had. Planning was most of the allocation garbage of
 * a decision on a large cluster.
 */
const OPTIONS_KEPT = 4096;

/** The planner's whole input for one GPU, as a key. */
function optionsKey(model: string, instances: readonly MigInstanceView[], memoryMiB: number): string {
  let key = `${model}|${memoryMiB}`;
  for (const i of instances) key += `|${i.profile}@${i.start}${i.inUse ? '+' : '-'}`;
  return key;
}

export function createGeometryPlanner(options: GeometryPlannerOptions = {}): MigPlanner {
  const kept = new LRUMap<string, readonly MigOption[]>(OPTIONS_KEPT);
  const models = new Map<string, GpuModel | null>();
  const largestByModel = new Map<string, number>();
  const modelOf = (name: string): GpuModel | null => {
    let model = models.get(name);
    if (model === undefined) {
      const resolved = resolveGpuModel(name);
      model = resolved.ok && resolved.value.mig ? resolved.value : null;
      models.set(name, model);
    }
    return model;
  };
  const plan = (name: string, instances: readonly MigInstanceView[], memoryMiB: number): readonly MigOption[] => {
    const model = modelOf(name);
    if (!model?.mig) return [];
    const { mig } = model;
    const restricted = options.restrictions?.get(model.name);
    const plans = options.choosePlans
      ? options.choosePlans(model, instances, memoryMiB)
      : planMig(model, instances, { memoryMiB }, { ...(options.demand ? { demand: options.demand } : {}), ...restricted, ...(options.reconfigureBusy === false ? { reconfigureBusy: false } : {}) });
    return plans.flatMap((plan) => {
      const profile = mig.profiles.find((p) => p.name === plan.target.profile);
      if (!profile) return [];
      const carved = options.carve && !restricted && plan.kind !== 'reuse' ? carveOps(model, plan, options.carve) : [];
      return [
        {
          profile: profile.name,
          start: plan.target.start,
          memoryMiB: profile.memoryMiB,
          computeShare: profile.computeSlices / mig.totalComputeSlices,
          keptCapacity: plan.score / MAX_PLAN_SCORE,
          lostCapacity: plan.lost / MAX_PLAN_SCORE,
          plan: carved.length > 0 ? [...planOps(plan), ...carved] : planOps(plan),
          // The engine's layout carried forward, so the allocator never replays the ops to learn it. Fresh objects:
          // the engine's may be the caller's own instances, which change after the options are kept.
          layout: [...plan.layout.map(({ profile, start, inUse }) => ({ profile, start, inUse })), ...carved.map(({ profile, start }) => ({ profile, start, inUse: false }))].sort(
            (a, b) => a.start - b.start,
          ),
        },
      ];
    });
  };
  return {
    options(name, instances, memoryMiB): readonly MigOption[] {
      const key = optionsKey(name, instances, memoryMiB);
      let planned = kept.get(key);
      if (planned === undefined) {
        planned = plan(name, instances, memoryMiB);
        kept.set(key, planned);
      }
      return planned;
    },
    largestInstanceMiB(name) {
      let largest = largestByModel.get(name);
      if (largest === undefined) {
        const model = modelOf(name);
        largest = model?.mig ? Math.max(0, ...model.mig.profiles.map((p) => p.memoryMiB)) : 0;
        largestByModel.set(name, largest);
      }
      return largest;
    },
  };
}

function carveOps(model: GpuModel, plan: MigPlan, demand: DemandMix): MigOp[] {
  return carveEmptySlices(model, plan.layout, demand).map((c) => ({ action: 'create', profile: c.profile, start: c.start }));
}
