/**
 * What the fragmentation-aware policies keep room for, learned from a set of requests (a trace, or the pods the
 * extender knows): the typical request shapes in FGD's units (`RunContext.typical`), the nodes kept for pods that
 * fit few nodes (`RunContext.scarceHomes`), and the MIG demand mix (the instance memory each vGPU asks for, weighted
 * by how often: `tesseraMigPlanner`). Pure.
 */
import type { DemandMix } from '../../geometry/index.js';
import type { NodeView, ScarceHomes } from '../core/index.js';
import { MILLI_PER_GPU, TYPICAL_COVERAGE, totalLeft, typicalShapes, type ShareShape, type TypicalShape } from './frag.js';
import type { PodRequest } from '../../request/index.js';

/**
 * At most this many typical shapes. Every node score walks the whole set for each candidate GPU, and pods of a
 * live cluster, unlike a trace's, may each ask a slightly different CPU: unbounded, the set grew to hundreds of
 * shapes and a 1,000-node decision to a quarter of a second (16 shapes: p50 1.0 ms; 8: p50 0.3-0.4 ms, allocator
 * bench's mix, where every pod asks a different CPU).
 */
export const MAX_TYPICAL_SHAPES = 8;

export interface WorkloadProfile {
  readonly typical: readonly TypicalShape[];
  readonly scarceHomes: ScarceHomes;
  readonly migDemand: DemandMix;
}

/** A GPU as the profile measures shares against. */
export interface GpuSize {
  readonly memoryMiB: number;
  readonly coreUnits: number;
}

/**
 * Typical shapes: each GPU pod's first GPU container as a share of the most common GPU among `gpus` (memory or
 * cores, whichever is larger, in milli-GPU), its GPU count, CPU and GPU types. Scarce homes: see `scarceHomes`, over
 * `nodes`. MIG demand: every vGPU asking an absolute memory, counted by that memory.
 */
export function workloadProfile(gpus: readonly GpuSize[], requests: readonly PodRequest[], nodes: readonly NodeView[] = []): WorkloadProfile {
  const reference = mostCommon(gpus);
  const shapes: ShareShape[] = [];
  const demand = new Map<number, number>();
  for (const request of requests) {
    const first = request.containers.find((c) => c.gpu)?.gpu;
    if (first && reference) {
      const memoryMiB = 'mib' in first.memory ? first.memory.mib : (reference.memoryMiB * first.memory.percent) / 100;
      const share = Math.max(Math.ceil((MILLI_PER_GPU * memoryMiB) / reference.memoryMiB), Math.ceil((MILLI_PER_GPU * first.cores) / reference.coreUnits));
      shapes.push({ cpu: request.cpuMilli, milli: Math.min(MILLI_PER_GPU, share), gpus: first.count, models: request.useGpuTypes });
    }
    for (const c of request.containers) {
      if (c.gpu && 'mib' in c.gpu.memory) demand.set(c.gpu.memory.mib, (demand.get(c.gpu.memory.mib) ?? 0) + c.gpu.count);
    }
  }
  return {
    typical: typicalShapes(shapes, TYPICAL_COVERAGE, MAX_TYPICAL_SHAPES),
    scarceHomes: scarceHomes(nodes, requests),
    migDemand: { byMemoryMiB: [...demand].map(([memoryMiB, weight]) => ({ memoryMiB, weight })) },
  };
}

/**
 * A node is kept when it is a home of a shape that fewer than this share of the GPU nodes could hold. On openb the
 * 120-core 8-GPU pods fit 3% of the nodes, the next scarcest shape half of them.
 */
export const SCARCE_HOMES_SHARE = 0.1;

/**
 * Homes kept per pod of a scarce shape the scheduler knows, the emptiest first: enough for the pods like it still to
 * come, without holding every home for a shape only a few pods ask (on openb's gpuspec20, keeping all 39 homes of
 * five pods cost the model-restricted pods 4 points of acceptance; see docs/policy.md).
 */
export const KEPT_HOMES_PER_POD = 4;

/** The GPUs of a pod's first GPU container (what the typical shapes count too); 0 for a pod without GPUs. */
const gpuCountOf = (request: PodRequest): number => request.containers.find((c) => c.gpu)?.gpu?.count ?? 0;

const namesGpuTypes = (request: PodRequest): boolean => request.useGpuTypes.length + request.noUseGpuTypes.length > 0;

/**
 * The nodes kept for the pods that fit few nodes. A shape is a GPU pod's CPU, host memory and GPU count, for pods
 * that name no GPU type; its homes are the GPU nodes that could hold it empty. A shape with homes on fewer than
 * `SCARCE_HOMES_SHARE` of the GPU nodes keeps `KEPT_HOMES_PER_POD` of them per pod of it in `requests`, those with
 * the most GPU left (then by name), each with the shape's number of homes (the smallest, when several shapes keep
 * a node). A pod's own homes are counted by GPU count alone: how many nodes could hold its GPUs.
 */
export function scarceHomes(nodes: readonly NodeView[], requests: readonly PodRequest[]): ScarceHomes {
  const gpuNodes = nodes.filter((n) => n.gpus.length > 0);
  // Nodes of one capacity are alike here: shapes are checked per capacity, not per node.
  const byCapacity = new Map<string, NodeView[]>();
  for (const node of gpuNodes) {
    const key = `${node.cpuMilli}/${node.memoryMiB}/${node.gpus.length}`;
    const alike = byCapacity.get(key);
    if (alike) alike.push(node);
    else byCapacity.set(key, [node]);
  }
  const capacities = [...byCapacity.values()];
  const seen = new Map<string, { request: PodRequest; gpus: number; pods: number }>();
  for (const request of requests) {
    const gpus = gpuCountOf(request);
    if (gpus === 0 || namesGpuTypes(request)) continue;
    const shape = `${request.cpuMilli}/${request.memoryMiB}/${gpus}`;
    const entry = seen.get(shape);
    if (entry) entry.pods++;
    else seen.set(shape, { request, gpus, pods: 1 });
  }
  const keptFor = new Map<string, number>();
  for (const { request, gpus, pods } of seen.values()) {
    const homes = capacities.filter(([node]) => node !== undefined && node.cpuMilli >= request.cpuMilli && node.memoryMiB >= request.memoryMiB && node.gpus.length >= gpus);
    const count = homes.reduce((sum, alike) => sum + alike.length, 0);
    if (count === 0 || count >= SCARCE_HOMES_SHARE * gpuNodes.length) continue;
    const emptiest = homes
      .flat()
      .map((node) => ({ node, left: totalLeft(node.gpuLeft) }))
      .sort((a, b) => b.left - a.left || (a.node.name < b.node.name ? -1 : 1));
    for (const { node } of emptiest.slice(0, KEPT_HOMES_PER_POD * pods)) keptFor.set(node.name, Math.min(keptFor.get(node.name) ?? count, count));
  }
  const gpuCounts = gpuNodes.map((n) => n.gpus.length);
  const homesByGpus = new Map<number, number>();
  return {
    keptFor,
    homesOf(request) {
      if (namesGpuTypes(request)) return 0;
      const gpus = gpuCountOf(request);
      let homes = homesByGpus.get(gpus);
      if (homes === undefined) {
        homes = gpuCounts.filter((count) => count >= gpus).length;
        homesByGpus.set(gpus, homes);
      }
      return homes;
    },
  };
}

function mostCommon(gpus: readonly GpuSize[]): GpuSize | undefined {
  const kinds = new Map<string, { gpu: GpuSize; count: number }>();
  for (const gpu of gpus) {
    if (gpu.memoryMiB <= 0 || gpu.coreUnits <= 0) continue;
    const key = `${gpu.memoryMiB}/${gpu.coreUnits}`;
    const kind = kinds.get(key);
    if (kind) kind.count++;
    else kinds.set(key, { gpu, count: 1 });
  }
  let best: { gpu: GpuSize; count: number } | undefined;
  for (const kind of kinds.values()) if (!best || kind.count > best.count) best = kind;
  return best?.gpu;
}

/** The extender's default `--workload-refresh`, and the simulator's: seconds between relearning the profile. */
export const DEFAULT_REFRESH_SECONDS = 60;

/**
 * Online learning, one rule for the extender and the simulator: every `refreshMs`, the profile of the GPU pods the
 * scheduler knows and has not seen finish; a new profile only when it differs from the last one.
 */
export class ProfileLearner {
  private key = '';
  private last = Number.NEGATIVE_INFINITY;

  constructor(readonly refreshMs: number) {}

  /** Whether a refresh is due at `nowMs` (the first one always is). */
  due(nowMs: number): boolean {
    return nowMs - this.last >= this.refreshMs;
  }

  /** Relearns at `nowMs`: the profile of `requests` on `gpus` and `nodes`, or null when it is the one learned last. */
  learn(nowMs: number, gpus: readonly GpuSize[], requests: readonly PodRequest[], nodes: readonly NodeView[] = []): WorkloadProfile | null {
    this.last = nowMs;
    const profile = workloadProfile(gpus, requests, nodes);
    const kept = [...profile.scarceHomes.keptFor].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const key = JSON.stringify({ typical: profile.typical, kept, migDemand: profile.migDemand });
    if (key === this.key) return null;
    this.key = key;
    return profile;
  }
}
