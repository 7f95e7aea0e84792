/**
 * The device IDs the plugin advertises to kubelet, and the IDs it prefers for a grant. Each GPU is offered as
 * `replicas` IDs `<GPU UUID>::<k>` (hami-core: the split count; MIG: the most instances it can hold), so kubelet's
 * record of which IDs a container holds names the GPUs the container was really given. Pure.
 */
import type { DecisionDevice } from '../api/index.js';
import { HEALTHY, UNHEALTHY, type Device } from './api.js';
import type { GpuInfo } from './backend.js';

export const replicaId = (gpuUuid: string, k: number): string => `${gpuUuid}::${k}`;
export const gpuOfReplica = (deviceId: string): string => deviceId.replace(/::\d+$/, '');

/** `numa`: tell kubelet each GPU's NUMA node (HAMi's enableNumaTopology; its Topology Manager then aligns CPUs). */
export function advertisedDevices(gpus: readonly GpuInfo[], replicas: (gpu: GpuInfo) => number, numa = true): Device[] {
  return gpus.flatMap((gpu) =>
    Array.from({ length: replicas(gpu) }, (_, k) => ({
      ID: replicaId(gpu.uuid, k),
      health: gpu.healthy ? HEALTHY : UNHEALTHY,
      topology: !numa || gpu.numa === null ? null : { nodes: [{ ID: gpu.numa }] },
    })),
  );
}

/**
 * `size` IDs from `available` that name the grant's GPUs (one per device, `mustInclude` kept), or undefined when
 * kubelet's free IDs cannot express the grant (kubelet then picks, and the grant is still what is handed out).
 */
export function preferredIds(devices: readonly DecisionDevice[], available: readonly string[], mustInclude: readonly string[], size: number): string[] | undefined {
  if (devices.length !== size) return undefined;
  const chosen: string[] = [];
  const free = available.filter((id) => !mustInclude.includes(id));
  for (const device of devices) {
    const kept = mustInclude.find((id) => gpuOfReplica(id) === device.uuid && !chosen.includes(id));
    const id = kept ?? free.find((candidate) => gpuOfReplica(candidate) === device.uuid && !chosen.includes(candidate));
    if (id === undefined) return undefined;
    chosen.push(id);
  }
  return mustInclude.every((id) => chosen.includes(id)) ? chosen : undefined;
}
