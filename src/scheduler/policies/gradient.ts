/**
 * FGD's fragment gradient on the allocator's nodes, MIG and HAMi-core alike. Each GPU is projected onto FGD's one
 * dimension (`NodeView.gpuLeft`: the fraction of the GPU its scarcer resource, memory or cores, has left, in
 * milli-GPU; none on a GPU without a free slot), and a pick takes the fraction its memory or its cores take,
 * whichever is larger. The run's typical shapes (`RunContext.typical`) are in the same units.
 *
 *   score = int(sigmoid((F(node) − F(node with the pod)) / 1000) × 100)      F: the policy's fragment measure
 *
 * GPU choice, as published: a single shared vGPU tries every option and keeps the first with the best integer
 * score; anything else takes the tightest GPU (least left after the pick). Without typical shapes every node
 * scores alike (ties go to the node rank), as FGD does with an empty typical set.
 *
 * Incremental: a node's score for a pod depends on the node, the typical set and the pod's GPU demand and CPU,
 * and on the CPU only through how many copies of each typical CPU the node keeps, up to the measure's `cpuCap`
 * (a measure reads `cpuLeft` only as min(floor(cpuLeft / t.cpu), cap) for typical shapes with GPUs). So each node
 * keeps, per GPU demand (checked against the allocator's placement on MIG nodes), the score with the range of pod CPU it holds for, until the
 * node's version or the typical set changes: a decision recomputes only the nodes changed since (at 10,000
 * nodes, the gradient of every node was 14-33 ms per decision).
 */
import type { DeviceOption, GpuView, NodePlacement, NodeView } from '../core/index.js';
import { narrowSpan, toNodeScore, type ChooseInput, type CpuSpan, type ScoreInput } from '../core/index.js';
import type { PodRequest } from '../../request/index.js';
import type { Policy } from '../core/index.js';
import { fgdScoreOf } from './fgd.js';
import { MILLI_PER_GPU, nodeFragmentation, type ShareNodeView, type TypicalShape } from './frag.js';
import { firstBy } from './gpu-choice.js';

/**
 * A node's expected fragment, and `cpuCap`: the copies of typical shape t's CPU beyond which more CPU left changes
 * nothing on a node whose GPUs have `gpuLeft` (or less) left. `scratch` (at least a slot per GPU) lets a measure in
 * the hot loop spare its own allocation.
 */
export interface FragmentMeasure {
  /** With `parts` given, a measure with a one-way part writes it to parts[0] (else leaves it alone). */
  fragment(node: ShareNodeView, typical: readonly TypicalShape[], scratch?: Float64Array, parts?: Float64Array): number;
  cpuCap(gpuLeft: ArrayLike<number>, t: TypicalShape): number;
  /**
   * The measure has a part the gradient counts only where a placement grows it (tessera's stranded capacity): a
   * pod that shrinks it scores as if it stayed (`oneWayFragment`).
   */
  readonly oneWay?: boolean;
}

/**
 * The fragment after a placement as the gradient counts it: `after`, plus what a one-way part lost from `partBefore`
 * to `partAfter` (a placement that shrinks that part gains nothing by it).
 */
export function oneWayFragment(after: number, partBefore: number, partAfter: number): number {
  return after + Math.max(0, partBefore - partAfter);
}

/** Milli-GPU a pick of `memoryMiB` and `cores` takes of `gpu`: the larger of its memory and core fractions. */
export function milliOf(gpu: GpuView, memoryMiB: number, cores: number): number {
  const byMemory = gpu.memoryMiB > 0 ? Math.ceil((MILLI_PER_GPU * memoryMiB) / gpu.memoryMiB) : MILLI_PER_GPU;
  const byCores = gpu.coreUnits > 0 ? Math.ceil((MILLI_PER_GPU * cores) / gpu.coreUnits) : 0;
  return Math.max(byMemory, byCores);
}

/** FGD's measure is blind to tasks per GPU; the projection has none to give. */
const NO_TASKS: readonly number[] = [];

/** A kept score for one GPU demand: valid for pod CPU in (cpuAbove, cpuUpTo]. */
interface Kept {
  readonly typical: readonly TypicalShape[];
  /** The allocator's placement it was computed from (null: from the node's projection). */
  readonly placement: NodePlacement | null;
  readonly cpuAbove: number;
  readonly cpuUpTo: number;
  readonly score: number;
}

/** What a node keeps while its version and the typical set stay: per GPU demand (by id), the scores of recent CPU ranges. */
interface NodeKept {
  node: NodeView;
  version: number;
  typical: readonly TypicalShape[];
  demands: number;
  byDemand: (Kept[] | undefined)[];
}

/** GPU demands numbered before the numbering starts over (a live cluster may ask ever new sizes). */
const MAX_DEMANDS = 1024;

/** CPU ranges kept per GPU demand and node version (the oldest dropped first): pods of a demand ask a few CPUs. */
const RANGES_KEPT = 8;

/** The GPU demand of a pod the kept scores serve (one GPU container, no UUID filter), as a key; null: none. */
function demandKey(request: PodRequest): string | null {
  if (request.useGpuUuids.length > 0 || request.noUseGpuUuids.length > 0 || request.gpuMutex === true) return null;
  let key = '';
  for (const c of request.containers) {
    if (!c.gpu) continue;
    if (key !== '') return null;
    const m = c.gpu.memory;
    key = `${'mib' in m ? m.mib : `${m.percent}%`}/${c.gpu.cores}/${c.gpu.count}`;
  }
  return key;
}

/** Scores and GPU choices by the gradient of `measure`, keeping each node's fragment and scores per version and mix. */
export function gradientScorer(measure: FragmentMeasure): {
  /** Narrows `span`, when given, to the CPU step the score holds for. */
  score(input: ScoreInput, span?: CpuSpan): number;
  choose(input: ChooseInput): number;
} {
  const memo = new WeakMap<NodeView, { version: number; typical: readonly TypicalShape[]; value: number; part: number }>();
  // The one-way part of the fragment, before (of the node `before` read last) and after a placement.
  const parts = new Float64Array(1);
  let partBefore = 0;
  const before = (node: NodeView, typical: readonly TypicalShape[]): number => {
    const hit = memo.get(node);
    if (hit && hit.version === node.version && hit.typical === typical) {
      partBefore = hit.part;
      return hit.value;
    }
    parts[0] = 0;
    const value = measure.fragment({ model: node.model, cpuLeft: node.cpuLeft, gpuLeft: node.gpuLeft, gpuTasks: NO_TASKS }, typical, undefined, parts);
    partBefore = parts[0];
    memo.set(node, { version: node.version, typical, value, part: partBefore });
    return value;
  };
  // Reused across calls (the allocator is single-threaded): every node scored per decision would allocate them.
  let gpuLeft = new Float64Array(8);
  let scratch = new Float64Array(8);
  const sized = (count: number): Float64Array => {
    if (gpuLeft.length < count) {
      gpuLeft = new Float64Array(count);
      scratch = new Float64Array(count);
    }
    const left = gpuLeft.subarray(0, count);
    return left;
  };
  /** The fragment after a placement, as the gradient counts it; `before` of the same node must have run first. */
  const fragmentOf = (node: NodeView, typical: readonly TypicalShape[], left: Float64Array, cpu: number): number => {
    parts[0] = 0;
    const value = measure.fragment({ model: node.model, cpuLeft: node.cpuLeft - cpu, gpuLeft: left, gpuTasks: NO_TASKS }, typical, scratch, parts);
    return measure.oneWay ? oneWayFragment(value, partBefore, parts[0]) : value;
  };
  /** The fragment of `node` after the picks of `placement` (or the one `pick`) and `cpu` milli of CPU are taken. */
  const after = (node: NodeView, typical: readonly TypicalShape[], picks: readonly (readonly DeviceOption[])[], cpu: number): number => {
    const count = node.gpuLeft.length;
    const left = sized(count);
    for (let i = 0; i < count; i++) left[i] = node.gpuLeft[i] ?? 0;
    for (const container of picks) {
      for (const o of container) {
        const gpu = node.gpus[o.gpu];
        if (gpu) left[o.gpu] = Math.max(0, (left[o.gpu] ?? 0) - milliOf(gpu, o.memoryMiB, o.cores));
      }
    }
    return fragmentOf(node, typical, left, cpu);
  };

  /**
   * The score of the best placement of `request`'s one GPU container on a HAMi-core node (the published search:
   * the best single GPU for a shared vGPU, else the tightest GPUs), from the node's projection alone; null when
   * the projection cannot tell (a GPU of another model under a type filter).
   */
  const bestScore = (node: NodeView, request: PodRequest, typical: readonly TypicalShape[]): number | null => {
    const demand = request.containers.find((c) => c.gpu)?.gpu ?? null;
    const count = node.gpuLeft.length;
    const from = before(node, typical);
    const left = sized(count);
    for (let i = 0; i < count; i++) left[i] = node.gpuLeft[i] ?? 0;
    if (!demand) return toNodeScore(fgdScoreOf(from, fragmentOf(node, typical, left, request.cpuMilli)));
    const filtered = request.useGpuTypes.length + request.noUseGpuTypes.length > 0;
    const milli: number[] = [];
    for (const gpu of node.gpus) {
      if (filtered && gpu.model !== node.model) return null;
      const memory = 'mib' in demand.memory ? demand.memory.mib : Math.floor((gpu.memoryMiB * demand.memory.percent) / 100);
      milli.push(milliOf(gpu, memory, demand.cores));
    }
    const roomy: number[] = [];
    for (let i = 0; i < count; i++) if ((left[i] ?? 0) >= (milli[i] ?? 0) && (left[i] ?? 0) > 0) roomy.push(i);
    if (roomy.length < demand.count) return null;
    if (demand.count === 1 && (milli[roomy[0] ?? 0] ?? 0) < MILLI_PER_GPU) {
      let best = -1;
      for (let k = 0; k < roomy.length; k++) {
        const i = roomy[k] as number;
        const was = left[i] ?? 0;
        // Measures see the multiset of lefts: a GPU like an earlier one scores alike.
        let seen = false;
        for (let j = 0; j < k && !seen; j++) seen = left[roomy[j] as number] === was && milli[roomy[j] as number] === milli[i];
        if (seen) continue;
        left[i] = was - (milli[i] ?? 0);
        best = Math.max(best, fgdScoreOf(from, fragmentOf(node, typical, left, request.cpuMilli)));
        left[i] = was;
      }
      return toNodeScore(best);
    }
    roomy.sort((a, b) => (left[a] ?? 0) - (milli[a] ?? 0) - ((left[b] ?? 0) - (milli[b] ?? 0)) || a - b);
    for (let k = 0; k < demand.count; k++) {
      const i = roomy[k] as number;
      left[i] = Math.max(0, (left[i] ?? 0) - (milli[i] ?? 0));
    }
    return toNodeScore(fgdScoreOf(from, fragmentOf(node, typical, left, request.cpuMilli)));
  };

  // By node ordinal: an array index is the cheapest lookup in a loop over every node.
  const kept: (NodeKept | undefined)[] = [];
  const demandIds = new Map<string, number>();
  /** Bumps when the demand numbering starts over. */
  let demands = 0;
  const byPlacement = new WeakMap<NodePlacement, Kept[]>();
  /** The number of a GPU demand key; -1 for none. */
  const demandIdOf = (key: string | null): number => {
    if (key === null) return -1;
    let id = demandIds.get(key);
    if (id === undefined) {
      if (demandIds.size >= MAX_DEMANDS) {
        demandIds.clear();
        demands++;
      }
      id = demandIds.size;
      demandIds.set(key, id);
    }
    return id;
  };
  /** Keeps `score` for the CPU range of `cpu` on the node as it is, and narrows `span` to it. */
  const keep = (ranges: Kept[], node: NodeView, cpu: number, typical: readonly TypicalShape[], placement: NodePlacement | null, score: number, span: CpuSpan | undefined): number => {
    const [cpuAbove, cpuUpTo] = cpuRange(node.cpuLeft, cpu, typical, (t) => measure.cpuCap(node.gpuLeft, t));
    if (ranges.length >= RANGES_KEPT) ranges.shift();
    ranges.push({ typical, placement, cpuAbove, cpuUpTo, score });
    if (span) narrowSpan(span, cpuAbove, cpuUpTo);
    return score;
  };
  // The key of the request scored last: a decision scores every node for one request.
  let lastRequest: PodRequest | null = null;
  let lastDemand = -1;

  return {
    score(input: ScoreInput, span?: CpuSpan): number {
      // `input.placement` chooses devices when read: only the placement path reads it.
      const { node, request, context } = input;
      const typical = context.typical ?? [];
      if (request !== lastRequest) {
        lastRequest = request;
        lastDemand = demandIdOf(demandKey(request));
      }
      const cpu = request.cpuMilli;
      // The placement path: on MIG nodes and for pods the projection cannot read, the allocator's placement (one
      // object per node version and pod shape) is what the kept scores were computed from.
      const byProjection = lastDemand >= 0 && node.allocation === 'shared';
      const placement = byProjection ? null : input.placement;
      let ranges: Kept[] | undefined;
      if (lastDemand >= 0) {
        // By node ordinal and demand number: array reads, where a map keyed by the placement cost a hash lookup
        // per node per decision.
        let mine = kept[node.ordinal];
        if (!mine || mine.node !== node) {
          mine = { node, version: node.version, typical, demands, byDemand: [] };
          kept[node.ordinal] = mine;
        } else if (mine.version !== node.version || mine.typical !== typical || mine.demands !== demands) {
          mine.version = node.version;
          mine.typical = typical;
          mine.demands = demands;
          mine.byDemand = [];
        }
        ranges = mine.byDemand[lastDemand];
        // The same demand under other type filters has another placement.
        if (!ranges || (ranges.length > 0 && ranges[0]?.placement !== placement)) {
          ranges = [];
          mine.byDemand[lastDemand] = ranges;
        }
      } else {
        ranges = byPlacement.get(input.placement);
        if (!ranges || ranges[0]?.typical !== typical) {
          ranges = [];
          byPlacement.set(input.placement, ranges);
        }
      }
      for (let i = 0; i < ranges.length; i++) {
        const r = ranges[i] as Kept;
        if (cpu > r.cpuAbove && cpu <= r.cpuUpTo) {
          if (span) narrowSpan(span, r.cpuAbove, r.cpuUpTo);
          return r.score;
        }
      }
      const projected = byProjection ? bestScore(node, request, typical) : null;
      const score = projected ?? toNodeScore(fgdScoreOf(before(node, typical), after(node, typical, input.placement.containers, cpu)));
      return keep(ranges, node, cpu, typical, placement, score, span);
    },
    choose(input: ChooseInput): number {
      const { node, options, request, context } = input;
      const typical = context.typical ?? [];
      const gpu = (o: DeviceOption): GpuView => node.gpus[o.gpu] as GpuView;
      const leftAfter = (o: DeviceOption): number => (node.gpuLeft[o.gpu] ?? 0) - milliOf(gpu(o), o.memoryMiB, o.cores);
      const demand = request.containers[input.container]?.gpu;
      const first = options[0];
      const shared = demand?.count === 1 && first !== undefined && milliOf(gpu(first), first.memoryMiB, first.cores) < MILLI_PER_GPU;
      if (!shared || typical.length === 0) return firstBy(options, (a, b) => leftAfter(a) - leftAfter(b) || a.gpu - b.gpu);
      const from = before(node, typical);
      let best = 0;
      let bestScore = -1;
      for (let i = 0; i < options.length; i++) {
        const score = fgdScoreOf(from, after(node, typical, [[options[i] as DeviceOption]], request.cpuMilli));
        if (score > bestScore) {
          best = i;
          bestScore = score;
        }
      }
      return best;
    },
  };
}

/**
 * The pod CPU range (above, upTo] over which the node keeps the same multiple of every typical CPU after the pod:
 * a measure that reads `cpuLeft` only as floor(cpuLeft / t.cpu) gives the same fragment for any pod CPU in it.
 */
export function cpuRange(cpuLeft: number, cpu: number, typical: readonly TypicalShape[], capOf: (t: TypicalShape) => number): [number, number] {
  const remaining = cpuLeft - cpu;
  let above = Number.NEGATIVE_INFINITY;
  let upTo = Number.POSITIVE_INFINITY;
  for (const t of typical) {
    if (t.cpu <= 0 || t.gpus === 0 || t.milli === 0) continue;
    const cap = capOf(t);
    const k = Math.min(cap, Math.floor(remaining / t.cpu));
    // remaining in [k·t.cpu, (k+1)·t.cpu), or at least cap·t.cpu  <=>  cpu in (cpuLeft − (k+1)·t.cpu, cpuLeft − k·t.cpu]
    if (k < cap) above = Math.max(above, cpuLeft - (k + 1) * t.cpu);
    upTo = Math.min(upTo, cpuLeft - k * t.cpu);
  }
  return [above, upTo];
}

/** FGD reads the CPU only as whether one copy of t fits. */
const fgd = gradientScorer({ fragment: nodeFragmentation, cpuCap: () => 1 });

/** FGD (fgd.ts) as an allocator policy over the projection above. */
export const fgdPolicy: Policy = { name: 'fgd', needsTypical: true, scoreCpu: 'steps', chooseDevice: fgd.choose, scoreNode: fgd.score };
