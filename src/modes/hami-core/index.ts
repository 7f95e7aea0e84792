/**
 * HAMi-core: vGPUs enforced in the container by libvgpu.so (HAMi's environment: `NVIDIA_VISIBLE_DEVICES`,
 * `CUDA_DEVICE_MEMORY_LIMIT_<i>`, `CUDA_DEVICE_SM_LIMIT`, `CUDA_DEVICE_MEMORY_SHARED_CACHE`), loaded through
 * ld.so.preload; both mounts are left out when the container turns control off.
 */
import { createHash } from 'node:crypto';
import type { SharingMode } from '../types.js';

export const hamiCoreMode: SharingMode = {
  name: 'hami-core',
  allocation: 'shared',
  enforcesCores: true,
  grant(devices, { controlDisabled, cacheKey, paths }) {
    const envs: Record<string, string> = { NVIDIA_VISIBLE_DEVICES: devices.map((d) => d.uuid).join(',') };
    devices.forEach((d, i) => {
      envs[`CUDA_DEVICE_MEMORY_LIMIT_${i}`] = `${d.memoryMiB}m`;
    });
    // HAMi-core takes one SM limit per container; a container's vGPUs share one gpucores request.
    envs.CUDA_DEVICE_SM_LIMIT = String(devices[0]?.cores ?? 0);
    const cache = createHash('sha256').update(cacheKey).digest('hex').slice(0, 32);
    envs.CUDA_DEVICE_MEMORY_SHARED_CACHE = `${paths.cacheDir}/${cache}.cache`;
    if (controlDisabled) return { envs, mounts: [] };
    return {
      envs,
      mounts: [
        { container_path: '/usr/local/vgpu/libvgpu.so', host_path: `${paths.hostDir}/libvgpu.so`, read_only: true },
        { container_path: '/etc/ld.so.preload', host_path: `${paths.hostDir}/ld.so.preload`, read_only: true },
      ],
    };
  },
};
