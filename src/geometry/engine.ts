/**
 * The geometry engine: every way to serve one MIG request on one GPU, ranked.
 *
 * Candidates: (1) a free instance that fits, as it is; (2) a new instance at a legal start in empty slices;
 * (3) a new instance over free instances, which are destroyed (never one in use). With `allowedGeometries`, only
 * plans whose layout left behind is a full placement of an allowed geometry (HAMi's legacy mode); with
 * `allowedProfiles`, only instances of those profiles are reused or created (HAMi v2.10's allowlist).
 * Ranking: score (capacity kept, score.ts) high first, then cost (instances destroyed + created) low, then the
 * smallest profile (memory, then compute), then the lowest start. Pure and deterministic; an illegal input layout
 * or an unknown profile yields no plans, never an exception.
 */
import { cachedGeometryPlacements, type PlacedInstance } from './geometries.js';
import { decodeLayout, isLayoutFault, type DecodedLayout } from './layout.js';
import { capacityScore, profileWeights, type ProfileWeights } from './score.js';
import { tablesFor, type SpecTables } from './tables.js';
import type { GpuModel, MigInstance, MigOp, MigPlan, MigPlanKind, MigProfile, MigRequest, PlanOptions } from './types.js';

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
  /** Tie-break among equal scores, low first: cost, then target memory, compute, start, profile (see orderKey). */
  order: number;
}

const NO_EXTRA: readonly PlacedInstance[] = [];

/** cost, memory MiB (< 2^24), compute slices, start and profile index (each < 16) packed into one number. */
function orderKey(tables: SpecTables, p: number, start: number, cost: number): number {
  const profile = tables.profiles[p];
  return (((cost * 2 ** 24 + (profile?.memoryMiB ?? 0)) * 16 + (profile?.computeSlices ?? 0)) * 16 + start) * 16 + p;
}

export function planMig(model: GpuModel, instances: readonly MigInstance[], request: MigRequest, options: PlanOptions = {}): MigPlan[] {
  if (!model.mig) return [];
  const tables = tablesFor(model.mig);
  const layout = decodeLayout(tables, instances);
  if (isLayoutFault(layout)) return [];
  const servable = servableProfiles(tables, request, options.allowedProfiles);
  if (servable === 0) return [];
  const weights = profileWeights(tables, options.demand);
  const candidates = options.allowedGeometries
    ? geometryCandidates(model, tables, weights, instances, layout, servable, options.allowedGeometries)
    : freeFormCandidates(tables, weights, layout, servable, options.reconfigureBusy === false && layout.inUse !== 0);
  candidates.sort(compareCandidates);
  const limit = options.limit ?? DEFAULT_PLAN_LIMIT;
  const plans: MigPlan[] = [];
  const before = capacityScore(tables, weights, tables.fullMask & ~layout.inUse);
  for (let i = 0; i < candidates.length && i < limit; i++) plans.push(writePlan(tables, instances, candidates[i] as Candidate, before));
  return plans;
}

/** Bit p set: profile p serves `request` (memory, compute, name; `+me` only when named) and is allowed. */
function servableProfiles(tables: SpecTables, request: MigRequest, allowed: ReadonlySet<string> | undefined): number {
  let bits = 0;
  for (let p = 0; p < tables.profiles.length; p++) {
    const profile = tables.profiles[p] as MigProfile;
    if (request.profile !== undefined ? profile.name !== request.profile : profile.mediaExtensions) continue;
    if (allowed && !allowed.has(profile.name)) continue;
    if (!(profile.memoryMiB >= request.memoryMiB)) continue;
    if (request.minComputeSlices !== undefined && !(profile.computeSlices >= request.minComputeSlices)) continue;
    bits |= 1 << p;
  }
  return bits;
}

function freeFormCandidates(tables: SpecTables, weights: ProfileWeights, layout: DecodedLayout, servable: number, keepFree: boolean): Candidate[] {
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
        if (kind === 'reconfigure' && keepFree) continue;
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
      const reused = kind === 'reuse';
      const order = orderKey(tables, p, start, destroyed + (reused ? 0 : 1));
      candidates.push({ kind, reused, p, start, mask, destroyBits, destroyed, extra: NO_EXTRA, score, order });
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
    const placements = cachedGeometryPlacements(model, geometry);
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
        const order = orderKey(tables, target.p, target.start, destroyed + (reused ? 0 : 1) + extra.length);
        candidates.push({ kind, reused, p: target.p, start: target.start, mask: target.mask, destroyBits, destroyed, extra, score, order });
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

function compareCandidates(a: Candidate, b: Candidate): number {
  return b.score - a.score || a.order - b.order;
}

const byStart = (a: { start: number }, b: { start: number }): number => a.start - b.start;

function writePlan(tables: SpecTables, instances: readonly MigInstance[], c: Candidate, before: number): MigPlan {
  const targetName = tables.profiles[c.p]?.name ?? '';
  const destroy: MigInstance[] = [];
  const layout: MigInstance[] = [];
  for (let i = 0; i < instances.length; i++) {
    const instance = instances[i] as MigInstance;
    if ((c.destroyBits & (1 << i)) !== 0) destroy.push(instance);
    // Instances of a legal layout never share a start, so the start names the reused one.
    else if (c.reused && instance.start === c.start) layout.push({ ...instance, inUse: true });
    else layout.push(instance);
  }
  const create: { profile: string; start: number }[] = c.reused ? [] : [{ profile: targetName, start: c.start }];
  for (const x of c.extra) create.push({ profile: tables.profiles[x.p]?.name ?? '', start: x.start });
  if (c.extra.length > 0) create.sort(byStart);
  for (const x of create) layout.push({ profile: x.profile, start: x.start, inUse: !c.reused && x.start === c.start });
  layout.sort(byStart);
  return {
    kind: c.kind,
    target: { profile: targetName, start: c.start },
    destroy,
    create,
    cost: { destroyed: destroy.length, created: create.length },
    layout,
    score: c.score,
    lost: before - c.score,
  };
}

/** The steps that apply a plan, in order: every destroy, then every create. */
export function planOps(plan: MigPlan): MigOp[] {
  return [...plan.destroy.map((i): MigOp => ({ action: 'destroy', profile: i.profile, start: i.start })), ...plan.create.map((c): MigOp => ({ action: 'create', profile: c.profile, start: c.start }))];
}
