/**
 * DCGM-exporter-style series computed from the fake operator's topology, so dashboards built on real
 * dcgm-exporter work on fake nodes (seed 001 for whole GPUs, seed 000 and mig.md for MIG instances).
 *
 * - A GPU without MIG instances: `DCGM_FI_DEV_GPU_UTIL`, `_FB_USED`, `_FB_FREE` (MiB), one series per container
 *   using it (its own utilization and memory; FB_FREE is the GPU's free memory on each), or one unlabelled series
 *   when idle.
 * - A GPU with MIG instances: per instance `FB_USED`/`FB_FREE` with `GPU_I_PROFILE`, `GPU_I_ID` (the GPU instance
 *   ID, as real dcgm-exporter reports it) and `DCGM_FI_DRIVER_VERSION`; container, namespace and pod stay empty
 *   and there is no GPU_UTIL, because DCGM does not support it on MIG instances. A dynamic-MIG node (seed 000)
 *   reports no GPU_UTIL at all, even for a GPU that has no instance at the moment.
 * Pure: `pickUtilization` chooses a value in a usage's [min, max] (random at the edge, fixed in tests).
 */
import type { MigProfileLookup } from '../fakeoperator/profiles.js';
import type { ContainerRef, DeviceStatus, GpuTopology, NodeTopology, Topology, UtilizationRange } from '../fakeoperator/topology.js';
import { SampleSet, type MetricFamily, type Samples } from './samples.js';

const BASE_LABELS = ['gpu', 'UUID', 'device', 'modelName', 'Hostname', 'container', 'namespace', 'pod'] as const;
const MIG_LABELS = [...BASE_LABELS, 'GPU_I_PROFILE', 'GPU_I_ID', 'DCGM_FI_DRIVER_VERSION'] as const;

export const DCGM_FAMILIES = {
  gpuUtil: { name: 'DCGM_FI_DEV_GPU_UTIL', help: 'GPU utilization (in %).', labelNames: BASE_LABELS },
  fbUsed: { name: 'DCGM_FI_DEV_FB_USED', help: 'Framebuffer memory used (in MiB).', labelNames: MIG_LABELS },
  fbFree: { name: 'DCGM_FI_DEV_FB_FREE', help: 'Framebuffer memory free (in MiB).', labelNames: MIG_LABELS },
} as const satisfies Record<string, MetricFamily>;

export interface DcgmInputs {
  topology: Pick<Topology, 'nodes'>;
  profiles: MigProfileLookup;
  pickUtilization: (range: UtilizationRange) => number;
}

/** The midpoint of a range, rounded: the deterministic choice. */
export const midpoint = (range: UtilizationRange): number => Math.round((range.min + range.max) / 2);

function usedMiB(status: DeviceStatus): number {
  return Object.values(status.usage).reduce((sum, u) => sum + u.fbUsedMiB, 0);
}

/** The labels every series of one GPU carries: who uses it (or empty), plus MIG identity when given. */
interface GpuIdentity {
  gpu: string;
  UUID: string;
  device: string;
  modelName: string;
  Hostname: string;
}

// Labels are built as literals: spreading a shared object into each one cost V8 several times more.
function labelsOf(id: GpuIdentity, owner: ContainerRef | null): Record<string, string> {
  return { gpu: id.gpu, UUID: id.UUID, device: id.device, modelName: id.modelName, Hostname: id.Hostname, container: owner?.container ?? '', namespace: owner?.namespace ?? '', pod: owner?.pod ?? '' };
}

function addWholeGpu(set: SampleSet, inputs: DcgmInputs, id: GpuIdentity, node: NodeTopology, gpu: GpuTopology): void {
  const free = Math.max(0, node.gpuMemoryMiB - usedMiB(gpu.status));
  const users = Object.values(gpu.status.usage);
  if (users.length === 0) {
    const labels = labelsOf(id, null);
    if (!node.dynamicMig) set.add(DCGM_FAMILIES.gpuUtil, labels, 0);
    set.add(DCGM_FAMILIES.fbUsed, labels, 0);
    set.add(DCGM_FAMILIES.fbFree, labels, free);
    return;
  }
  for (const usage of users) {
    const labels = labelsOf(id, usage.allocatedBy ?? gpu.status.allocatedBy);
    if (!node.dynamicMig) set.add(DCGM_FAMILIES.gpuUtil, labels, inputs.pickUtilization(usage.utilization));
    set.add(DCGM_FAMILIES.fbUsed, labels, usage.fbUsedMiB);
    set.add(DCGM_FAMILIES.fbFree, labels, free);
  }
}

function addMigInstances(set: SampleSet, inputs: DcgmInputs, id: GpuIdentity, node: NodeTopology, gpu: GpuTopology): void {
  for (const mig of gpu.migDevices) {
    const labels = labelsOf(id, null);
    labels.GPU_I_PROFILE = mig.profile;
    labels.GPU_I_ID = mig.gpuInstanceId === null ? '' : String(mig.gpuInstanceId);
    labels.DCGM_FI_DRIVER_VERSION = node.driverVersion;
    const used = usedMiB(mig.status);
    const size = inputs.profiles(node.gpuProduct, mig.profile)?.memoryMiB ?? used;
    set.add(DCGM_FAMILIES.fbUsed, labels, used);
    set.add(DCGM_FAMILIES.fbFree, labels, Math.max(0, size - used));
  }
}

/** Every DCGM series of every node in the topology. */
export function collectDcgm(inputs: DcgmInputs): Samples {
  const set = new SampleSet();
  for (const [hostname, node] of Object.entries(inputs.topology.nodes)) {
    node.gpus.forEach((gpu, index) => {
      const id = { gpu: String(index), UUID: gpu.id, device: `nvidia${index}`, modelName: node.gpuProduct, Hostname: hostname };
      if (gpu.migDevices.length > 0) addMigInstances(set, inputs, id, node, gpu);
      else addWholeGpu(set, inputs, id, node, gpu);
    });
  }
  return set.samples();
}
