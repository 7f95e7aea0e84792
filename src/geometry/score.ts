/**
 * How much useful capacity a layout keeps for future requests, on an integer scale 0..MAX_PLAN_SCORE.
 *
 * Details: score(usable) = MAX_PLAN_SCORE * sum_q(w_q * fits_q(usable) / fits_q(all)) / sum_q(w_q)
 * where `usable` is the set of memory slices not held by an instance in use, fits_q the most instances of profile q
 * that fit there together, and w_q the demand weight of q. An empty GPU scores MAX_PLAN_SCORE; a plan that blocks
 * the only placement of a profile loses that profile's whole weight, one that takes one of seven 1g slots a seventh.
 */
import type { SpecTables } from './tables.js';
import type { DemandMix } from './types.js';

export const MAX_PLAN_SCORE = 1000;

/** Demand weights per profile index, normalised so that sum_q(w_q / fits_q(all)) terms add up to MAX_PLAN_SCORE. */
export type ProfileWeights = Float64Array;

const defaultWeights = new WeakMap<SpecTables, ProfileWeights>();
/** Per demand object (callers pass one mix for many GPUs; treat it as immutable), per model. */
const weightsByDemand = new WeakMap<DemandMix, Map<SpecTables, ProfileWeights>>();

/** Weights for `demand` on the tables' model; every non-`+me` profile alike when the demand names nothing usable. */
export function profileWeights(tables: SpecTables, demand: DemandMix | undefined): ProfileWeights {
  if (demand) {
    let perModel = weightsByDemand.get(demand);
    if (!perModel) {
      perModel = new Map();
      weightsByDemand.set(demand, perModel);
    }
    let weights = perModel.get(tables);
    if (!weights) {
      const raw = rawDemandWeights(tables, demand);
      weights = raw.some((w) => w > 0) ? normalise(tables, raw) : profileWeights(tables, undefined);
      perModel.set(tables, weights);
    }
    return weights;
  }
  let weights = defaultWeights.get(tables);
  if (!weights) {
    weights = normalise(
      tables,
      tables.profiles.map((p) => (p.mediaExtensions ? 0 : 1)),
    );
    defaultWeights.set(tables, weights);
  }
  return weights;
}

/** Demand per profile index (each memory size counted on the smallest profile serving it), not normalised. */
export function rawDemandWeights(tables: SpecTables, demand: DemandMix): number[] {
  const raw = tables.profiles.map(() => 0);
  for (const [name, weight] of Object.entries(demand.byProfile ?? {})) {
    const p = tables.indexOf.get(name);
    if (p !== undefined && Number.isFinite(weight) && weight > 0) raw[p] = (raw[p] ?? 0) + weight;
  }
  for (const { memoryMiB, weight } of demand.byMemoryMiB ?? []) {
    const p = smallestServing(tables, memoryMiB);
    if (p !== undefined && Number.isFinite(weight) && weight > 0) raw[p] = (raw[p] ?? 0) + weight;
  }
  return raw;
}

/** Index of the profile (no `+me`) with the least memory, then least compute, that has at least `memoryMiB`. */
function smallestServing(tables: SpecTables, memoryMiB: number): number | undefined {
  let best: number | undefined;
  tables.profiles.forEach((p, i) => {
    if (p.mediaExtensions || p.memoryMiB < memoryMiB) return;
    const b = best === undefined ? undefined : tables.profiles[best];
    if (!b || p.memoryMiB < b.memoryMiB || (p.memoryMiB === b.memoryMiB && p.computeSlices < b.computeSlices)) best = i;
  });
  return best;
}

function normalise(tables: SpecTables, raw: readonly number[]): ProfileWeights {
  const total = raw.reduce((a, b) => a + b, 0);
  const weights = new Float64Array(raw.length);
  raw.forEach((w, p) => {
    const most = tables.fits[p]?.[tables.fullMask] ?? 0;
    weights[p] = most > 0 ? (MAX_PLAN_SCORE * w) / (total * most) : 0;
  });
  return weights;
}

/** The score of keeping the slices of `usable` (see the formula above). */
export function capacityScore(tables: SpecTables, weights: ProfileWeights, usable: number): number {
  let sum = 0;
  for (let p = 0; p < weights.length; p++) {
    const w = weights[p] ?? 0;
    if (w > 0) sum += w * (tables.fits[p]?.[usable] ?? 0);
  }
  return Math.round(sum);
}
