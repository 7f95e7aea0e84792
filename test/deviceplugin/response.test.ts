import { describe, expect, it } from 'vitest';
import { containerResponse } from '../../src/deviceplugin/response.js';

const devices = [
  { uuid: 'GPU-a', index: 0, memoryMiB: 4000, cores: 25 },
  { uuid: 'GPU-b', index: 1, memoryMiB: 4000, cores: 25 },
];

describe('containerResponse', () => {
  it("gives hami-core containers HAMi-core's environment and the libvgpu mounts", () => {
    const r = containerResponse('hami-core', devices, { controlDisabled: false, cacheKey: 'k' });
    expect(r.envs).toMatchObject({ NVIDIA_VISIBLE_DEVICES: 'GPU-a,GPU-b', CUDA_DEVICE_MEMORY_LIMIT_0: '4000m', CUDA_DEVICE_MEMORY_LIMIT_1: '4000m', CUDA_DEVICE_SM_LIMIT: '25' });
    expect(r.envs.CUDA_DEVICE_MEMORY_SHARED_CACHE).toMatch(/^\/usr\/local\/vgpu\/[0-9a-f]{32}\.cache$/);
    expect(r.mounts).toEqual([
      { container_path: '/usr/local/vgpu/libvgpu.so', host_path: '/usr/local/vgpu/libvgpu.so', read_only: true },
      { container_path: '/etc/ld.so.preload', host_path: '/usr/local/vgpu/ld.so.preload', read_only: true },
    ]);
  });

  it('leaves the mounts out when the container sets CUDA_DISABLE_CONTROL=true', () => {
    expect(containerResponse('hami-core', devices, { controlDisabled: true, cacheKey: 'k' }).mounts).toEqual([]);
  });

  it('gives a separate cache file per container grant', () => {
    const a = containerResponse('hami-core', devices, { controlDisabled: false, cacheKey: 'a' }).envs.CUDA_DEVICE_MEMORY_SHARED_CACHE;
    const b = containerResponse('hami-core', devices, { controlDisabled: false, cacheKey: 'b' }).envs.CUDA_DEVICE_MEMORY_SHARED_CACHE;
    expect(a).not.toBe(b);
  });

  it('gives MIG containers their MIG device UUIDs only, and refuses an instance not made yet', () => {
    const mig = [{ uuid: 'GPU-a', index: 0, memoryMiB: 9728, cores: 14, mig: { profile: '1g.10gb', start: 0, plan: [], migDeviceUuid: 'MIG-1', gpuInstanceId: 9 } }];
    expect(containerResponse('mig', mig, { controlDisabled: false, cacheKey: 'k' })).toEqual({ envs: { NVIDIA_VISIBLE_DEVICES: 'MIG-1' }, mounts: [], devices: [], annotations: {}, cdi_devices: [] });
    expect(() => containerResponse('mig', [{ uuid: 'GPU-a', index: 0, memoryMiB: 1, cores: 1, mig: { profile: '1g.10gb', start: 0, plan: [] } }], { controlDisabled: false, cacheKey: 'k' })).toThrow(
      /migDeviceUuid/,
    );
  });
});
