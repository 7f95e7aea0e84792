/**
 * HAMi's vGPU monitor series (HAMi's cmd/vGPUmonitor/metrics.go, names and label sets as HAMi exports them, with
 * the `zone="vGPU"` label HAMi's registry wraps them in), from the fake operator's topology and the pods'
 * decisions: per GPU of a shared (hami-core) node its memory used and utilization, and per container and vGPU
 * its memory used, its limit (the decision's grant), its utilization and the seconds since its last kernel.
 * MIG GPUs get only `hami_mig_device_info` (which instance each container holds): HAMi's usage series come from
 * HAMi-core's shared regions, which MIG containers do not have.
 */
import type { ContainerRef, Topology, UtilizationRange } from '../topology/index.js';
import { SampleSet, type MetricFamily, type Samples } from './samples.js';
import type { ViewPod } from './scheduler-view.js';

const MIB = 1024 * 1024;
const ZONE = 'vGPU';
const HOST = ['zone', 'node', 'device_index', 'device_uuid', 'device_type'] as const;
const CONTAINER = ['zone', 'namespace', 'pod', 'container', 'vdevice_index', 'device_uuid'] as const;
const MIG_INFO = [...CONTAINER, 'mig_uuid', 'profile', 'gpu_instance_id', 'compute_instance_id'] as const;

export const HAMI_MONITOR_FAMILIES = {
  hostMemory: { name: 'hami_host_gpu_memory_used_bytes', help: 'GPU device memory usage in bytes', labelNames: HOST },
  hostUtilization: { name: 'hami_host_gpu_utilization_ratio', help: 'GPU core utilization ratio (0-100)', labelNames: HOST },
  vgpuMemoryUsed: { name: 'hami_vgpu_memory_used_bytes', help: 'vGPU device memory usage in bytes', labelNames: CONTAINER },
  vgpuMemoryLimit: { name: 'hami_vgpu_memory_limit_bytes', help: 'vGPU device memory limit in bytes', labelNames: CONTAINER },
  containerMemory: { name: 'hami_container_device_memory_bytes', help: 'Container device memory usage in bytes', labelNames: CONTAINER },
  containerUtilization: { name: 'hami_container_device_utilization_ratio', help: 'Container device SM utilization ratio', labelNames: CONTAINER },
  lastKernel: { name: 'hami_container_last_kernel_elapsed_seconds', help: 'Seconds since last kernel execution in container', labelNames: CONTAINER },
  migInfo: { name: 'hami_mig_device_info', help: 'MIG runtime identity for a container allocation', labelNames: MIG_INFO },
} as const satisfies Record<string, MetricFamily>;

/** When each container last ran a kernel: `seen(key, busy)` answers the seconds since (0 while busy). */
export interface KernelClock {
  seen(key: string, busy: boolean): number;
}

/** A kernel clock over `now` (ms): a container first seen idle counts from then. */
export function kernelClock(now: () => number): KernelClock {
  const last = new Map<string, number>();
  return {
    seen(key, busy) {
      const t = now();
      if (busy || !last.has(key)) last.set(key, t);
      return Math.floor((t - (last.get(key) ?? t)) / 1000);
    },
  };
}

export interface HamiMonitorInputs {
  topology: Pick<Topology, 'nodes'>;
  pods: readonly ViewPod[];
  pickUtilization: (range: UtilizationRange) => number;
  kernels: KernelClock;
}

/** The vGPU a container holds on `uuid` (its index among the container's devices, its memory), from its decision. */
function grantOf(pods: ReadonlyMap<string, ViewPod>, ref: ContainerRef, uuid: string): { index: number; memoryMiB: number } | undefined {
  const container = pods.get(`${ref.namespace}/${ref.pod}`)?.decision.containers.find((c) => c.name === ref.container);
  const index = container?.devices.findIndex((d) => d.uuid === uuid) ?? -1;
  const device = container?.devices[index];
  return device ? { index, memoryMiB: device.memoryMiB } : undefined;
}

/**
 * One `hami_mig_device_info` series (value 1) per MIG instance a container holds: parent GPU, instance, profile,
 * GPU instance ID and compute instance ID (Tessera makes one compute instance per GPU instance, ID 0).
 */
function addMigInfo(set: SampleSet, pods: ReadonlyMap<string, ViewPod>, gpu: Topology['nodes'][string]['gpus'][number]): void {
  for (const mig of gpu.migDevices) {
    const ref = mig.status.allocatedBy ?? Object.values(mig.status.usage).find((u) => u.allocatedBy)?.allocatedBy;
    if (!ref || mig.id === null || mig.gpuInstanceId === null) continue;
    const devices = pods.get(`${ref.namespace}/${ref.pod}`)?.decision.containers.find((c) => c.name === ref.container)?.devices ?? [];
    const index = devices.findIndex((d) => d.uuid === gpu.id && d.mig?.profile === mig.profile && (mig.position === null || d.mig.start === mig.position));
    set.add(
      HAMI_MONITOR_FAMILIES.migInfo,
      {
        zone: ZONE,
        namespace: ref.namespace,
        pod: ref.pod,
        container: ref.container,
        vdevice_index: String(Math.max(index, 0)),
        device_uuid: gpu.id,
        mig_uuid: mig.id,
        profile: mig.profile,
        gpu_instance_id: String(mig.gpuInstanceId),
        compute_instance_id: '0',
      },
      1,
    );
  }
}

export function collectHamiMonitor(inputs: HamiMonitorInputs): Samples {
  const F = HAMI_MONITOR_FAMILIES;
  const set = new SampleSet();
  const pods = new Map(inputs.pods.map((p) => [`${p.decision.pod.namespace}/${p.decision.pod.name}`, p]));
  for (const [node, topology] of Object.entries(inputs.topology.nodes)) {
    for (const gpu of topology.gpus) addMigInfo(set, pods, gpu);
    if (topology.dynamicMig) continue;
    const device_type = topology.gpuProduct.startsWith('NVIDIA') ? topology.gpuProduct : `NVIDIA-${topology.gpuProduct}`;
    topology.gpus.forEach((gpu, index) => {
      if (gpu.migDevices.length > 0) return;
      const device_uuid = gpu.id;
      let used = 0;
      let util = 0;
      for (const usage of Object.values(gpu.status.usage)) {
        const u = inputs.pickUtilization(usage.utilization);
        used += usage.fbUsedMiB;
        util += u;
        const ref = usage.allocatedBy ?? gpu.status.allocatedBy;
        if (!ref) continue;
        const grant = grantOf(pods, ref, device_uuid);
        const labels = { zone: ZONE, namespace: ref.namespace, pod: ref.pod, container: ref.container, vdevice_index: String(grant?.index ?? 0), device_uuid };
        set.add(F.vgpuMemoryUsed, labels, usage.fbUsedMiB * MIB);
        if (grant) set.add(F.vgpuMemoryLimit, labels, grant.memoryMiB * MIB);
        set.add(F.containerMemory, labels, usage.fbUsedMiB * MIB);
        set.add(F.containerUtilization, labels, u);
        set.add(F.lastKernel, labels, inputs.kernels.seen(`${node}/${device_uuid}/${ref.namespace}/${ref.pod}/${ref.container}`, u > 0));
      }
      const labels = { zone: ZONE, node, device_index: String(index), device_uuid, device_type };
      set.add(F.hostMemory, labels, used * MIB);
      set.add(F.hostUtilization, labels, Math.min(100, util));
    });
  }
  return set.samples();
}
