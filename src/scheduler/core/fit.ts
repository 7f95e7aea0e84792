/**
 * Whether a pod fits one node, and which devices the policy would pick there. The per-pod work is done once per
 * decision (`prepare`, kube-scheduler's PreFilter); per node, the O(1) checks come first (mode, CPU, memory, the
 * node's largest free GPU memory and cores, GPUs with a free slot), then an allocation-free scan of the GPUs.
 * Device choice runs only when something reads the placement (`placementOn`): policies that score on the totals a
 * pod adds (`added`) never pay for it on nodes that are not chosen. Verdicts are kept per node and pod shape until
 * the node changes. Outcomes follow kube-scheduler: `unresolvable` when no pod leaving the node could help.
 */
import type { ChooseInput, Policy, RunContext } from './policy.js';
import type { MigInstanceView, MigOption, MigPlanner } from './mig.js';
import { largestOf, type ClusterState, type GpuState, type NodeState, type VerdictColumn } from './state.js';
import type { DeviceOption, GpuTotals, GpuVerdict, NodePlacement } from './view.js';
import type { NodeFit } from './types.js';
import type { GpuDemand, PackingDirection, PodRequest, Reason } from '../../request/index.js';

/** What `fitNode` reads about the pod, computed once per decision. */
export interface PreparedRequest {
  readonly request: PodRequest;
  readonly policy: Policy;
  readonly context: RunContext;
  readonly gpuDirection: PackingDirection;
  readonly planner: MigPlanner | undefined;
  /** Per app container, its GPU demand or null. */
  readonly demands: readonly (GpuDemand | null)[];
  readonly gpuPod: boolean;
  /** The demand when exactly one container asks for GPUs (the common case, checked without simulation). */
  readonly single: GpuDemand | null;
  readonly filtered: boolean;
  /** Verdicts of this GPU shape (the demands and the filters). */
  readonly shapeVerdicts: VerdictColumn;
  /** Verdicts of this shape, policy, GPU direction and learned workload: what a verdict that chose devices depends on. */
  readonly choiceVerdicts: VerdictColumn;
  /** Keys the policy's node scores: this request apart from the pod's identity (see `Policy.scoreCpu`), the policy and the context. */
  readonly scoreKey: string;
}

const learnedIds = new WeakMap<object, number>();
let nextLearnedId = 1;
/** A number per learned object (by identity); 0 for none. */
function learnedId(learned: object | undefined): number {
  if (!learned) return 0;
  let id = learnedIds.get(learned);
  if (id === undefined) {
    id = nextLearnedId++;
    learnedIds.set(learned, id);
  }
  return id;
}

/** The learned workload a choice or score was made under: one made under a typical set or kept nodes is not reused under others. */
function learnedKey(context: RunContext): string {
  return `${learnedId(context.typical)}.${learnedId(context.scarceHomes)}`;
}

export function prepare(state: ClusterState, request: PodRequest, policy: Policy, context: RunContext): PreparedRequest {
  const demands = request.containers.map((c) => c.gpu);
  const withGpu = demands.filter((d): d is GpuDemand => d !== null);
  const shapeKey = JSON.stringify([demands, request.useGpuTypes, request.noUseGpuTypes, request.gpuTypeMatch, request.useGpuUuids, request.noUseGpuUuids, request.gpuMutex === true]);
  const gpuDirection = request.gpuPolicy ?? context.gpuPolicy;
  const choiceKey = `${shapeKey}|${policy.name}|${gpuDirection}|${learnedKey(context)}`;
  // A score reads the node, the placement (the choice key) and the rest of the request: every field but the pod's
  // identity, and, for a policy that reads the CPU in steps, but its CPU and host memory (kept per step instead).
  const host = policy.scoreCpu === 'steps' ? '' : `|${request.cpuMilli}|${request.memoryMiB}`;
  const scoreKey = `${choiceKey}${host}|${request.priority}|${request.mode}|${request.nodePolicy ?? context.nodePolicy}|${request.gpuPolicy}`;
  return {
    request,
    policy,
    context,
    gpuDirection,
    planner: state.migPlanner,
    demands,
    gpuPod: withGpu.length > 0,
    single: withGpu.length === 1 ? (withGpu[0] ?? null) : null,
    filtered: request.useGpuTypes.length + request.noUseGpuTypes.length + request.useGpuUuids.length + request.noUseGpuUuids.length > 0,
    shapeVerdicts: state.verdictColumn(shapeKey),
    choiceVerdicts: state.verdictColumn(choiceKey),
    scoreKey,
  };
}

function failed(node: string, outcome: NodeFit['outcome'], reason: Reason): GpuVerdict {
  return { reason, fit: { node, outcome, reasons: [reason] } };
}

/** Memory one vGPU takes on `gpu`: absolute, or a percentage of what the GPU offers (rounded down, as HAMi). */
export function memoryNeed(demand: GpuDemand, gpu: { memoryMiB: number }): number {
  return 'mib' in demand.memory ? demand.memory.mib : Math.floor((gpu.memoryMiB * demand.memory.percent) / 100);
}

/** On a MIG GPU a percentage is of the largest instance (what "the whole GPU" is to a MIG pod). */
function migMemoryNeed(demand: GpuDemand, gpu: GpuState, planner: MigPlanner): number {
  return 'mib' in demand.memory ? demand.memory.mib : memoryNeed(demand, { memoryMiB: planner.largestInstanceMiB(gpu.model) });
}

/** Whether the pod's type and UUID filters let it use `gpu`. */
export function gpuAllowed(request: PodRequest, gpu: GpuState): boolean {
  const matches = (t: string): boolean => (request.gpuTypeMatch === 'exact' ? gpu.model === t : gpu.modelLower.includes(t));
  if (request.useGpuTypes.length > 0 && !request.useGpuTypes.some(matches)) return false;
  if (request.noUseGpuTypes.some(matches)) return false;
  if (request.useGpuUuids.length > 0 && !request.useGpuUuids.includes(gpu.uuid)) return false;
  return !request.noUseGpuUuids.includes(gpu.uuid);
}

/** HAMi's `mutex` GPU policy: a GPU another task already uses is not offered. */
const takenFromMutex = (request: PodRequest, gpu: GpuState): boolean => request.gpuMutex === true && gpu.usedSlots > 0;

/** Use added on one GPU by earlier picks of the same pod. */
interface Pending {
  memoryMiB: number;
  cores: number;
  slots: number;
  /** MIG: the layout with the earlier picks' instances in it. */
  instances: readonly MigInstanceView[] | null;
  /** MIG: an earlier pick's plan changes the layout. */
  changed: boolean;
}

/** HAMi's per-GPU rules for one vGPU of `cores` units and `memory` MiB on a hami-core GPU. */
function sharedGpuFits(gpu: GpuState, splitCount: number, memory: number, cores: number, pending: Pending | undefined): boolean {
  const slots = gpu.usedSlots + (pending?.slots ?? 0);
  const usedCores = gpu.usedCores + (pending?.cores ?? 0);
  if (slots >= splitCount) return false;
  if (gpu.usedMemoryMiB + (pending?.memoryMiB ?? 0) + memory > gpu.memoryMiB) return false;
  if (usedCores + cores > gpu.coreUnits) return false;
  // All the GPU's cores means having it alone; a task asking no cores cannot join a GPU whose cores are all taken.
  if (cores >= gpu.coreUnits && slots > 0) return false;
  return !(cores === 0 && usedCores >= gpu.coreUnits);
}

/**
 * MIG options for one more instance on `gpu`, given this pod's earlier picks there. The node's verdict memo keeps
 * the result, so each GPU is planned once per pod shape and node version.
 */
function migOptions(planner: MigPlanner, gpu: GpuState, memory: number, pending: Pending | undefined): readonly MigOption[] {
  return planner.options(gpu.model, pending?.instances ?? gpu.migInstances ?? [], memory);
}

/** The instance a MIG option would hold, in core units (floored so that full layouts never exceed the GPU). */
export const migCores = (option: MigOption, gpu: { coreUnits: number }): number => Math.floor(option.computeShare * gpu.coreUnits);

/**
 * Checks one node: what the pod would add there (and the devices, when they had to be chosen to know), or why it
 * cannot go. Verdicts may be shared between calls: treat them as immutable.
 */
export function fitNode(node: NodeState, p: PreparedRequest): GpuVerdict {
  const { request } = p;
  const name = node.name;
  if (p.gpuPod && request.mode !== null && request.mode !== node.mode) {
    return failed(name, 'unresolvable', { kind: 'ModeMismatch', requested: request.mode, node: node.mode });
  }
  if (request.cpuMilli > node.cpuMilli - node.cpuUsedMilli) {
    const reason: Reason = { kind: 'InsufficientResource', resource: 'cpu', requested: request.cpuMilli, used: node.cpuUsedMilli, capacity: node.cpuMilli };
    return failed(name, request.cpuMilli > node.cpuMilli ? 'unresolvable' : 'unschedulable', reason);
  }
  if (request.memoryMiB > node.memoryMiB - node.memoryUsedMiB) {
    const reason: Reason = { kind: 'InsufficientResource', resource: 'memory', requested: request.memoryMiB, used: node.memoryUsedMiB, capacity: node.memoryMiB };
    return failed(name, request.memoryMiB > node.memoryMiB ? 'unresolvable' : 'unschedulable', reason);
  }
  if (!p.gpuPod) return NO_GPU_VERDICT;
  if (node.allocation === 'mig' && !p.planner) {
    return failed(name, 'error', { kind: 'Inconsistent', message: `node ${name} is in MIG mode but no MIG planner was given` });
  }
  // One container on a node that shares whole GPUs: counting GPUs with room decides, and the choice can wait (sharedVerdict).
  const counted = p.single !== null && node.allocation === 'shared' && (node.uniformMemory || 'mib' in p.single.memory);
  return memoizedVerdict(node, p, counted);
}

/**
 * The devices the policy picks for the pod on a node it fits: already chosen, chosen earlier for this shape and
 * policy while the node stayed as it is, or chosen now. `keep` stores a choice made now in the policy's column, so
 * a policy that reads every node's placement while ranking chooses once per node change, not once per decision;
 * `decide` does not keep its choice (the node is about to change).
 */
export function placementOn(node: NodeState, p: PreparedRequest, verdict: { readonly placement: NodePlacement | null }, keep = false): NodePlacement {
  if (verdict.placement) return verdict.placement;
  if (!p.gpuPod) return { node: node.name, containers: p.demands.map(() => []), added: NO_GPU, migLayoutChanges: 0 };
  const kept = p.choiceVerdicts.get(node);
  if (kept && 'placement' in kept && kept.placement) return kept.placement;
  const placed = place(node, eligibleOf(node, p), p);
  // fitNode counted room for every vGPU, so the choice cannot run out of devices; were that broken, the empty
  // placement makes `allocationOf` report the inconsistency instead of granting a wrong device.
  if (Array.isArray(placed)) return { node: node.name, containers: [], added: NO_GPU, migLayoutChanges: 0 };
  if (keep) p.choiceVerdicts.set(node, { added: placed.added, placement: placed });
  return placed;
}

const eligibleOf = (node: NodeState, p: PreparedRequest): readonly GpuState[] => (p.filtered ? node.healthyGpus.filter((g) => gpuAllowed(p.request, g)) : node.healthyGpus);

function refusal(node: NodeState, p: PreparedRequest, eligible: readonly GpuState[]): [NodeFit['outcome'], Reason] | null {
  if (eligible.length === 0) return noEligible(node, p.request);
  return node.allocation === 'shared' ? sharedReject(node, p, eligible) : null;
}

/**
 * The verdict depends only on the node's version and the pod's GPU shape (plus, when devices had to be chosen to
 * know it, the policy and GPU direction), so it is kept per shape and node and reused until the node changes.
 */
function memoizedVerdict(node: NodeState, p: PreparedRequest, counted: boolean): GpuVerdict {
  const column = counted ? p.shapeVerdicts : p.choiceVerdicts;
  let verdict = column.get(node);
  if (verdict === undefined) {
    verdict = counted && p.single ? sharedVerdict(node, p, p.single) : placedVerdict(node, p);
    column.set(node, verdict);
  }
  return verdict;
}

const refused = (node: NodeState, [outcome, reason]: [NodeFit['outcome'], Reason]): GpuVerdict => failed(node.name, outcome, reason);

/** One container's vGPUs go on distinct GPUs, each judged on the node as it is: counting GPUs with room decides. */
function sharedVerdict(node: NodeState, p: PreparedRequest, single: GpuDemand): GpuVerdict {
  const eligible = eligibleOf(node, p);
  const refusedNow = refusal(node, p, eligible);
  if (refusedNow) return refused(node, refusedNow);
  let room = 0;
  for (const gpu of eligible) if (!takenFromMutex(p.request, gpu) && sharedGpuFits(gpu, node.splitCount, memoryNeed(single, gpu), single.cores, undefined)) room++;
  if (room < single.count) return refused(node, shortage(node, eligible, single, p.planner));
  const memory = memoryNeed(single, eligible[0] as GpuState);
  return { added: { slots: single.count, cores: single.count * single.cores, memoryMiB: single.count * memory }, placement: null };
}

/** Several containers share GPUs, or MIG instance sizes depend on the choice: choose the devices to know. */
function placedVerdict(node: NodeState, p: PreparedRequest): GpuVerdict {
  const eligible = eligibleOf(node, p);
  const refusedNow = refusal(node, p, eligible);
  if (refusedNow) return refused(node, refusedNow);
  const placed = place(node, eligible, p);
  return Array.isArray(placed) ? refused(node, placed) : { added: placed.added, placement: placed };
}

const NO_GPU: GpuTotals = { slots: 0, cores: 0, memoryMiB: 0 };
const NO_GPU_VERDICT: GpuVerdict = { added: NO_GPU, placement: null };

function noEligible(node: NodeState, request: PodRequest): [NodeFit['outcome'], Reason] {
  if (node.gpus.length === 0) return ['unresolvable', { kind: 'TooFewGpus', requested: 1, usable: 0 }];
  if (node.healthyGpus.length === 0) return ['unschedulable', { kind: 'NoEligibleGpu', filter: 'health' }];
  const byType = node.healthyGpus.some((g) => gpuAllowed({ ...request, useGpuUuids: [], noUseGpuUuids: [] }, g));
  return ['unresolvable', { kind: 'NoEligibleGpu', filter: byType ? 'uuid' : 'type' }];
}

/**
 * Rejects a hami-core node without visiting its GPUs' use: a container wants more GPUs than pass the filters, or
 * no GPU could ever hold one vGPU (unresolvable); right now too few GPUs have a free slot, or none has the memory
 * or the cores (unschedulable).
 */
function sharedReject(node: NodeState, p: PreparedRequest, eligible: readonly GpuState[]): [NodeFit['outcome'], Reason] | null {
  const largest = p.filtered ? largestOf(eligible) : node.largestGpu;
  for (const d of p.demands) {
    if (d === null) continue;
    if (d.count > eligible.length) return ['unresolvable', { kind: 'TooFewGpus', requested: d.count, usable: eligible.length }];
    // A percentage always fits an empty GPU; only an absolute size can exceed every GPU.
    if ('mib' in d.memory && d.memory.mib > largest.memoryMiB) {
      return ['unresolvable', { kind: 'InsufficientResource', resource: 'gpumem', requested: d.memory.mib, used: 0, capacity: largest.memoryMiB }];
    }
    if (d.cores > largest.coreUnits) return ['unresolvable', { kind: 'InsufficientResource', resource: 'gpucores', requested: d.cores, used: 0, capacity: largest.coreUnits }];
    const used = node.gpuUsed;
    const capacity = node.gpuCapacity;
    if (node.gpusWithFreeSlot < d.count) return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpuslots', requested: d.count, used: used.slots, capacity: capacity.slots }];
    if ('mib' in d.memory && d.memory.mib > node.maxFreeMemoryMiB) {
      return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpumem', requested: d.memory.mib, used: used.memoryMiB, capacity: capacity.memoryMiB }];
    }
    if (d.cores > node.maxFreeCores) return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpucores', requested: d.cores, used: used.cores, capacity: capacity.cores }];
  }
  return null;
}

/** Picks devices vGPU by vGPU, each time offering the policy every device that can still serve the next one. */
function place(node: NodeState, eligible: readonly GpuState[], p: PreparedRequest): NodePlacement | [NodeFit['outcome'], Reason] {
  const { request, policy, context, gpuDirection, planner, demands } = p;
  let pending: Map<GpuState, Pending> | undefined;
  const picked: DeviceOption[][] = [];
  const added = { slots: 0, cores: 0, memoryMiB: 0 };
  for (let c = 0; c < demands.length; c++) {
    const demand = demands[c];
    const mine: DeviceOption[] = [];
    picked.push(mine);
    if (!demand) continue;
    for (let v = 0; v < demand.count; v++) {
      const options: DeviceOption[] = [];
      for (const gpu of eligible) {
        const extra = pending?.get(gpu);
        if (takenFromMutex(request, gpu)) continue;
        if (gpu.migInstances === null) {
          const memory = memoryNeed(demand, gpu);
          if (mine.some((o) => o.gpu === gpu.position)) continue;
          if (sharedGpuFits(gpu, node.splitCount, memory, demand.cores, extra)) options.push({ gpu: gpu.position, memoryMiB: memory, cores: demand.cores });
        } else if (planner && gpu.usedSlots + (extra?.slots ?? 0) < node.splitCount) {
          for (const mig of migOptions(planner, gpu, migMemoryNeed(demand, gpu, planner), extra)) {
            options.push({ gpu: gpu.position, memoryMiB: mig.memoryMiB, cores: migCores(mig, gpu), mig });
          }
        }
      }
      if (options.length === 0) return shortage(node, eligible, demand, planner);
      const input: ChooseInput = { node, request, container: c, vgpu: v, options, picked, direction: gpuDirection, context };
      const choice = options[policy.chooseDevice(input)];
      if (!choice) return ['error', { kind: 'Inconsistent', message: `policy ${policy.name} chose no device` }];
      mine.push(choice);
      added.slots += 1;
      added.cores += choice.cores;
      added.memoryMiB += choice.memoryMiB;
      pending ??= new Map();
      note(pending, node.gpus[choice.gpu] as GpuState, choice);
    }
  }
  let migLayoutChanges = 0;
  if (pending) for (const entry of pending.values()) if (entry.changed) migLayoutChanges++;
  return { node: node.name, containers: picked, added, migLayoutChanges };
}

/** Records a pick so later vGPUs of the same pod see it (and, on MIG, the layout it leaves). */
function note(pending: Map<GpuState, Pending>, gpu: GpuState, choice: DeviceOption): void {
  const entry = pending.get(gpu) ?? { memoryMiB: 0, cores: 0, slots: 0, instances: null, changed: false };
  entry.memoryMiB += choice.memoryMiB;
  entry.cores += choice.cores;
  entry.slots += 1;
  if (choice.mig) {
    entry.changed ||= choice.mig.plan.length > 0;
    entry.instances = choice.mig.layout;
  }
  pending.set(gpu, entry);
}

/** Why no device could take the next vGPU: the resource that ran out, or a MIG request no profile can hold. */
function shortage(node: NodeState, eligible: readonly GpuState[], demand: GpuDemand, planner: MigPlanner | undefined): [NodeFit['outcome'], Reason] {
  const used = node.gpuUsed;
  const capacity = node.gpuCapacity;
  if (node.allocation === 'mig' && planner) {
    const memory = Math.min(...eligible.map((g) => migMemoryNeed(demand, g, planner)));
    const model = eligible[0]?.model ?? node.model;
    if (memory > planner.largestInstanceMiB(model)) return ['unresolvable', { kind: 'NoMigProfile', model, memoryMiB: memory }];
    return ['unschedulable', { kind: 'InsufficientResource', resource: 'mig', requested: memory, used: used.memoryMiB, capacity: capacity.memoryMiB }];
  }
  const memory = Math.min(...eligible.map((g) => memoryNeed(demand, g)));
  if (eligible.filter((g) => g.usedSlots < node.splitCount).length < demand.count) {
    return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpuslots', requested: demand.count, used: used.slots, capacity: capacity.slots }];
  }
  if (eligible.filter((g) => g.memoryMiB - g.usedMemoryMiB >= memoryNeed(demand, g)).length < demand.count) {
    return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpumem', requested: memory, used: used.memoryMiB, capacity: capacity.memoryMiB }];
  }
  return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpucores', requested: demand.cores, used: used.cores, capacity: capacity.cores }];
}
