/**
 * Replays a timed trace on a cluster through the allocator (ClusterState, schedule, decide) with one policy and
 * MIG planner: arrivals are scheduled once (failures dropped), departures release. Idle MIG instances are kept by
 * default (`idleMigInstances: 'keep'`), as on a real node, so a later pod can reuse one. Counts MIG layout changes.
 */
import type { DemandMix } from '../../geometry/index.js';
import { ClusterState, DEFAULT_RUN_CONTEXT, decide, schedule, type Allocation, type IdleMigInstances, type NodeSpec, type NodeView, type Policy, type RunContext } from '../../scheduler/core/index.js';
import { DEFAULT_REFRESH_SECONDS, ProfileLearner, workloadProfile, type WorkloadProfile } from '../../scheduler/policies/index.js';
import type { ProfileSource } from '../policy.js';

import { TesseraError } from '../../errors.js';
import { migPlannerOf } from '../../scheduler/policies/index.js';
import type { TraceEvent } from './trace-file.js';
import { Repacker, type FailureKind } from './bound.js';

export interface GpuLayout {
  node: string;
  gpu: number;
  model: string;
  /** MIG GPUs: every instance, with the pod holding it (null: free). */
  instances?: { profile: string; start: number; pod: string | null }[];
  /** HAMi-core GPUs: the pods sharing it. */
  pods?: { pod: string; memoryMiB: number; cores: number }[];
}

export interface TraceOutcome {
  placed: number;
  failed: number;
  /**
   * GPU memory held by pods / all GPU memory, %, averaged over the trace's time span (from the first to the last
   * event): with departures, the end state alone says little.
   */
  allocationRatio: number;
  /** Free GPU memory on GPUs that cannot take the trace's most common request now, % of all GPU memory. */
  gpuFragmentation: number;
  /**
   * GPUs whose MIG layout a placement changed, once per GPU per placement: what the exporter's
   * tessera_mig_reconfigurations_total counts (one geometry change the node's device plugin applies). A reuse of
   * a free instance counts 0. Releases count nothing: idle instances are kept.
   */
  migReconfigurations: number;
  /** MIG instances created plus instances destroyed by those reconfigurations (destroying 2 and creating 1: 3). */
  migOperations: number;
  decisions: number;
  /**
   * MIG pods failed, by why (bound.ts `whyFailed`): a GPU re-carved around its running pods would have held it
   * (layout), the cluster had the memory free but on no one GPU (spread), or it had not (full).
   */
  failedBy: Record<FailureKind, number>;
  layouts: GpuLayout[];
}

/** The trace's workload on `nodes`: what tessera's MIG planner and the fragment-aware policies keep room for. */
function profileOf(nodes: readonly NodeView[], events: readonly TraceEvent[]): WorkloadProfile {
  return workloadProfile(
    nodes.flatMap((n) => n.gpus),
    events.flatMap((e) => (e.kind === 'pod' ? [e.request] : [])),
    nodes,
  );
}

export interface TraceReplayOptions {
  /** Learned online from the pods running and arriving (default), or the whole trace's before the first event. */
  profile?: ProfileSource;
  /** Seconds between relearning online (the extender's `--workload-refresh`). */
  refreshSeconds?: number;
  /** What a node does with an instance whose pod left (default 'keep', as a real node until its device plugin reclaims it). */
  idleMigInstances?: IdleMigInstances;
}

export function replayTrace(nodes: readonly NodeSpec[], events: readonly TraceEvent[], policy: Policy, options: TraceReplayOptions = {}): TraceOutcome {
  const online = (options.profile ?? 'online') === 'online';
  const state = new ClusterState(nodes, { migPlanner: migPlannerOf(policy, {}), idleMigInstances: options.idleMigInstances ?? 'keep' });
  const views = state.nodes();
  const profile = profileOf(views, events);
  if (!online) state.setMigPlanner(migPlannerOf(policy, { demand: profile.migDemand }));
  let context: RunContext = online ? DEFAULT_RUN_CONTEXT : { ...DEFAULT_RUN_CONTEXT, typical: profile.typical, scarceHomes: profile.scarceHomes };
  const learner = new ProfileLearner((options.refreshSeconds ?? DEFAULT_REFRESH_SECONDS) * 1000);
  const gpus = nodes.flatMap((n) => n.gpus);
  // What the scheduler knows online: the pods running, by key, and the one arriving.
  const known = new Map<string, TraceEvent & { kind: 'pod' }>();
  const running = new Map<string, string>();
  let placed = 0;
  let failed = 0;
  let decisions = 0;
  const repacker = new Repacker();
  const failedBy: Record<FailureKind, number> = { full: 0, spread: 0, layout: 0 };
  const capacity = nodes.reduce((sum, n) => sum + n.gpus.reduce((s, g) => s + g.memoryMiB, 0), 0);
  let held = 0;
  let heldTime = 0;
  const start = events[0]?.at ?? 0;
  let last = start;
  for (const event of events) {
    heldTime += held * (event.at - last);
    last = event.at;
    if (event.kind === 'delete') {
      const uid = running.get(event.key);
      if (uid === undefined) continue; // never placed (failed or unknown): nothing to release
      const released = state.release(uid);
      if (!released.ok) throw new TesseraError('INTERNAL', `release of ${event.key} failed: ${JSON.stringify(released.error)}`);
      running.delete(event.key);
      known.delete(event.key);
      held -= memoryOf(released.value);
      continue;
    }
    decisions++;
    if (running.has(event.key)) throw new TesseraError('INVALID_INPUT', `pod ${event.key} is already running`, { field: `line ${event.line}: pod.metadata.name` });
    if (online) {
      known.set(event.key, event);
      if (learner.due(event.at * 1000)) {
        // As the extender applies a new profile (extender/workload.ts): the planner for its demand, the typical
        // requests to a policy that reads them.
        const learned = learner.learn(
          event.at * 1000,
          gpus,
          [...known.values()].map((e) => e.request),
          views,
        );
        if (learned && policy.migPlanner) state.setMigPlanner(migPlannerOf(policy, { demand: learned.migDemand }));
        else if (learned) state.forgetVerdicts();
        if (learned && policy.needsTypical) context = { ...context, typical: learned.typical, scarceHomes: learned.scarceHomes };
      }
    }
    const top = schedule(state, event.request, policy, { limit: 1, explain: false, context }).ranked[0];
    const allocation = top ? decide(state, event.request, top.node, policy, context) : null;
    if (!allocation?.ok) {
      failed++;
      const memory = event.request.containers.find((c) => c.gpu)?.gpu?.memory;
      if (memory && 'mib' in memory) {
        const mig = state.nodes().flatMap((n) => n.gpus.filter((g) => g.migInstances !== null));
        if (mig.length > 0) failedBy[repacker.whyFailed(mig, memory.mib)]++;
      }
      known.delete(event.key);
      continue;
    }
    const applied = state.apply(allocation.value);
    if (!applied.ok) throw new TesseraError('INTERNAL', `apply of ${event.key} failed: ${JSON.stringify(applied.error)}`);
    running.set(event.key, event.request.pod.uid);
    held += memoryOf(allocation.value);
    placed++;
  }
  const migReconfigurations = state.migOpsApplied.reconfigurations;
  const migOperations = state.migOpsApplied.created + state.migOpsApplied.destroyed;
  const span = last - start;
  const allocationRatio = capacity === 0 ? 0 : span > 0 ? (100 * heldTime) / (capacity * span) : (100 * held) / capacity;
  return { placed, failed, decisions, failedBy, allocationRatio, migReconfigurations, migOperations, gpuFragmentation: fragmentationOf(state, profile.migDemand), layouts: layoutsOf(state) };
}

const memoryOf = (allocation: Allocation): number => allocation.containers.reduce((sum, c) => sum + c.devices.reduce((s, d) => s + d.memoryMiB, 0), 0);

function fragmentationOf(state: ClusterState, migDemand: DemandMix): number {
  const demand = migDemand.byMemoryMiB ?? [];
  const common = demand.reduce((best, d) => (d.weight > best.weight ? d : best), { memoryMiB: 0, weight: 0 }).memoryMiB;
  let capacity = 0;
  let stranded = 0;
  for (const node of state.nodes()) {
    for (const gpu of node.gpus) {
      capacity += gpu.memoryMiB;
      const free = gpu.memoryMiB - gpu.usedMemoryMiB;
      const usable = gpu.migInstances === null ? free >= common : (state.migPlanner?.options(gpu.model, gpu.migInstances, common).length ?? 0) > 0;
      if (!usable) stranded += free;
    }
  }
  return capacity ? (100 * stranded) / capacity : 0;
}

function layoutsOf(state: ClusterState): GpuLayout[] {
  const holders = new Map<string, { pod: string; memoryMiB: number; cores: number; mig?: { profile: string; start: number } }[]>();
  for (const allocation of state.allocations()) {
    for (const device of allocation.containers.flatMap((c) => c.devices)) {
      const list = holders.get(device.uuid) ?? [];
      list.push({
        pod: `${allocation.pod.namespace}/${allocation.pod.name}`,
        memoryMiB: device.memoryMiB,
        cores: device.cores,
        ...(device.mig ? { mig: { profile: device.mig.profile, start: device.mig.start } } : {}),
      });
      holders.set(device.uuid, list);
    }
  }
  return state.nodes().flatMap((node) =>
    node.gpus.map((gpu): GpuLayout => {
      const held = holders.get(gpu.uuid) ?? [];
      if (gpu.migInstances === null) return { node: node.name, gpu: gpu.index, model: gpu.model, pods: held.map(({ pod, memoryMiB, cores }) => ({ pod, memoryMiB, cores })) };
      return {
        node: node.name,
        gpu: gpu.index,
        model: gpu.model,
        instances: gpu.migInstances.map((i) => ({
          profile: i.profile,
          start: i.start,
          pod: held.find((h) => h.mig?.profile === i.profile && h.mig.start === i.start)?.pod ?? null,
        })),
      };
    }),
  );
}
