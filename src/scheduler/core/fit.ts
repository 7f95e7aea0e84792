/**
 * Whether a pod fits one node, and if so which devices the policy picks there. Node-wide checks come first and
 * cost O(1) (mode, CPU, memory, the node's largest free GPU memory and cores); only nodes that pass visit their
 * GPUs. Outcomes follow kube-scheduler: `unresolvable` when no pod leaving the node could help.
 */
import type { ChooseInput, Policy, RunContext } from '../policies/policy.js';
import type { MigInstanceView, MigOption, MigPlanner } from './mig.js';
import type { GpuState, NodeState } from './state.js';
import type { DeviceOption, NodePlacement } from './view.js';
import type { GpuDemand, NodeFit, PackingDirection, PodRequest, Reason } from './types.js';

export interface FitResult {
  readonly fit: NodeFit;
  readonly placement: NodePlacement | null;
}

const failed = (node: string, outcome: NodeFit['outcome'], reason: Reason): FitResult => ({
  fit: { node, outcome, reasons: [reason] },
  placement: null,
});

/** Memory one vGPU takes on `gpu`: absolute, or a percentage of what the GPU offers (rounded down, as HAMi). */
export function memoryNeed(demand: GpuDemand, gpu: { memoryMiB: number }): number {
  return 'mib' in demand.memory ? demand.memory.mib : Math.floor((gpu.memoryMiB * demand.memory.percent) / 100);
}

/** Whether the pod's type and UUID filters let it use `gpu`. */
export function gpuAllowed(request: PodRequest, gpu: GpuState): boolean {
  const matches = (t: string): boolean => (request.gpuTypeMatch === 'exact' ? gpu.model === t : gpu.modelLower.includes(t));
  if (request.useGpuTypes.length > 0 && !request.useGpuTypes.some(matches)) return false;
  if (request.noUseGpuTypes.some(matches)) return false;
  if (request.useGpuUuids.length > 0 && !request.useGpuUuids.includes(gpu.uuid)) return false;
  return !request.noUseGpuUuids.includes(gpu.uuid);
}

const hasFilters = (r: PodRequest): boolean =>
  r.useGpuTypes.length + r.noUseGpuTypes.length + r.useGpuUuids.length + r.noUseGpuUuids.length > 0;

/** Use added on one GPU by earlier picks of the same pod. */
interface Pending {
  memoryMiB: number;
  cores: number;
  slots: number;
  /** MIG: the layout with the earlier picks' instances in it. */
  instances: MigInstanceView[] | null;
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

function migOptions(planner: MigPlanner, gpu: GpuState, memory: number, pending: Pending | undefined): readonly MigOption[] {
  if (pending?.instances) return planner.options(gpu.model, pending.instances, memory);
  let options = gpu.planCache.get(memory);
  if (options === undefined) {
    options = planner.options(gpu.model, gpu.migInstances ?? [], memory);
    gpu.planCache.set(memory, options);
  }
  return options;
}

/** The instance a MIG option would hold, in core units (floored so that full layouts never exceed the GPU). */
export const migCores = (option: MigOption, gpu: { coreUnits: number }): number => Math.floor(option.computeShare * gpu.coreUnits);

export interface FitInputs {
  readonly request: PodRequest;
  readonly policy: Policy;
  readonly context: RunContext;
  readonly gpuDirection: PackingDirection;
  readonly planner: MigPlanner | undefined;
}

/** Checks one node and, when the pod fits, lets the policy pick its devices. */
export function fitNode(node: NodeState, inputs: FitInputs): FitResult {
  const { request } = inputs;
  const name = node.name;
  const demands = request.containers.map((c) => c.gpu);
  const gpuPod = demands.some((d) => d !== null);
  if (gpuPod && request.mode !== null && request.mode !== node.mode) {
    return failed(name, 'unresolvable', { kind: 'ModeMismatch', requested: request.mode, node: node.mode });
  }
  for (const [resource, requested, used, capacity] of [
    ['cpu', request.cpuMilli, node.cpuUsedMilli, node.cpuMilli],
    ['memory', request.memoryMiB, node.memoryUsedMiB, node.memoryMiB],
  ] as const) {
    if (requested > capacity - used) {
      return failed(name, requested > capacity ? 'unresolvable' : 'unschedulable', { kind: 'InsufficientResource', resource, requested, used, capacity });
    }
  }
  if (!gpuPod) return { fit: { node: name, outcome: 'fits', reasons: [] }, placement: { node: name, containers: demands.map(() => []), added: NO_GPU } };
  if (node.mode === 'mig' && !inputs.planner) {
    return failed(name, 'error', { kind: 'Inconsistent', message: `node ${name} is in MIG mode but no MIG planner was given` });
  }

  const eligible = eligibleGpus(node, request);
  if (!Array.isArray(eligible)) return failed(name, eligible.outcome, eligible.reason);
  const quick = node.mode === 'hami-core' ? quickReject(node, demands, eligible) : null;
  if (quick) return quick;
  return place(node, eligible, demands, inputs);
}

const NO_GPU = { slots: 0, cores: 0, memoryMiB: 0 };

function eligibleGpus(node: NodeState, request: PodRequest): GpuState[] | { outcome: NodeFit['outcome']; reason: Reason } {
  const healthy = node.gpus.filter((g) => g.healthy);
  const eligible = hasFilters(request) ? healthy.filter((g) => gpuAllowed(request, g)) : healthy;
  if (eligible.length === 0) {
    if (node.gpus.length === 0) return { outcome: 'unresolvable', reason: { kind: 'TooFewGpus', requested: 1, usable: 0 } };
    if (healthy.length === 0) return { outcome: 'unschedulable', reason: { kind: 'NoEligibleGpu', filter: 'health' } };
    const byType = healthy.some((g) => gpuAllowed({ ...request, useGpuUuids: [], noUseGpuUuids: [] }, g));
    return { outcome: 'unresolvable', reason: { kind: 'NoEligibleGpu', filter: byType ? 'uuid' : 'type' } };
  }
  for (const demand of request.containers) {
    if (demand.gpu && node.mode === 'hami-core' && demand.gpu.count > eligible.length) {
      return { outcome: 'unresolvable', reason: { kind: 'TooFewGpus', requested: demand.gpu.count, usable: eligible.length } };
    }
  }
  return eligible;
}

/**
 * Rejects a hami-core node from its summaries alone: no GPU could ever hold one vGPU (unresolvable), or, right
 * now, too few GPUs have a free slot or none has the memory or cores (unschedulable).
 */
function quickReject(node: NodeState, demands: readonly (GpuDemand | null)[], eligible: readonly GpuState[]): FitResult | null {
  for (const d of demands) {
    if (d === null) continue;
    const needs = eligible.map((g) => memoryNeed(d, g));
    if (eligible.every((g, i) => (needs[i] ?? 0) > g.memoryMiB)) {
      return failed(node.name, 'unresolvable', { kind: 'InsufficientResource', resource: 'gpumem', requested: Math.min(...needs), used: 0, capacity: Math.max(...eligible.map((g) => g.memoryMiB)) });
    }
    if (eligible.every((g) => d.cores > g.coreUnits)) {
      return failed(node.name, 'unresolvable', { kind: 'InsufficientResource', resource: 'gpucores', requested: d.cores, used: 0, capacity: Math.max(...eligible.map((g) => g.coreUnits)) });
    }
    if (node.gpusWithFreeSlot < d.count) {
      return failed(node.name, 'unschedulable', { kind: 'InsufficientResource', resource: 'gpuslots', requested: d.count, used: node.gpuUsed.slots, capacity: node.gpuCapacity.slots });
    }
    if ('mib' in d.memory && d.memory.mib > node.maxFreeMemoryMiB) {
      return failed(node.name, 'unschedulable', { kind: 'InsufficientResource', resource: 'gpumem', requested: d.memory.mib, used: node.gpuUsed.memoryMiB, capacity: node.gpuCapacity.memoryMiB });
    }
    if (d.cores > node.maxFreeCores) {
      return failed(node.name, 'unschedulable', { kind: 'InsufficientResource', resource: 'gpucores', requested: d.cores, used: node.gpuUsed.cores, capacity: node.gpuCapacity.cores });
    }
  }
  return null;
}

/** Picks devices vGPU by vGPU, each time offering the policy every device that can still serve the next one. */
function place(node: NodeState, eligible: readonly GpuState[], demands: readonly (GpuDemand | null)[], inputs: FitInputs): FitResult {
  const { request, policy, context, gpuDirection, planner } = inputs;
  const position = new Map(node.gpus.map((g, i) => [g, i]));
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
        const gpuAt = position.get(gpu) ?? -1;
        const memory = memoryNeed(demand, gpu);
        const extra = pending?.get(gpu);
        if (gpu.migInstances === null) {
          if (mine.some((o) => o.gpu === gpuAt)) continue;
          if (sharedGpuFits(gpu, node.splitCount, memory, demand.cores, extra)) options.push({ gpu: gpuAt, memoryMiB: memory, cores: demand.cores });
        } else if (planner) {
          for (const mig of migOptions(planner, gpu, memory, extra)) {
            options.push({ gpu: gpuAt, memoryMiB: mig.memoryMiB, cores: migCores(mig, gpu), mig });
          }
        }
      }
      if (options.length === 0) return failed(node.name, ...shortage(node, eligible, demand, planner));
      const input: ChooseInput = { node, request, container: c, vgpu: v, options, picked, direction: gpuDirection, context };
      const choice = options[policy.chooseDevice(input)] ?? options[0];
      if (!choice) return failed(node.name, 'error', { kind: 'Inconsistent', message: 'the policy chose no device' });
      mine.push(choice);
      added.slots += 1;
      added.cores += choice.cores;
      added.memoryMiB += choice.memoryMiB;
      pending ??= new Map();
      note(pending, node.gpus[choice.gpu] as GpuState, choice);
    }
  }
  return { fit: { node: node.name, outcome: 'fits', reasons: [] }, placement: { node: node.name, containers: picked, added } };
}

/** Records a pick so later vGPUs of the same pod see it (and, on MIG, the layout it leaves). */
function note(pending: Map<GpuState, Pending>, gpu: GpuState, choice: DeviceOption): void {
  const entry = pending.get(gpu) ?? { memoryMiB: 0, cores: 0, slots: 0, instances: null };
  entry.memoryMiB += choice.memoryMiB;
  entry.cores += choice.cores;
  entry.slots += 1;
  if (choice.mig) {
    let instances = [...(entry.instances ?? gpu.migInstances ?? [])];
    for (const op of choice.mig.plan) {
      if (op.action === 'destroy') instances = instances.filter((i) => !(i.start === op.start && i.profile === op.profile));
      else instances.push({ profile: op.profile, start: op.start, inUse: false });
    }
    instances = instances.map((i) => (i.start === choice.mig?.start && i.profile === choice.mig.profile ? { ...i, inUse: true } : i));
    entry.instances = instances.sort((a, b) => a.start - b.start);
  }
  pending.set(gpu, entry);
}

/** Why no device could take the next vGPU: the resource that ran out, or a MIG request no profile can hold. */
function shortage(node: NodeState, eligible: readonly GpuState[], demand: GpuDemand, planner: MigPlanner | undefined): [NodeFit['outcome'], Reason] {
  if (node.mode === 'mig') {
    const memory = Math.min(...eligible.map((g) => memoryNeed(demand, g)));
    const model = eligible[0]?.model ?? node.model;
    const largest = planner?.largestInstanceMiB(model) ?? 0;
    if (memory > largest) return ['unresolvable', { kind: 'NoMigProfile', model, memoryMiB: memory }];
    return ['unschedulable', { kind: 'InsufficientResource', resource: 'mig', requested: memory, used: node.gpuUsed.memoryMiB, capacity: node.gpuCapacity.memoryMiB }];
  }
  const used = node.gpuUsed;
  const capacity = node.gpuCapacity;
  if (node.gpusWithFreeSlot < demand.count) return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpuslots', requested: demand.count, used: used.slots, capacity: capacity.slots }];
  const memory = Math.min(...eligible.map((g) => memoryNeed(demand, g)));
  if (eligible.filter((g) => g.memoryMiB - g.usedMemoryMiB >= memoryNeed(demand, g)).length < demand.count) {
    return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpumem', requested: memory, used: used.memoryMiB, capacity: capacity.memoryMiB }];
  }
  return ['unschedulable', { kind: 'InsufficientResource', resource: 'gpucores', requested: demand.cores, used: used.cores, capacity: capacity.cores }];
}
