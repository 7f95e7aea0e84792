/**
 * The scheduler's view of the GPUs as Prometheus series: HAMi's scheduler metric names (so HAMi dashboards keep
 * working) and Tessera's own gauges. Pure: `collectSchedulerView(view)` turns node inventories
 * (`tessera.io/node-inventory`) and pod decisions (`tessera.io/decision`) into samples. The series every mode has
 * are here; each node's sharing mode adds its own (`SharingMode.metrics`, src/modes: MIG's instances). The exporter
 * feeds it from informers; the extender can register it on its own registry with `registerSchedulerView`
 * (registry.ts).
 */
import type { BindPhase, Decision, InventoryGpu, NodeInventory } from '../api/index.js';
import { sharingMode } from '../modes/index.js';
import { SampleSet, type MetricFamily, type Samples } from './samples.js';
import type { MigProfileLookup } from '../geometry/index.js';

/** A bound pod as the scheduler sees it: its decision and where its bind stands. */
export interface ViewPod {
  decision: Decision;
  bindPhase: BindPhase | null;
}

export interface SchedulerView {
  nodes: readonly NodeInventory[];
  pods: readonly ViewPod[];
}

export interface SchedulerViewOptions {
  /** MIG profile facts (placement sizes) by GPU model, from the catalog. */
  profiles: MigProfileLookup;
  /** Also emit HAMi's pre-2.5 series the modes mark legacy (MIG's `nodeGPUMigInstance`, 0 idle, 1 used). */
  legacyMigMetric?: boolean;
  /** `hami_build_info`'s labels (build-info.ts); no build-info series without them. */
  buildInfo?: Readonly<Record<string, string>>;
}

const MIB = 1024 * 1024;
/**
 * HAMi registers its scheduler's collector through `prometheus.WrapRegistererWith({zone: "vGPU"})`, so every
 * scheduler series carries this constant label (its build info does not); dashboards filter on it.
 */
const ZONE = 'vGPU';

const GPU = ['zone', 'node', 'device_uuid', 'device_index', 'device_type'] as const;

export const SCHEDULER_VIEW_FAMILIES = {
  memoryAllocated: { name: 'hami_gpu_memory_allocated_bytes', help: 'Device memory allocated for a certain GPU.', labelNames: [...GPU, 'device_cores'] },
  coreAllocated: { name: 'hami_gpu_core_allocated_ratio', help: 'Device cores allocated for a certain GPU (percent of its SMs).', labelNames: GPU },
  sharedCount: { name: 'hami_gpu_shared_count', help: 'Number of containers sharing this GPU.', labelNames: GPU },
  memoryLimit: { name: 'hami_gpu_memory_limit_bytes', help: 'Device memory of a certain GPU.', labelNames: GPU },
  coreLimit: { name: 'hami_gpu_core_limit_ratio', help: 'Device cores of a certain GPU (100 = the whole GPU).', labelNames: GPU },
  memoryRatio: {
    name: 'hami_node_gpu_memory_allocated_ratio',
    help: "Share of a GPU's memory allocated (0-1).",
    labelNames: ['zone', 'node', 'device_uuid', 'device_index'],
  },
  overview: {
    name: 'hami_node_gpu_overview',
    help: 'GPU overview on a certain node: memory allocated, with the device capacity as labels (device_memory_limit in MiB).',
    labelNames: [...GPU, 'device_cores', 'device_memory_limit'],
  },
  vgpuMemory: {
    name: 'hami_vgpu_memory_allocated_bytes',
    help: 'vGPU memory allocated to a container.',
    labelNames: ['zone', 'namespace', 'node', 'pod', 'container_index', 'device_uuid'],
  },
  vgpuCore: {
    name: 'hami_vgpu_core_allocated_ratio',
    help: 'vGPU core allocated from a container',
    labelNames: ['zone', 'namespace', 'node', 'pod', 'container_index', 'device_uuid'],
  },
  buildInfo: {
    name: 'hami_build_info',
    help: 'hami build metadata exposed as labels with a constant value of 1.',
    labelNames: ['build_date', 'compiler', 'go_version', 'platform', 'revision', 'version'],
  },
  inFlight: { name: 'tessera_pods_in_flight', help: 'Pods bound by the scheduler whose device plugin has not confirmed yet.', labelNames: ['node'] },
  fragmentation: {
    name: 'tessera_gpu_fragmentation_ratio',
    help: "Share of the node's free GPU memory that sits on partly used GPUs (free memory no whole-GPU request can use).",
    labelNames: ['node'],
  },
} as const satisfies Record<string, MetricFamily>;

interface GpuUse {
  memoryMiB: number;
  cores: number;
  containers: number;
}

/** Live pods' use of each GPU, by GPU UUID; failed binds hold nothing. */
function gpuUse(pods: readonly ViewPod[]): Map<string, GpuUse> {
  const use = new Map<string, GpuUse>();
  for (const pod of pods) {
    if (pod.bindPhase === 'failed') continue;
    for (const container of pod.decision.containers) {
      for (const device of container.devices) {
        const entry = use.get(device.uuid) ?? { memoryMiB: 0, cores: 0, containers: 0 };
        entry.memoryMiB += device.memoryMiB;
        entry.cores += device.cores;
        entry.containers += 1;
        use.set(device.uuid, entry);
      }
    }
  }
  return use;
}

/**
 * Fragmentation of one node: free memory on GPUs that hold something, over all free memory.
 * Details: sum over partly used GPUs of (memory - allocated) / sum over all GPUs of (memory - allocated); 0 when
 * nothing is free. 0 means every free MiB sits on an empty GPU; 1 means none does.
 */
export function fragmentation(gpus: readonly InventoryGpu[], use: ReadonlyMap<string, GpuUse>): number {
  let free = 0;
  let stranded = 0;
  for (const gpu of gpus) {
    const allocated = use.get(gpu.uuid)?.memoryMiB ?? 0;
    const left = Math.max(0, gpu.memoryMiB - allocated);
    free += left;
    if (allocated > 0) stranded += left;
  }
  return free === 0 ? 0 : stranded / free;
}

/** Every scheduler-view series for the cluster. */
export function collectSchedulerView(view: SchedulerView, options: SchedulerViewOptions): Samples {
  const set = new SampleSet();
  const F = SCHEDULER_VIEW_FAMILIES;
  const use = gpuUse(view.pods);
  const inFlight = new Map<string, number>();
  for (const pod of view.pods) if (pod.bindPhase === 'allocating') inFlight.set(pod.decision.node, (inFlight.get(pod.decision.node) ?? 0) + 1);
  const onNode = new Map<string, Decision[]>();
  for (const pod of view.pods) {
    if (pod.bindPhase === 'failed') continue;
    const held = onNode.get(pod.decision.node);
    if (held) held.push(pod.decision);
    else onNode.set(pod.decision.node, [pod.decision]);
  }
  const emit = set.add.bind(set);
  const legacy = options.legacyMigMetric ?? false;
  const placementSize = (model: string, profile: string): number | undefined => options.profiles(model, profile)?.memorySlices;
  // Labels are built as literals: spreading a shared object into each one cost V8 several times more.
  for (const inventory of view.nodes) {
    const node = inventory.node;
    for (const gpu of inventory.gpus) {
      const used = use.get(gpu.uuid) ?? { memoryMiB: 0, cores: 0, containers: 0 };
      const device_uuid = gpu.uuid;
      const device_index = String(gpu.index);
      const device_type = gpu.model;
      const device_cores = String(gpu.coreUnits);
      const labels = { zone: ZONE, node, device_uuid, device_index, device_type };
      set.add(F.memoryAllocated, { zone: ZONE, node, device_uuid, device_index, device_type, device_cores }, used.memoryMiB * MIB);
      set.add(F.coreAllocated, labels, used.cores);
      set.add(F.sharedCount, labels, used.containers);
      set.add(F.memoryLimit, labels, gpu.memoryMiB * MIB);
      set.add(F.coreLimit, labels, gpu.coreUnits);
      set.add(F.memoryRatio, { zone: ZONE, node, device_uuid, device_index }, used.memoryMiB / gpu.memoryMiB);
      set.add(F.overview, { zone: ZONE, node, device_uuid, device_index, device_type, device_cores, device_memory_limit: String(gpu.memoryMiB) }, used.memoryMiB * MIB);
    }
    set.add(F.fragmentation, { node }, fragmentation(inventory.gpus, use));
    set.add(F.inFlight, { node }, inFlight.get(node) ?? 0);
    sharingMode(inventory.mode).metrics?.nodeSeries({ inventory, decisions: onNode.get(node) ?? [], placementSize, zone: ZONE, legacy }, emit);
  }
  for (const pod of view.pods) {
    if (pod.bindPhase === 'failed') continue;
    const { namespace, name } = pod.decision.pod;
    const node = pod.decision.node;
    pod.decision.containers.forEach((container, index) => {
      for (const device of container.devices) {
        const labels = { zone: ZONE, namespace, node, pod: name, container_index: String(index), device_uuid: device.uuid };
        set.add(F.vgpuMemory, labels, device.memoryMiB * MIB);
        set.add(F.vgpuCore, labels, device.cores);
      }
    });
  }
  if (options.buildInfo) set.add(F.buildInfo, { ...options.buildInfo }, 1);
  return set.samples();
}
