/**
 * What a container is told by Allocate, from the devices it was granted. Pure.
 * - hami-core: HAMi-core's environment (`NVIDIA_VISIBLE_DEVICES`, `CUDA_DEVICE_MEMORY_LIMIT_<i>`,
 *   `CUDA_DEVICE_SM_LIMIT`, `CUDA_DEVICE_MEMORY_SHARED_CACHE`) and the libvgpu.so and ld.so.preload mounts that
 *   load it, left out when the container sets `CUDA_DISABLE_CONTROL=true` (HAMi's switch).
 * - mig: the MIG device UUIDs only; the instances must exist by then.
 */
import { createHash } from 'node:crypto';
import type { DecisionDevice, NodeMode } from '../api/index.js';
import { TesseraError } from '../errors.js';
import type { ContainerAllocateResponse } from './api.js';

export interface HamiCoreMounts {
  /** Host directory holding libvgpu.so and ld.so.preload (HAMi: /usr/local/vgpu). */
  hostDir: string;
  /** Where the cache file lives inside the container. */
  cacheDir: string;
}

export const DEFAULT_HAMI_CORE_MOUNTS: HamiCoreMounts = { hostDir: '/usr/local/vgpu', cacheDir: '/usr/local/vgpu' };

function response(envs: Record<string, string>, mounts: ContainerAllocateResponse['mounts'] = []): ContainerAllocateResponse {
  return { envs, mounts, devices: [], annotations: {}, cdi_devices: [] };
}

/** The response for one container; `cacheKey` names its shared-memory cache file (stable per container grant). */
export function containerResponse(mode: NodeMode, devices: readonly DecisionDevice[], options: { controlDisabled: boolean; cacheKey: string; mounts?: HamiCoreMounts }): ContainerAllocateResponse {
  if (mode === 'mig') {
    const uuids = devices.map((d, i) => {
      if (!d.mig?.migDeviceUuid) throw new TesseraError('INTERNAL', `MIG device ${i} of the grant has no instance UUID yet`, { field: `devices.${i}.mig.migDeviceUuid` });
      return d.mig.migDeviceUuid;
    });
    return response({ NVIDIA_VISIBLE_DEVICES: uuids.join(',') });
  }
  const mounts = options.mounts ?? DEFAULT_HAMI_CORE_MOUNTS;
  const envs: Record<string, string> = { NVIDIA_VISIBLE_DEVICES: devices.map((d) => d.uuid).join(',') };
  devices.forEach((d, i) => {
    envs[`CUDA_DEVICE_MEMORY_LIMIT_${i}`] = `${d.memoryMiB}m`;
  });
  // HAMi-core takes one SM limit per container; a container's vGPUs share one gpucores request.
  envs.CUDA_DEVICE_SM_LIMIT = String(devices[0]?.cores ?? 0);
  const cache = createHash('sha256').update(options.cacheKey).digest('hex').slice(0, 32);
  envs.CUDA_DEVICE_MEMORY_SHARED_CACHE = `${mounts.cacheDir}/${cache}.cache`;
  if (options.controlDisabled) return response(envs);
  return response(envs, [
    { container_path: '/usr/local/vgpu/libvgpu.so', host_path: `${mounts.hostDir}/libvgpu.so`, read_only: true },
    { container_path: '/etc/ld.so.preload', host_path: `${mounts.hostDir}/ld.so.preload`, read_only: true },
  ]);
}
