/**
 * DCGM-exporter-style series computed from the fake operator's topology, so dashboards built on real
 * dcgm-exporter work on fake nodes (seed 001 for whole GPUs, seed 000 and mig.md for MIG instances).
 *
 * - A GPU without MIG instances: `DCGM_FI_DEV_GPU_UTIL`, `_FB_USED`, `_FB_FREE` (MiB), one series per container
 *   using it (its own utilization and memory; FB_FREE is the GPU's free memory on each), or one unlabelled series
 *   when idle.
 * - A GPU with MIG instances: per instance `FB_USED`/`FB_FREE` with `GPU_I_PROFILE`, `GPU_I_ID` (the GPU instance
 *   ID, as real dcgm-exporter reports it) and `DCGM_FI_DRIVER_VERSION`; container, namespace and pod stay empty
 *   and there is no GPU_UTIL, because DCGM does not support it on MIG instances.
 * Pure: `pickUtilization` chooses a value in a usage's [min, max] (random at the edge, fixed in tests).
 */
import type { MigProfileLookup } from '../fakeoperator/profiles.js';
import type { DeviceStatus, GpuTopology, NodeTopology, Topology, UtilizationRange } from '../fakeoperator/topology.js';
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

function gpuLabels(hostname: string, node: NodeTopology, gpu: GpuTopology, index: number): Record<string, string> {
  return { gpu: String(index), UUID: gpu.id, device: `nvidia${index}`, modelName: node.gpuProduct, Hostname: hostname };
}

function addWholeGpu(set: SampleSet, inputs: DcgmInputs, base: Record<string, string>, node: NodeTopology, gpu: GpuTopology): void {
  const free = Math.max(0, node.gpuMemoryMiB - usedMiB(gpu.status));
  const users = Object.values(gpu.status.usage);
  if (users.length === 0) {
    const labels = { ...base, container: '', namespace: '', pod: '' };
    set.add(DCGM_FAMILIES.gpuUtil, labels, 0);
    set.add(DCGM_FAMILIES.fbUsed, labels, 0);
    set.add(DCGM_FAMILIES.fbFree, labels, free);
    return;
  }
  for (const usage of users) {
    const owner = usage.allocatedBy ?? gpu.status.allocatedBy;
    const labels = { ...base, container: owner?.container ?? '', namespace: owner?.namespace ?? '', pod: owner?.pod ?? '' };
    set.add(DCGM_FAMILIES.gpuUtil, labels, inputs.pickUtilization(usage.utilization));
    set.add(DCGM_FAMILIES.fbUsed, labels, usage.fbUsedMiB);
    set.add(DCGM_FAMILIES.fbFree, labels, free);
  }
}

function addMigInstances(set: SampleSet, inputs: DcgmInputs, base: Record<string, string>, node: NodeTopology, gpu: GpuTopology): void {
  for (const mig of gpu.migDevices) {
    const labels = {
      ...base,
      container: '',
      namespace: '',
      pod: '',
      GPU_I_PROFILE: mig.profile,
      GPU_I_ID: mig.gpuInstanceId === null ? '' : String(mig.gpuInstanceId),
      DCGM_FI_DRIVER_VERSION: node.driverVersion,
    };
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
      const base = gpuLabels(hostname, node, gpu, index);
      if (gpu.migDevices.length > 0) addMigInstances(set, inputs, base, node, gpu);
      else addWholeGpu(set, inputs, base, node, gpu);
    });
  }
  return set.samples();
}
