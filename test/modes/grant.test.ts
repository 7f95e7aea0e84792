import { describe, expect, it } from 'vitest';
import type { DecisionDevice, NodeMode } from '../../src/api/index.js';
import { DEFAULT_SHARING_HOST_PATHS, sharingMode } from '../../src/modes/index.js';

const grant = (mode: NodeMode, devices: readonly DecisionDevice[], options: { controlDisabled: boolean; cacheKey: string }) =>
  sharingMode(mode).grant(devices, { ...options, paths: DEFAULT_SHARING_HOST_PATHS });

const devices = [
  { uuid: 'GPU-a', index: 0, memoryMiB: 4000, cores: 25 },
  { uuid: 'GPU-b', index: 1, memoryMiB: 4000, cores: 25 },
];

describe("the modes' container grants", () => {
  it("gives hami-core containers HAMi-core's environment and the libvgpu mounts", () => {
    const r = grant('hami-core', devices, { controlDisabled: false, cacheKey: 'k' });
    expect(r.envs).toMatchObject({ NVIDIA_VISIBLE_DEVICES: 'GPU-a,GPU-b', CUDA_DEVICE_MEMORY_LIMIT_0: '4000m', CUDA_DEVICE_MEMORY_LIMIT_1: '4000m', CUDA_DEVICE_SM_LIMIT: '25' });
    expect(r.envs.CUDA_DEVICE_MEMORY_SHARED_CACHE).toMatch(/^\/usr\/local\/vgpu\/[0-9a-f]{32}\.cache$/);
    expect(r.mounts).toEqual([
      { container_path: '/usr/local/vgpu/libvgpu.so', host_path: '/usr/local/vgpu/libvgpu.so', read_only: true },
      { container_path: '/etc/ld.so.preload', host_path: '/usr/local/vgpu/ld.so.preload', read_only: true },
    ]);
  });

  it('leaves the mounts out when the container sets CUDA_DISABLE_CONTROL=true', () => {
    expect(grant('hami-core', devices, { controlDisabled: true, cacheKey: 'k' }).mounts).toEqual([]);
  });

  it('gives a separate cache file per container grant', () => {
    const a = grant('hami-core', devices, { controlDisabled: false, cacheKey: 'a' }).envs.CUDA_DEVICE_MEMORY_SHARED_CACHE;
    const b = grant('hami-core', devices, { controlDisabled: false, cacheKey: 'b' }).envs.CUDA_DEVICE_MEMORY_SHARED_CACHE;
    expect(a).not.toBe(b);
  });

  it('gives MIG containers their MIG device UUIDs only, and refuses an instance not made yet', () => {
    const mig = [{ uuid: 'GPU-a', index: 0, memoryMiB: 9728, cores: 14, mig: { profile: '1g.10gb', start: 0, plan: [], migDeviceUuid: 'MIG-1', gpuInstanceId: 9 } }];
    expect(grant('mig', mig, { controlDisabled: false, cacheKey: 'k' })).toEqual({ envs: { NVIDIA_VISIBLE_DEVICES: 'MIG-1' }, mounts: [] });
    expect(() => grant('mig', [{ uuid: 'GPU-a', index: 0, memoryMiB: 1, cores: 1, mig: { profile: '1g.10gb', start: 0, plan: [] } }], { controlDisabled: false, cacheKey: 'k' })).toThrow(
      /migDeviceUuid/,
    );
  });
});
