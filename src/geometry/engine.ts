/**
 * The geometry engine: every way to serve one MIG request on one GPU, ranked.
 *
 * Candidates: (1) a free instance that fits, as it is; (2) a new instance at a legal start in empty slices;
 * (3) a new instance over free instances, which are destroyed (never one in use). With `allowedGeometries`, only
 * plans whose layout left behind is a full placement of an allowed geometry (HAMi's legacy mode).
 * Ranking: score (capacity kept, score.ts) high first, then cost (instances destroyed + created) low, then the
 * smallest profile (memory, then compute), then the lowest start. Pure and deterministic; an illegal input layout
 * or an unknown profile yields no plans, never an exception.
 */
import { geometryPlacements, type PlacedInstance } from './geometries.js';
import { decodeLayout, isLayoutFault, type DecodedLayout } from './layout.js';
import { capacityScore, profileWeights, type ProfileWeights } from './score.js';
import { tablesFor, type SpecTables } from './tables.js';
import type { GpuModel, MigInstance, MigOp, MigPlan, MigPlanKind, MigRequest, PlanOptions } from './types.js';

export const DEFAULT_PLAN_LIMIT = 16;

/** A plan before it is written out: which target, which instances go, which are created besides the target. */
interface Candidate {
  kind: MigPlanKind;
  /** The target is an existing free instance (not created). */
  reused: boolean;
  p: number;
  start: number;
  mask: number;
  /** Bit i set: input instance i is destroyed. */
  destroyBits: number;
  destroyed: number;
  /** Instances created besides the target (geometry mode). */
  extra: readonly PlacedInstance[];
  score: number;
}

export function planMig(model: GpuModel, instances: readonly MigInstance[], request: MigRequest, options: PlanOptions = {}): MigPlan[] {
  if (!model.mig) return [];
  const tables = tablesFor(model.mig);
  const layout = decodeLayout(tables, instances);
  if (isLayoutFault(layout)) return [];
  const servable = servableProfiles(tables, request);
  if (servable === 0) return [];
  const weights = profileWeights(tables, options.demand);
  const candidates = options.allowedGeometries
    ? geometryCandidates(model, tables, weights, instances, layout, servable, options.allowedGeometries)
    : freeFormCandidates(tables, weights, layout, servable);
  candidates.sort((a, b) => compareCandidates(tables, a, b));
  const limit = options.limit ?? DEFAULT_PLAN_LIMIT;
  const plans: MigPlan[] = [];
  for (let i = 0; i < candidates.length && i < limit; i++) plans.push(writePlan(tables, instances, candidates[i] as Candidate));
  return plans;
}

/** Bit p set: profile p serves `request` (memory, compute, name; `+me` only when named). */
function servableProfiles(tables: SpecTables, request: MigRequest): number {
  let bits = 0;
  tables.profiles.forEach((profile, p) => {
    if (request.profile !== undefined ? profile.name !== request.profile : profile.mediaExtensions) return;
    if (!(profile.memoryMiB >= request.memoryMiB)) return;
    if (request.minComputeSlices !== undefined && !(profile.computeSlices >= request.minComputeSlices)) return;
    bits |= 1 << p;
  });
  return bits;
}

function freeFormCandidates(tables: SpecTables, weights: ProfileWeights, layout: DecodedLayout, servable: number): Candidate[] {
  const candidates: Candidate[] = [];
  const freeSlices = layout.occupied & ~layout.inUse;
  for (let p = 0; p < tables.profiles.length; p++) {
    if ((servable & (1 << p)) === 0) continue;
    const profile = tables.profiles[p];
    const masks = tables.masks[p];
    if (!profile || !masks) continue;
    for (let k = 0; k < masks.length; k++) {
      const mask = masks[k] as number;
      if ((mask & layout.inUse) !== 0) continue;
      const start = profile.starts[k] as number;
      let kind: MigPlanKind = 'create';
      let destroyBits = 0;
      let destroyed = 0;
      let sameProfileDestroyed = 0;
      let mediaDestroyed = 0;
      if ((mask & freeSlices) !== 0) {
        for (let i = 0; i < layout.maskOf.length; i++) {
          if (((layout.maskOf[i] as number) & mask) === 0) continue;
          destroyBits |= 1 << i;
          destroyed++;
          const q = layout.profileOf[i] as number;
          if (q === p) sameProfileDestroyed++;
          if (tables.profiles[q]?.mediaExtensions) mediaDestroyed++;
        }
        const exact = destroyed === 1 && sameProfileDestroyed === 1 && layout.maskOf[31 - Math.clz32(destroyBits)] === mask;
        kind = exact ? 'reuse' : 'reconfigure';
        if (exact) {
          destroyBits = 0;
          destroyed = 0;
        }
      }
      if (kind !== 'reuse') {
        if ((layout.counts[p] ?? 0) - sameProfileDestroyed >= profile.maxCount) continue;
        if (profile.mediaExtensions && layout.mediaCount - mediaDestroyed > 0) continue;
      }
      const score = capacityScore(tables, weights, tables.fullMask & ~(layout.inUse | mask));
      candidates.push({ kind, reused: kind === 'reuse', p, start, mask, destroyBits, destroyed, extra: [], score });
    }
  }
  return candidates;
}

function geometryCandidates(
  model: GpuModel,
  tables: SpecTables,
  weights: ProfileWeights,
  instances: readonly MigInstance[],
  layout: DecodedLayout,
  servable: number,
  geometries: NonNullable<PlanOptions['allowedGeometries']>,
): Candidate[] {
  const candidates: Candidate[] = [];
  const seen = new Set<string>();
  for (const geometry of geometries) {
    const placements = geometryPlacements(model, geometry);
    if (!placements.ok) continue;
    for (const placement of placements.value) {
      const inputOf = matchExisting(instances, layout, placement);
      if (inputOf === null) continue;
      let destroyBits = 0;
      let destroyed = 0;
      for (let i = 0; i < instances.length; i++) {
        if (!inputOf.includes(i)) {
          destroyBits |= 1 << i;
          destroyed++;
        }
      }
      const fresh = placement.filter((_, j) => inputOf[j] === -1);
      placement.forEach((target, j) => {
        const i = inputOf[j] ?? -1;
        if ((servable & (1 << target.p)) === 0 || (i >= 0 && instances[i]?.inUse)) return;
        const key = `${target.p}@${target.start}|${placement.map((x) => `${x.p}@${x.start}`).join(',')}`;
        if (seen.has(key)) return;
        seen.add(key);
        const extra = fresh.filter((x) => x !== target);
        const reused = i >= 0;
        const kind: MigPlanKind = destroyed > 0 ? 'reconfigure' : reused && extra.length === 0 ? 'reuse' : 'create';
        const score = capacityScore(tables, weights, tables.fullMask & ~(layout.inUse | target.mask));
        candidates.push({ kind, reused, p: target.p, start: target.start, mask: target.mask, destroyBits, destroyed, extra, score });
      });
    }
  }
  return candidates;
}

/**
 * For each placement entry, the index of the input instance that already is it (-1: to be created); null when an
 * instance in use is not part of the placement.
 */
function matchExisting(instances: readonly MigInstance[], layout: DecodedLayout, placement: readonly PlacedInstance[]): number[] | null {
  const inputOf = placement.map(() => -1);
  for (let i = 0; i < instances.length; i++) {
    const j = placement.findIndex((x) => x.p === layout.profileOf[i] && x.start === instances[i]?.start);
    if (j >= 0) inputOf[j] = i;
    else if (instances[i]?.inUse) return null;
  }
  return inputOf;
}

function compareCandidates(tables: SpecTables, a: Candidate, b: Candidate): number {
  if (a.score !== b.score) return b.score - a.score;
  const costA = a.destroyed + (a.reused ? 0 : 1) + a.extra.length;
  const costB = b.destroyed + (b.reused ? 0 : 1) + b.extra.length;
  if (costA !== costB) return costA - costB;
  const pa = tables.profiles[a.p];
  const pb = tables.profiles[b.p];
  if (pa && pb && pa.memoryMiB !== pb.memoryMiB) return pa.memoryMiB - pb.memoryMiB;
  if (pa && pb && pa.computeSlices !== pb.computeSlices) return pa.computeSlices - pb.computeSlices;
  return a.start - b.start || a.p - b.p;
}

function writePlan(tables: SpecTables, instances: readonly MigInstance[], c: Candidate): MigPlan {
  const name = (p: number): string => tables.profiles[p]?.name ?? '';
  const destroy: MigInstance[] = [];
  const layout: MigInstance[] = [];
  for (let i = 0; i < instances.length; i++) {
    const instance = instances[i] as MigInstance;
    if ((c.destroyBits & (1 << i)) !== 0) destroy.push(instance);
    else if (c.reused && instance.start === c.start && !instance.inUse && tables.indexOf.get(instance.profile) === c.p) {
      layout.push({ ...instance, inUse: true });
    } else layout.push(instance);
  }
  const create = c.reused ? [] : [{ profile: name(c.p), start: c.start }];
  for (const x of c.extra) create.push({ profile: name(x.p), start: x.start });
  create.sort((a, b) => a.start - b.start);
  for (const x of create) layout.push({ profile: x.profile, start: x.start, inUse: x.start === c.start && x.profile === name(c.p) });
  layout.sort((a, b) => a.start - b.start);
  return {
    kind: c.kind,
    target: { profile: name(c.p), start: c.start },
    destroy,
    create,
    cost: { destroyed: destroy.length, created: create.length },
    layout,
    score: c.score,
  };
}

/** The steps that apply a plan, in order: every destroy, then every create. */
export function planOps(plan: MigPlan): MigOp[] {
  return [
    ...plan.destroy.map((i): MigOp => ({ action: 'destroy', profile: i.profile, start: i.start })),
    ...plan.create.map((c): MigOp => ({ action: 'create', profile: c.profile, start: c.start })),
  ];
}
