/**
 * How many of a MIG trace's failures placement could not have avoided: the trace replayed on relaxed clusters, each
 * admitting every pod it can hold when it arrives (as every policy here does) and releasing it when it leaves.
 *
 *   never fits   the pod asks more memory than any instance of any model in the cluster holds
 *   pooled       the cluster's GPU memory as one pool: a pod fits when the memory free in all, over every GPU, is
 *                at least what it asks (no GPU boundaries, no profiles)
 *   repack       per GPU, the profiles of the instances in use (each pod on the smallest profile that serves it),
 *                which may be moved: a pod fits on a GPU when those profiles and its own have some legal layout
 *                together (NVIDIA's starts, counts and slices, by the engine's own placements), as if every GPU
 *                could be re-carved around running pods at no cost; best fit (least memory waste, then the GPU
 *                with the least free memory left)
 *
 * These are references, not strict bounds: a relaxed cluster that admits a large pod may fail small ones later that a
 * real one would have placed. They say how much of a policy's failure count is offered load beyond the cluster
 * rather than fragmentation. Pure.
 */
import { geometryPlacements, resolveGpuModel, servingProfiles, type GpuModel, type MigProfile } from '../../geometry/index.js';
import type { NodeSpec } from '../../scheduler/core/index.js';
import type { TraceEvent } from './trace-file.js';

export interface CapacityBound {
  /** Pods no instance in the cluster could hold. */
  neverFits: number;
  /**
   * At least this many fail under any policy, online or offline, that may also refuse pods: the pods less an upper
   * bound on how many can run, each for its whole life, with the memory they ask never above the cluster's.
   */
  strictFailed: number;
  /** Failed with the cluster's GPU memory pooled (never fits included). */
  pooledFailed: number;
  /** Failed with every GPU re-carved at will around its running pods (never fits included). */
  repackFailed: number;
}

type MigModel = GpuModel & { mig: NonNullable<GpuModel['mig']> };

interface RepackGpu {
  model: MigModel;
  /** Profile indices of the pods running, ascending. */
  held: number[];
  /** Memory slices not held by a running pod. */
  freeSlices: number;
}

/**
 * Whether a GPU could hold a set of instances in some legal layout, whatever their starts now (the engine's own
 * placements, remembered per model and set).
 */
export class Repacker {
  private readonly models = new Map<string, MigModel | null>();
  private readonly layouts = new Map<string, boolean>();

  model(name: string): MigModel | null {
    let model = this.models.get(name);
    if (model === undefined) {
      const resolved = resolveGpuModel(name);
      model = resolved.ok && resolved.value.mig ? { ...resolved.value, mig: resolved.value.mig } : null;
      this.models.set(name, model);
    }
    return model;
  }

  /** Profile indices `held` (ascending) have a legal layout together on `model`. */
  fits(model: MigModel, held: readonly number[]): boolean {
    const key = `${model.name}:${held.join(',')}`;
    let known = this.layouts.get(key);
    if (known === undefined) {
      const counts = new Map<string, number>();
      for (const p of held) {
        const name = model.mig.profiles[p]?.name ?? '';
        counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      const placements = geometryPlacements(
        model,
        [...counts].map(([profile, count]) => ({ profile, count })),
        1,
      );
      known = placements.ok && placements.value.length > 0;
      this.layouts.set(key, known);
    }
    return known;
  }

  /**
   * Why a pod asking `asked` MiB found no instance, given the GPUs as they were: 'layout' when some GPU would have
   * held it had its running instances been placed otherwise (free instances count as gone); 'spread' when the
   * cluster had that much memory free, but on no one GPU; 'full' when it had not, or the pod fits no model.
   */
  whyFailed(gpus: readonly { model: string; memoryMiB: number; usedMemoryMiB: number; migInstances: readonly { profile: string; inUse: boolean }[] | null }[], asked: number): FailureKind {
    let free = 0;
    let served = false;
    let fits = false;
    for (const gpu of gpus) {
      free += gpu.memoryMiB - gpu.usedMemoryMiB;
      const model = this.model(gpu.model);
      if (!model || !gpu.migInstances || fits) continue;
      const serving = servingBySize(model, asked);
      served ||= serving.length > 0;
      const held = gpu.migInstances.flatMap((i) => (i.inUse ? [model.mig.profiles.findIndex((p) => p.name === i.profile)] : []));
      fits = serving.some((p) =>
        this.fits(
          model,
          [...held, p].sort((a, b) => a - b),
        ),
      );
    }
    return fits ? 'layout' : served && free >= asked ? 'spread' : 'full';
  }
}

export type FailureKind = 'full' | 'spread' | 'layout';

export function migCapacityBound(nodes: readonly NodeSpec[], events: readonly TraceEvent[]): CapacityBound {
  const repacker = new Repacker();
  const gpus: RepackGpu[] = [];
  for (const gpu of nodes.flatMap((n) => n.gpus)) {
    const model = repacker.model(gpu.model);
    if (model) gpus.push({ model, held: [], freeSlices: model.mig.totalMemorySlices });
  }
  const largest = Math.max(0, ...gpus.flatMap((g) => g.model.mig.profiles.map((p) => p.memoryMiB)));
  let pool = gpus.reduce((s, g) => s + g.model.memoryMiB, 0);
  const pooled = new Map<string, number>();
  const repacked = new Map<string, { gpu: RepackGpu; p: number }>();
  const lives: { key: string; at: number; end: number; asked: number }[] = [];
  const lifeOf = new Map<string, { end: number }>();
  let neverFits = 0;
  let pooledFailed = 0;
  let repackFailed = 0;
  for (const event of events) {
    if (event.kind === 'delete') {
      const life = lifeOf.get(event.key);
      if (life) life.end = event.at;
      lifeOf.delete(event.key);
      const mib = pooled.get(event.key);
      if (mib !== undefined) pool += mib;
      pooled.delete(event.key);
      const held = repacked.get(event.key);
      if (held) {
        held.gpu.held.splice(held.gpu.held.indexOf(held.p), 1);
        held.gpu.freeSlices += held.gpu.model.mig.profiles[held.p]?.memorySlices ?? 0;
      }
      repacked.delete(event.key);
      continue;
    }
    const memory = event.request.containers.find((c) => c.gpu)?.gpu?.memory;
    const asked = memory && 'mib' in memory ? memory.mib : 0;
    if (asked <= largest) {
      const life = { key: event.key, at: event.at, end: Number.POSITIVE_INFINITY, asked };
      lives.push(life);
      lifeOf.set(event.key, life);
    } else {
      neverFits++;
      pooledFailed++;
      repackFailed++;
      continue;
    }
    if (pool >= asked) {
      pool -= asked;
      pooled.set(event.key, asked);
    } else pooledFailed++;
    let best: { gpu: RepackGpu; p: number; waste: number; left: number } | null = null;
    for (const gpu of gpus) {
      const profiles = gpu.model.mig.profiles;
      for (const p of servingBySize(gpu.model, asked)) {
        const profile = profiles[p] as MigProfile;
        const mig = gpu.model.mig;
        const waste = gpu.model.memoryMiB * Math.max(profile.memorySlices / mig.totalMemorySlices, profile.computeSlices / mig.totalComputeSlices) - asked;
        const left = gpu.freeSlices - profile.memorySlices;
        if (left < 0 || (best && (waste > best.waste || (waste === best.waste && left >= best.left)))) continue;
        if (
          !repacker.fits(
            gpu.model,
            [...gpu.held, p].sort((a, b) => a - b),
          )
        )
          continue;
        best = { gpu, p, waste, left };
        break;
      }
    }
    if (!best) {
      repackFailed++;
      continue;
    }
    best.gpu.held.push(best.p);
    best.gpu.held.sort((a, b) => a - b);
    best.gpu.freeSlices = best.left;
    repacked.set(event.key, { gpu: best.gpu, p: best.p });
  }
  const pods = events.reduce((n, e) => n + (e.kind === 'pod' ? 1 : 0), 0);
  const capacity = gpus.reduce((s, g) => s + g.model.memoryMiB, 0);
  return { neverFits, strictFailed: pods - Math.floor(mostRunnable(lives, capacity, pods - pooledFailed)), pooledFailed, repackFailed };
}

/**
 * An upper bound on how many of `lives` can be admitted, each for its whole life, with the memory of those running
 * never above `capacity`: the Lagrangian dual of that packing's linear relaxation, D(λ) = Σ_k λ_k + Σ_i max(0,
 * 1 - a_i Λ_i), with one multiplier λ_k ≥ 0 per arrival k (the load peaks right after arrivals), a_i pod i's share
 * of the capacity and Λ_i the sum of λ over the arrivals during its life. Every λ ≥ 0 gives a valid bound; projected
 * subgradient steps (Polyak's, towards `feasible`, the count some admission reaches) lower it, and the lowest one
 * seen is returned.
 */
function mostRunnable(lives: readonly { at: number; end: number; asked: number }[], capacity: number, feasible: number): number {
  const n = lives.length;
  if (n === 0) return 0;
  const share = lives.map((l) => l.asked / capacity);
  // The arrivals during life i: i .. last[i] (lives are in arrival order).
  const last = lives.map((l, i) => {
    let lo = i;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((lives[mid] as { at: number }).at < l.end) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  });
  const lambda = new Float64Array(n);
  const prefix = new Float64Array(n + 1);
  const load = new Float64Array(n + 1);
  let best = n;
  for (let step = 0; step < 1000; step++) {
    for (let k = 0; k < n; k++) prefix[k + 1] = (prefix[k] as number) + (lambda[k] as number);
    load.fill(0);
    let dual = prefix[n] as number;
    for (let i = 0; i < n; i++) {
      const reduced = 1 - (share[i] as number) * ((prefix[(last[i] as number) + 1] as number) - (prefix[i] as number));
      if (reduced <= 0) continue;
      dual += reduced;
      load[i] = (load[i] as number) + (share[i] as number);
      load[(last[i] as number) + 1] = (load[(last[i] as number) + 1] as number) - (share[i] as number);
    }
    best = Math.min(best, dual);
    // Subgradient: 1 - the load the admitted ones put on arrival k; projected onto λ ≥ 0.
    let norm = 0;
    let running = 0;
    for (let k = 0; k < n; k++) {
      running += load[k] as number;
      const g = 1 - running;
      if ((lambda[k] as number) > 0 || g < 0) norm += g * g;
      load[k] = g;
    }
    if (norm === 0) break;
    const length = (dual - feasible) / norm;
    for (let k = 0; k < n; k++) lambda[k] = Math.max(0, (lambda[k] as number) - length * (load[k] as number));
  }
  return best;
}

/** Indices (in `model.mig.profiles`) of the profiles serving `memoryMiB`, smallest first (geometry's `servingProfiles`). */
function servingBySize(model: MigModel, memoryMiB: number): number[] {
  return servingProfiles(model, memoryMiB).map((p) => model.mig.profiles.indexOf(p));
}
