/**
 * HAMi's MIG rules as baselines for the simulator and the engine's own comparison test. Both choose among the
 * engine's legal plans, so legality has one source; only the choice differs. Read against HAMi's source
 * (Project-HAMi/HAMi, pkg/device/nvidia):
 *
 * - v2.10 (device.go `selectMigCandidate`, `CustomFilterRule`, `AddResourceUsage`; mig_topology.go
 *   `selectMigPlacement`, `orderedMigPlacements`; as of v2.10.0, before PR #2855 rewrote the placement). The
 *   scheduler's occupied slices are the placements of instances pods hold (`MigAllocationsInUse`): the device
 *   plugin creates a pod's instance at Allocate and destroys it when the pod ends (PR #2378, `MigInstanceManager`),
 *   so a free instance never blocks a placement. Profiles (those the model's `migProfileAllowlist` entry names) by
 *   memory, then slice count; the first whose memory is at least the request and has a placement clear of the
 *   occupied slices; placements of `1g.*` and `3g.*` profiles from the highest start, the others from the lowest.
 *   Here: a free instance the target overlaps is destroyed, one that is exactly the target is reused.
 * - v2.9 (device.go `CustomFilterRule`, `AddResourceUsage`, `migNeedsReset`; util `PlatternMIG`, at v2.9.0). A GPU
 *   with no pod takes the first knownMigGeometries geometry whose FIRST entry's memory is at least the request,
 *   laid out whole, and the pod its first instance; a GPU with a pod keeps its geometry and gives the first free
 *   instance of it, in the geometry's order, whose memory exceeds the request (strictly, as HAMi compares).
 */
import { planMig } from './engine.js';
import { cachedGeometryPlacements, placeGeometry } from './geometries.js';
import { decodeLayout, isLayoutFault } from './layout.js';
import { findProfile, servingProfiles } from './models.js';
import { MAX_PLAN_SCORE } from './score.js';
import { tablesFor, type SpecTables } from './tables.js';
import type { GpuModel, MigGeometry, MigInstance, MigPlan, MigRequest, MigSpec } from './types.js';

const ALL = { limit: Number.POSITIVE_INFINITY };

/** HAMi's order: profile memory, then compute slices. */
function bySize(model: GpuModel): (a: MigPlan, b: MigPlan) => number {
  const size = (plan: MigPlan): [number, number] => {
    const profile = findProfile(model, plan.target.profile);
    return [profile?.memoryMiB ?? 0, profile?.computeSlices ?? 0];
  };
  return (a, b) => {
    const [ma, ca] = size(a);
    const [mb, cb] = size(b);
    return ma - mb || ca - cb;
  };
}

/** mig_topology.go `preferHighMigPlacement`: 1g and 3g profiles are placed from the top of the GPU down. */
const fromTheTop = (profile: string): boolean => profile.startsWith('1g.') || profile.startsWith('3g.');

/**
 * The profiles HAMi v2.10's stock device config allows on a model (its chart's `migProfileAllowlist`): per compute
 * size 1, 2, 3 and the whole GPU, the profile with the fewest memory slices, no `+me` (A30: 1g.6gb, 2g.12gb,
 * 4g.24gb; A100-40GB: 1g.5gb, 2g.10gb, 3g.20gb, 7g.40gb; H100-80GB: 1g.10gb, 2g.20gb, 3g.40gb, 7g.80gb).
 */
export function hamiStockProfiles(spec: MigSpec): Set<string> {
  const names = new Set<string>();
  for (const slices of [1, 2, 3, spec.totalComputeSlices]) {
    const smallest = smallestOfCompute(spec, slices);
    if (smallest) names.add(smallest);
  }
  return names;
}

/** The profile (no `+me`) with `computeSlices` and the fewest memory slices: the one HAMi's stock configs list. */
function smallestOfCompute(spec: MigSpec, computeSlices: number): string | undefined {
  return spec.profiles.filter((p) => p.computeSlices === computeSlices && !p.mediaExtensions).sort((a, b) => a.memorySlices - b.memorySlices)[0]?.name;
}

/**
 * HAMi v2.10's choice (above) among the engine's plans; `allowed`: the model's migProfileAllowlist entry (default
 * the stock one).
 */
export function hamiV210Plan(model: GpuModel, instances: readonly MigInstance[], request: MigRequest, allowed?: ReadonlySet<string>): MigPlan | null {
  if (!model.mig) return null;
  const plans = planMig(model, instances, request, { ...ALL, allowedProfiles: allowed ?? hamiStockProfiles(model.mig) });
  const size = bySize(model);
  const order = (plan: MigPlan): number => (fromTheTop(plan.target.profile) ? -plan.target.start : plan.target.start);
  return plans.sort((a, b) => size(a, b) || order(a) - order(b))[0] ?? null;
}

/**
 * HAMi v2.9's stock knownMigGeometries for a model, in its chart's order: all 1g, one 1g and three 2g, two 3g, one
 * whole-GPU instance (A30 and other 4-slice models: four 1g, two 2g, one 4g), each of the profile with the fewest
 * memory slices for its compute size.
 */
export function hamiV29StockGeometries(model: GpuModel): MigGeometry[] {
  const spec = model.mig;
  if (!spec) return [];
  const [g1, g2, g3, whole] = [1, 2, 3, spec.totalComputeSlices].map((slices) => smallestOfCompute(spec, slices));
  const geometries: MigGeometry[] = [];
  if (spec.totalComputeSlices === 4) {
    if (g1) geometries.push([{ profile: g1, count: 4 }]);
    if (g2) geometries.push([{ profile: g2, count: 2 }]);
  } else {
    if (g1) geometries.push([{ profile: g1, count: spec.totalComputeSlices }]);
    if (g1 && g2)
      geometries.push([
        { profile: g1, count: 1 },
        { profile: g2, count: 3 },
      ]);
    if (g3) geometries.push([{ profile: g3, count: 2 }]);
  }
  if (whole) geometries.push([{ profile: whole, count: 1 }]);
  return geometries.filter((g) => placeGeometry(model, g).ok);
}

export function hamiV29Plan(model: GpuModel, instances: readonly MigInstance[], request: MigRequest, geometries: readonly MigGeometry[]): MigPlan | null {
  if (!instances.some((i) => i.inUse)) {
    // PlatternMIG: the first geometry whose first entry fits, whole; the pod gets that entry's first instance.
    for (const geometry of geometries) {
      const first = geometry[0];
      const profile = first && findProfile(model, first.profile);
      if (!profile || profile.memoryMiB < request.memoryMiB) continue;
      const placed = placeGeometry(model, geometry);
      if (!placed.ok) continue;
      const wanted = new Set(placed.value.map((x) => `${x.profile}@${x.start}`));
      const whole = planMig(model, instances, { ...request, profile: profile.name }, { ...ALL, allowedGeometries: [geometry] }).filter(
        (plan) => plan.layout.length === wanted.size && plan.layout.every((x) => wanted.has(`${x.profile}@${x.start}`)),
      );
      return whole.sort((a, b) => a.target.start - b.target.start)[0] ?? null;
    }
    return null;
  }
  // The GPU keeps the geometry it was laid out in (HAMi reads it from the pods' device ids; here: the first geometry
  // one of whose placements holds every instance on the GPU).
  const geometry = geometries.find((g) => holdsAll(model, g, instances));
  if (!geometry) return null;
  const entry = (profile: string): number => geometry.findIndex((e) => e.profile === profile);
  const plans = planMig(model, instances, request, { ...ALL, allowedGeometries: [geometry] }).filter(
    (plan) => plan.kind !== 'reconfigure' && (findProfile(model, plan.target.profile)?.memoryMiB ?? 0) > request.memoryMiB,
  );
  return plans.sort((a, b) => entry(a.target.profile) - entry(b.target.profile) || a.target.start - b.target.start)[0] ?? null;
}

function holdsAll(model: GpuModel, geometry: MigGeometry, instances: readonly MigInstance[]): boolean {
  const placements = cachedGeometryPlacements(model, geometry);
  if (!placements.ok || !model.mig) return false;
  const profiles = model.mig.profiles;
  return placements.value.some((placement) => instances.every((i) => placement.some((x) => profiles[x.p]?.name === i.profile && x.start === i.start)));
}

/**
 * The fragmentation of a GPU's free slices after Zambianco, Fasol and Doriguzzi-Corin ("An Online
 * Fragmentation-Aware GPU Scheduler for Multi-Tenant MIG-based Clouds", arXiv 2511.18906), workload-agnostic: every
 * non-`+me` profile weighs the same. Only the paper's abstract was at hand; the metric is our reading of it: for
 * each profile, the share of the GPU's slices that are free but that no further instance of the profile could use
 * (free slices minus the slices of the most instances of it that still fit together), averaged over the profiles.
 * Slices of free instances count as free (an instance exists only while its pod runs). In [0, 1].
 */
export function migFragmentation(model: GpuModel, instances: readonly MigInstance[]): number {
  if (!model.mig) return 0;
  const tables = tablesFor(model.mig);
  const layout = decodeLayout(tables, instances);
  if (isLayoutFault(layout)) return 1;
  return fragmentationOf(tables, tables.fullMask & ~layout.inUse);
}

function fragmentationOf(tables: SpecTables, usable: number): number {
  const free = popcount(usable);
  let sum = 0;
  let counted = 0;
  tables.profiles.forEach((profile, p) => {
    if (profile.mediaExtensions) return;
    counted++;
    sum += (free - profile.memorySlices * (tables.fits[p]?.[usable] ?? 0)) / tables.spec.totalMemorySlices;
  });
  return counted > 0 ? sum / counted : 0;
}

function popcount(mask: number): number {
  let n = 0;
  for (let m = mask; m !== 0; m &= m - 1) n++;
  return n;
}

/**
 * Zambianco et al.'s greedy on one GPU: the workload's profile (the smallest serving the request: the paper's
 * workloads ask for a profile) at every placement clear of the instances in use, least fragmentation growth first
 * (then the lowest start). Each plan's `score` carries the growth ΔF in [-1, 1] as MAX_PLAN_SCORE × (1 - ΔF) / 2, so
 * plans on different GPUs compare by it.
 */
export function zambiancoPlans(model: GpuModel, instances: readonly MigInstance[], request: MigRequest): MigPlan[] {
  if (!model.mig) return [];
  const tables = tablesFor(model.mig);
  const layout = decodeLayout(tables, instances);
  if (isLayoutFault(layout)) return [];
  const profile = servingProfiles(model, request.memoryMiB)[0];
  if (!profile) return [];
  const usable = tables.fullMask & ~layout.inUse;
  const before = fragmentationOf(tables, usable);
  const p = tables.indexOf.get(profile.name) ?? -1;
  return planMig(model, instances, { ...request, profile: profile.name }, ALL)
    .map((plan) => {
      const k = profile.starts.indexOf(plan.target.start);
      const mask = tables.masks[p]?.[k] ?? 0;
      const growth = fragmentationOf(tables, usable & ~mask) - before;
      return { ...plan, score: (MAX_PLAN_SCORE * (1 - growth)) / 2 };
    })
    .sort((a, b) => b.score - a.score || a.target.start - b.target.start);
}
