/**
 * Replays one random sequence of MIG requests and releases on a few GPUs of one model under a chooser (the engine's
 * best plan, or a HAMi baseline), applying each plan exactly as written. Used by the comparison test and the bench.
 */
import { hamiV210Plan, planMig, type GpuModel, type MigInstance, type MigPlan, type MigRequest } from '../../src/geometry/index.js';
import { mulberry32 } from '../../src/simulator/rng.js';

export type Chooser = (model: GpuModel, instances: readonly MigInstance[], request: MigRequest) => MigPlan | null;

export const engineChooser: Chooser = (model, instances, request) => planMig(model, instances, request, { limit: 1 })[0] ?? null;
export const hamiV210Chooser: Chooser = hamiV210Plan;

export type MigEvent = { kind: 'arrive'; id: number; memoryMiB: number } | { kind: 'release'; id: number };

/**
 * `length` events: arrivals ask the memory of a random non-`+me` profile (smaller ones more often: weight 1/slices),
 * releases free a random earlier arrival.
 */
export function randomEvents(model: GpuModel, seed: number, length: number): MigEvent[] {
  const random = mulberry32(seed);
  const profiles = (model.mig?.profiles ?? []).filter((p) => !p.mediaExtensions);
  const weights = profiles.map((p) => 1 / p.memorySlices);
  const total = weights.reduce((a, b) => a + b, 0);
  const events: MigEvent[] = [];
  let next = 0;
  for (let e = 0; e < length; e++) {
    if (next > 0 && random() < 0.4) {
      events.push({ kind: 'release', id: Math.floor(random() * next) });
      continue;
    }
    let pick = random() * total;
    let profile = profiles[0];
    for (const [i, p] of profiles.entries()) {
      profile = p;
      pick -= weights[i] ?? 0;
      if (pick <= 0) break;
    }
    events.push({ kind: 'arrive', id: next++, memoryMiB: profile?.memoryMiB ?? 0 });
  }
  return events;
}

export interface ReplayResult {
  served: number;
  refused: number;
  /** Every layout a plan left behind, in order. */
  layouts: MigInstance[][];
}

/**
 * Serves each arrival on the first GPU where the chooser finds a plan. A release marks the instance free, or, with
 * `destroyOnRelease`, destroys it. A release of an arrival that was refused, or already released, does nothing.
 */
export function replay(model: GpuModel, gpus: number, events: readonly MigEvent[], choose: Chooser, destroyOnRelease: boolean): ReplayResult {
  const state: MigInstance[][] = Array.from({ length: gpus }, () => []);
  const holder = new Map<number, { gpu: number; id: string }>();
  const layouts: MigInstance[][] = [];
  let served = 0;
  let refused = 0;
  for (const event of events) {
    if (event.kind === 'release') {
      const held = holder.get(event.id);
      if (!held) continue;
      holder.delete(event.id);
      const gpu = state[held.gpu] ?? [];
      state[held.gpu] = destroyOnRelease ? gpu.filter((i) => i.id !== held.id) : gpu.map((i) => (i.id === held.id ? { ...i, inUse: false, id: `free-${held.id}` } : i));
      continue;
    }
    let done = false;
    for (let g = 0; g < gpus && !done; g++) {
      const plan = choose(model, state[g] ?? [], { memoryMiB: event.memoryMiB });
      if (!plan) continue;
      const id = `req-${event.id}`;
      state[g] = plan.layout.map((i) => (i.start === plan.target.start && i.profile === plan.target.profile ? { ...i, id } : i));
      layouts.push(state[g] ?? []);
      holder.set(event.id, { gpu: g, id });
      done = true;
    }
    if (done) served++;
    else refused++;
  }
  return { served, refused, layouts };
}
