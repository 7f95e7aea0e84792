/**
 * HAMi's MIG rules as baselines for the simulator and the engine's own comparison test. Both choose among the
 * engine's legal plans, so legality has one source; only the choice differs.
 *
 * - v2.10: the smallest profile whose memory fits and that has a free placement (a free instance of it, else the
 *   lowest empty legal start); never destroys anything; no look-ahead.
 * - v2.9: on a GPU with nothing in use, the first geometry in config order that holds a fitting instance, laid out
 *   whole (everything else destroyed); otherwise only a free instance of the current layout.
 */
import { planMig } from './engine.js';
import { placeGeometry } from './geometries.js';
import { findProfile } from './models.js';
import type { GpuModel, MigGeometry, MigInstance, MigPlan, MigRequest } from './types.js';

const ALL = { limit: Number.POSITIVE_INFINITY };

/** Orders plans by the target's memory, then compute, then reuse before create, then start. */
function smallestFirst(model: GpuModel): (a: MigPlan, b: MigPlan) => number {
  const size = (plan: MigPlan): [number, number] => {
    const profile = findProfile(model, plan.target.profile);
    return [profile?.memoryMiB ?? 0, profile?.computeSlices ?? 0];
  };
  return (a, b) => {
    const [ma, ca] = size(a);
    const [mb, cb] = size(b);
    return ma - mb || ca - cb || Number(b.kind === 'reuse') - Number(a.kind === 'reuse') || a.target.start - b.target.start;
  };
}

export function hamiV210Plan(model: GpuModel, instances: readonly MigInstance[], request: MigRequest): MigPlan | null {
  const plans = planMig(model, instances, request, ALL).filter((p) => p.kind !== 'reconfigure');
  return plans.sort(smallestFirst(model))[0] ?? null;
}

export function hamiV29Plan(model: GpuModel, instances: readonly MigInstance[], request: MigRequest, geometries: readonly MigGeometry[]): MigPlan | null {
  const plans = planMig(model, instances, request, ALL);
  if (instances.some((i) => i.inUse)) {
    return plans.filter((p) => p.kind === 'reuse').sort(smallestFirst(model))[0] ?? null;
  }
  for (const geometry of geometries) {
    const placed = placeGeometry(model, geometry);
    if (!placed.ok) continue;
    const wanted = new Set(placed.value.map((x) => `${x.profile}@${x.start}`));
    const whole = planMig(model, instances, request, { ...ALL, allowedGeometries: [geometry] }).filter(
      (plan) => plan.layout.length === wanted.size && plan.layout.every((x) => wanted.has(`${x.profile}@${x.start}`)),
    );
    const chosen = whole.sort(smallestFirst(model))[0];
    if (chosen) return chosen;
  }
  return null;
}
