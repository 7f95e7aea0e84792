/**
 * One seed of the openb protocol with one policy, through the allocator itself (ClusterState, schedule, decide):
 * prepare the run (shuffle, inflation, node rank), schedule every pod once in order, drop failures, record
 * (allocated, arrived) after every event, and report the metric.
 *
 * The typical requests are learned online by default, as the extender learns them (`ProfileLearner`: every
 * `--workload-refresh` seconds, the profile of the GPU pods placed so far and the one arriving); openb has no
 * arrival times, so its clock moves one second per pod. `profile: 'oracle'` hands the policy the published
 * protocol's typical set of the whole trace (every original pod, CPU-only ones included, uncapped) before the
 * first pod: clairvoyant, an upper bound of what a scheduler learns, and what the FGD paper reports.
 *
 * The openb model maps onto HAMi-core nodes exactly: each GPU offers 1000 MiB and 1000 core units, so a pod's
 * milli-GPU is both its memory and its cores, and the allocator's one-dimensional projection (`NodeView.gpuLeft`)
 * is the openb milli left. Models match exactly (`gpuTypeMatch: 'exact'`), and HAMi's default of 10 tasks per GPU
 * holds (openb's smallest request is 50 milli).
 */
import { TesseraError } from '../../errors.js';
import { ClusterState, DEFAULT_RUN_CONTEXT, decide, schedule, type NodeSpec, type Policy, type RunContext } from '../../scheduler/core/index.js';
import type { PodRequest } from '../../request/index.js';
import { nodeFragmentation, typicalShapes, type ShareShape, type TypicalShape } from '../../scheduler/policies/index.js';
import { DEFAULT_REFRESH_SECONDS, ProfileLearner, scarceHomes } from '../../scheduler/policies/index.js';
import { AllocationRecorder } from '../metric.js';
import type { ProfileSource } from '../policy.js';
import { FailureLog, type FailureRow } from '../failures.js';
import type { OpenbNode, OpenbPod } from './csv.js';
import { DEFAULT_LOAD, prepareOpenbRun, totalMilli } from './protocol.js';

export interface OpenbOutcome {
  seed: number;
  placed: number;
  failed: number;
  /**
   * The published metric: mean allocation % over events at the load's arrived column (fgd.md §1); the final
   * ratio when no event falls near that column.
   */
  allocationRatio: number;
  /** Allocated / capacity after the last pod, in %. */
  finalAllocationRatio: number;
  /** Expected fragment against the typical requests, summed over nodes, as % of GPU capacity, at the end. */
  gpuFragmentation: number;
  decisions: number;
  /** Pods arrived and placed per class (podClass), so a margin shows whom it serves. */
  classes: Record<string, { arrived: number; placed: number }>;
  /** The metric at every 10 % of arrived load from 50 % up to the run's load (NaN where no event falls). */
  curve: { arrivedPercent: number; allocationRatio: number }[];
  /** Failed pods per request shape (GPUs x milli-GPU, models) and why (failures.ts). */
  failures: FailureRow[];
  /** Final milli left per GPU of every node (nodes in name order). */
  layouts: { node: string; model: string; gpuMilliLeft: number[] }[];
}

/** What one GPU offers in the openb model: milli-GPU as MiB and as core units. */
const OPENB_GPU_UNITS = 1000;
/** HAMi's default deviceSplitCount. */
const OPENB_SPLIT_COUNT = 10;

export function openbNodeSpec(node: OpenbNode): NodeSpec {
  return {
    name: node.name,
    mode: 'hami-core',
    cpuMilli: node.cpuMilli,
    memoryMiB: node.memoryMib,
    labels: {},
    splitCount: OPENB_SPLIT_COUNT,
    memoryScaling: 1,
    gpus: Array.from({ length: node.gpus }, (_, index) => ({
      uuid: `${node.name}-gpu-${index}`,
      index,
      model: node.model,
      memoryMiB: OPENB_GPU_UNITS,
      coreUnits: OPENB_GPU_UNITS,
      healthy: true,
      numa: null,
    })),
  };
}

/**
 * A pod's class for acceptance: 'cpu', 'shared' (part of one GPU), or its count of whole GPUs ('1', '2', '4',
 * '8', ...); a pod limited to some GPU models also counts under 'model-restricted'.
 */
export function podClasses(pod: OpenbPod): string[] {
  const size = pod.gpus === 0 ? 'cpu' : pod.gpus === 1 && pod.gpuMilli < 1000 ? 'shared' : String(pod.gpus);
  return pod.gpuSpec.length > 0 ? [size, 'model-restricted'] : [size];
}

/** Arrived-load columns of the allocation curve, percent. */
const CURVE_FROM = 50;
const CURVE_STEP = 10;

/** An openb request's size: GPUs x milli-GPU of each ('cpu' for a CPU-only pod). */
export function openbShape(request: PodRequest): string {
  const gpu = request.containers[0]?.gpu;
  return gpu && 'mib' in gpu.memory ? `${gpu.count} x ${gpu.memory.mib}m` : 'cpu';
}

export function openbRequest(pod: OpenbPod): PodRequest {
  return {
    pod: { uid: pod.name, namespace: 'openb', name: pod.name },
    containers: [{ name: 'main', gpu: pod.gpus > 0 ? { count: pod.gpus, memory: { mib: pod.gpuMilli }, cores: pod.gpuMilli } : null }],
    cpuMilli: pod.cpuMilli,
    memoryMiB: pod.memoryMib,
    priority: null,
    mode: null,
    useGpuTypes: pod.gpuSpec,
    noUseGpuTypes: [],
    gpuTypeMatch: 'exact',
    useGpuUuids: [],
    noUseGpuUuids: [],
    nodePolicy: null,
    gpuPolicy: null,
  };
}

export const shapeOf = (pod: OpenbPod): ShareShape => ({ cpu: pod.cpuMilli, milli: pod.gpuMilli, gpus: pod.gpus, models: pod.gpuSpec });

export function typicalOf(originals: readonly OpenbPod[]): TypicalShape[] {
  return typicalShapes(originals.map(shapeOf));
}

/** openb's virtual clock: one pod arrives per second. */
const OPENB_ARRIVAL_MS = 1000;

export interface OpenbReplayOptions {
  seed: number;
  load?: number;
  profile?: ProfileSource;
  /** Seconds between relearning the profile online (the extender's `--workload-refresh`). */
  refreshSeconds?: number;
  /** Called after each pod with (done, total), for progress display. */
  onProgress?: (done: number, total: number) => void;
}

export function replayOpenb(nodes: readonly OpenbNode[], pods: readonly OpenbPod[], policy: Policy, options: OpenbReplayOptions): OpenbOutcome {
  const load = options.load ?? DEFAULT_LOAD;
  const run = prepareOpenbRun(nodes, pods, options.seed, load);
  const oracle = typicalOf(run.originals);
  const state = new ClusterState(run.nodes.map(openbNodeSpec));
  const rank = new Map(run.nodes.map((n, i) => [n.name, run.nodeRank[i] ?? i]));
  const online = (options.profile ?? 'online') === 'online';
  const views = state.nodes();
  let context: RunContext = {
    ...DEFAULT_RUN_CONTEXT,
    nodeRank: (name) => rank.get(name),
    ...(online ? {} : { typical: oracle, scarceHomes: scarceHomes(views, run.originals.map(openbRequest)) }),
  };
  const learner = new ProfileLearner((options.refreshSeconds ?? DEFAULT_REFRESH_SECONDS) * 1000);
  const gpus = state.nodes().flatMap((n) => n.gpus);
  const known: PodRequest[] = [];
  const failures = new FailureLog(openbShape);
  const classes: Record<string, { arrived: number; placed: number }> = {};
  const recorder = new AllocationRecorder(run.capacityMilli);
  let allocated = 0;
  let arrived = 0;
  let placed = 0;
  run.pods.forEach((pod, i) => {
    arrived += totalMilli(pod);
    const request = openbRequest(pod);
    if (online && request.containers[0]?.gpu) known.push(request);
    if (online && learner.due(i * OPENB_ARRIVAL_MS)) {
      const learned = learner.learn(i * OPENB_ARRIVAL_MS, gpus, known, views);
      if (learned && policy.needsTypical) context = { ...context, typical: learned.typical, scarceHomes: learned.scarceHomes };
    }
    const top = schedule(state, request, policy, { limit: 1, explain: false, context }).ranked[0];
    const allocation = top ? decide(state, request, top.node, policy, context) : null;
    const mine = podClasses(pod).map((c) => (classes[c] ??= { arrived: 0, placed: 0 }));
    for (const c of mine) c.arrived++;
    if (allocation?.ok) {
      for (const c of mine) c.placed++;
      const applied = state.apply(allocation.value);
      if (!applied.ok) throw new TesseraError('INTERNAL', `apply of ${pod.name} failed: ${JSON.stringify(applied.error)}`);
      allocated += totalMilli(pod);
      placed++;
    } else {
      failures.record(state, request, policy, context);
      // Dropped, as the protocol drops a pod that fails: no longer a pod the scheduler knows.
      if (online && request.containers[0]?.gpu) known.pop();
    }
    recorder.record(allocated, arrived);
    options.onProgress?.(i + 1, run.pods.length);
  });
  const finalAllocationRatio = (100 * allocated) / run.capacityMilli;
  // A small trace can jump past the load's column (no event within ±1 %): the end state is then the answer.
  const column = recorder.column(Math.round(load * 100));
  const fragment = views.reduce((sum, n) => sum + nodeFragmentation({ model: n.model, cpuLeft: n.cpuLeft, gpuLeft: n.gpuLeft, gpuTasks: [] }, oracle), 0);
  return {
    seed: options.seed,
    placed,
    failed: run.pods.length - placed,
    allocationRatio: Number.isNaN(column) ? finalAllocationRatio : column,
    finalAllocationRatio,
    gpuFragmentation: (100 * fragment) / run.capacityMilli,
    decisions: run.pods.length,
    failures: failures.table(),
    classes,
    curve: Array.from({ length: Math.max(0, Math.floor((Math.round(load * 100) - CURVE_FROM) / CURVE_STEP) + 1) }, (_, k) => {
      const arrivedPercent = CURVE_FROM + k * CURVE_STEP;
      return { arrivedPercent, allocationRatio: recorder.column(arrivedPercent) };
    }),
    layouts: views.map((n) => ({ node: n.name, model: n.model, gpuMilliLeft: Array.from(n.gpuLeft) })),
  };
}
