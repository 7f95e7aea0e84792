/**
 * One allocator decision on a large cluster: filter every node, score those that fit, choose the devices on the
 * best, apply the allocation, then release it so the fill level stays put. Clusters of 8-GPU A100 nodes, half
 * MIG and half hami-core, filled to ~80% of their GPU memory with a mix of shared and whole-GPU pods (pods name no
 * vgpu-mode, so every node is a candidate). Targets: p99 <= 1 ms at 1,000 nodes, <= 5 ms
 * at 10,000; heap <= 2 KiB per GPU.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { loadDeviceConfig } from '../src/config/device-config.js';
import { ClusterState, createGeometryPlanner, decide, eachFit, schedule, type FitOptions, type NodeMode, type NodeSpec, type ScheduleOptions } from '../src/scheduler/core/index.js';
import type { GpuDemand, PodRequest } from '../src/request/index.js';
import { extenderDeviceOptions } from '../src/scheduler/extender/device-options.js';
import { tesseraMigPlanner } from '../src/scheduler/policies/frag-mig.js';
import { DEFAULT_RUN_CONTEXT, type RunContext } from '../src/scheduler/core/index.js';
import { workloadProfile } from '../src/scheduler/policies/workload.js';
import { fgdPolicy, hamiPolicy, tesseraPolicy } from '../src/scheduler/policies/index.js';
import type { Policy } from '../src/scheduler/core/index.js';
import { mulberry32 } from '../src/simulator/rng.js';
import { heapGrowthMiB, measure, percentile, type BenchResult, type BenchSuite } from './harness.js';

const GPUS_PER_NODE = 8;
const GPU_MEMORY_MIB = 40_960;
const FILL = 0.8;

function nodeSpec(i: number): NodeSpec {
  const name = `node-${String(i).padStart(5, '0')}`;
  const mode: NodeMode = i % 2 === 0 ? 'mig' : 'hami-core';
  return {
    name,
    mode,
    cpuMilli: 128_000,
    memoryMiB: 1024 * 1024,
    labels: {},
    splitCount: 10,
    memoryScaling: 1,
    gpus: Array.from({ length: GPUS_PER_NODE }, (_, index) => ({
      uuid: `GPU-${name}-${index}`,
      index,
      model: 'NVIDIA A100-SXM4-40GB',
      memoryMiB: GPU_MEMORY_MIB,
      coreUnits: 100,
      healthy: true,
      numa: index < GPUS_PER_NODE / 2 ? 0 : 1,
    })),
  };
}

/** The pod mix: mostly shared slices of one GPU, some whole GPUs, a few multi-GPU pods. */
function requestMix(rng: () => number, count: number): PodRequest[] {
  const shapes: GpuDemand[] = [
    { count: 1, memory: { mib: 4096 }, cores: 10 },
    { count: 1, memory: { mib: 10_240 }, cores: 25 },
    { count: 1, memory: { percent: 50 }, cores: 50 },
    { count: 1, memory: { percent: 100 }, cores: 100 },
    { count: 2, memory: { mib: 20_480 }, cores: 50 },
    { count: 4, memory: { percent: 100 }, cores: 100 },
  ];
  const weights = [0.35, 0.25, 0.15, 0.15, 0.07, 0.03];
  return Array.from({ length: count }, (_, i) => {
    let r = rng();
    let shape = 0;
    while (shape < weights.length - 1 && r >= (weights[shape] ?? 0)) r -= weights[shape++] ?? 0;
    const uid = `pod-${i}`;
    return {
      pod: { uid, namespace: 'bench', name: uid },
      containers: [{ name: 'main', gpu: shapes[shape] ?? null }],
      cpuMilli: 1000 + Math.floor(rng() * 4000),
      memoryMiB: 2048 + Math.floor(rng() * 8192),
      priority: null,
      mode: null,
      useGpuTypes: [],
      noUseGpuTypes: [],
      gpuTypeMatch: 'substring',
      useGpuUuids: [],
      noUseGpuUuids: [],
      nodePolicy: null,
      gpuPolicy: null,
    };
  });
}

/** Fills the cluster to FILL of its GPU memory, spreading pods over random nodes (first fit from a random start). */
function fill(state: ClusterState, nodes: readonly NodeSpec[], rng: () => number): number {
  const capacity = nodes.length * GPUS_PER_NODE * GPU_MEMORY_MIB;
  let used = 0;
  let misses = 0;
  let uid = 0;
  while (used < FILL * capacity && misses < 1000) {
    const [request] = requestMix(rng, 1);
    if (!request) break;
    const start = Math.floor(rng() * nodes.length);
    let placed = false;
    for (let k = 0; k < 20 && !placed; k++) {
      const spec = nodes[(start + k) % nodes.length] as NodeSpec;
      const decided = decide(state, { ...request, pod: { ...request.pod, uid: `fill-${uid}` } }, spec.name, hamiPolicy);
      if (decided.ok && state.apply(decided.value).ok) {
        used += decided.value.containers.reduce((s, c) => s + c.devices.reduce((d, x) => d + x.memoryMiB, 0), 0);
        placed = true;
        uid++;
      }
    }
    misses = placed ? 0 : misses + 1;
  }
  return used / capacity;
}

function clusterBench(nodeCount: number): BenchResult[] {
  const rng = mulberry32(nodeCount);
  const specs = Array.from({ length: nodeCount }, (_, i) => nodeSpec(i));
  const { value: state, heapMiB } = heapGrowthMiB(() => {
    const built = new ClusterState(specs, { migPlanner: createGeometryPlanner() });
    fill(built, specs, rng);
    return built;
  });
  const gpus = nodeCount * GPUS_PER_NODE;
  const used = state.nodes().reduce((s, n) => s + n.gpuUsed.memoryMiB, 0) / state.nodes().reduce((s, n) => s + n.gpuCapacity.memoryMiB, 0);
  const requests = requestMix(rng, 512);
  let tried = 0;
  let placed = 0;
  let failures = 0;
  // How a decision finds its node: the best of `schedule`'s ranking, or the best score `eachFit` visits (what the
  // extender's filter computes; kube-scheduler ranks).
  type Pick = (policy: Policy, request: PodRequest) => string | undefined;
  const ranked =
    (options: ScheduleOptions = {}): Pick =>
    (policy, request) => {
      const result = schedule(state, request, policy, options);
      failures += result.failed.length;
      return result.ranked[0]?.node;
    };
  const scored =
    (options: FitOptions = {}): Pick =>
    (policy, request) => {
      let best: { node: string; score: number } | undefined;
      // Every failed node is explained, as the extender's filter asks when it answers every node.
      eachFit(
        state,
        request,
        policy,
        options,
        (fit) => {
          if (!best || fit.score > best.score) best = { node: fit.node, score: fit.score };
        },
        () => failures++,
      );
      return best?.node;
    };
  const decision = (policy: Policy, i: number, pick: Pick, context: RunContext | undefined): void => {
    const request = requests[i % requests.length] as PodRequest;
    tried++;
    const node = pick(policy, request);
    if (!node) return;
    const allocation = decide(state, request, node, policy, context);
    if (allocation.ok && state.apply(allocation.value).ok) {
      placed++;
      state.release(request.pod.uid);
    }
  };
  const target = nodeCount >= 10_000 ? 5 : 1;
  const run = (policy: Policy, label: string, pick: Pick = ranked(), context?: RunContext): BenchResult => {
    // CPU time per decision beside the wall clock: on a shared machine the wall clock also counts time spent
    // waiting for a core.
    const cpu: number[] = [];
    failures = 0;
    const result = measure(
      `allocator decision ${nodeCount} nodes, ${policy.name} (${label})`,
      (i) => {
        const before = process.cpuUsage();
        decision(policy, i, pick, context);
        const used = process.cpuUsage(before);
        cpu.push((used.user + used.system) / 1000);
      },
      { minMs: 2000, warmup: WARMUP },
    );
    const measured = cpu.slice(WARMUP).sort((a, b) => a - b);
    return {
      ...result,
      extra: {
        cpuP50Ms: percentile(measured, 50).toFixed(3),
        cpuP99Ms: percentile(measured, 99).toFixed(3),
        // Failed nodes explained per decision (a reason each).
        explained: Math.round(failures / cpu.length),
        targetP99Ms: target,
        loadAvg1m: loadavg()[0]?.toFixed(1) ?? '',
      },
    };
  };
  // HAMi's formula reads totals only; tessera (the default) also reads each MIG node's placement.
  const full = run(hamiPolicy, 'all ranked, reasons');
  // The default stack: tessera with its own MIG planner (what `tessera scheduler` runs).
  state.setMigPlanner(tesseraMigPlanner());
  const tesseraFull = run(tesseraPolicy, 'all ranked, reasons');
  // What the extender's filter asks: every fitting node scored, with reasons, in no order (kube-scheduler ranks).
  const tesseraScored = run(tesseraPolicy, 'all scored unsorted, reasons', scored());
  // The same under HAMi v2.10's migProfileAllowlist, as the extender plans with it.
  const allowlistPlanner = hamiV210Planner();
  let allowlisted: BenchResult[] = [];
  if (allowlistPlanner) {
    state.setMigPlanner(allowlistPlanner);
    allowlisted = [run(tesseraPolicy, 'all scored unsorted, reasons, HAMi v2.10 migProfileAllowlist', scored())];
    state.setMigPlanner(tesseraMigPlanner());
  }
  const best = run(tesseraPolicy, 'best only', ranked({ limit: 1 }));
  // fgd as the extender runs it (extender/workload.ts learns the typical requests for it): every node scored by the
  // fragment gradient. Every pod of this mix asks a different CPU, so no node's score is reused across decisions.
  const profile = workloadProfile([{ memoryMiB: GPU_MEMORY_MIB, coreUnits: 100 }], requests, state.nodes());
  const learnedContext = { ...DEFAULT_RUN_CONTEXT, typical: profile.typical, scarceHomes: profile.scarceHomes };
  const learned = run(fgdPolicy, 'learned typical requests, all scored unsorted', scored({ context: learnedContext }), learnedContext);
  // tessera as the extender runs it: the same learned requests, its HAMi-core gradient on every HAMi-core node.
  const tesseraLearned = run(tesseraPolicy, 'learned typical requests, all scored unsorted', scored({ context: learnedContext }), learnedContext);
  return [
    { ...full, heapMiB, extra: { ...full.extra, gpus, fill: used.toFixed(3), bytesPerGpu: Math.round((heapMiB * 1024 * 1024) / gpus), placedShare: (placed / tried).toFixed(2) } },
    tesseraFull,
    tesseraScored,
    ...allowlisted,
    best,
    learned,
    { ...tesseraLearned, extra: { ...tesseraLearned.extra, keptNodes: profile.scarceHomes.keptFor.size } },
  ];
}

const WARMUP = 50;

/** The MIG planner `tessera scheduler` builds from HAMi v2.10's shipped device config (../shared); none without it. */
function hamiV210Planner(): ReturnType<typeof tesseraMigPlanner> | undefined {
  let text: string;
  try {
    text = readFileSync(resolve(import.meta.dirname, '../../shared/data/hami/v2.10.0/device-config.yaml'), 'utf8');
  } catch {
    return undefined;
  }
  const config = loadDeviceConfig(text);
  if (!config.ok) throw config.error;
  return extenderDeviceOptions(config.value, tesseraPolicy).migPlanner;
}

export const allocatorBench: BenchSuite = {
  name: 'allocator',
  async run() {
    return [...clusterBench(1000), ...clusterBench(10_000)];
  },
};
