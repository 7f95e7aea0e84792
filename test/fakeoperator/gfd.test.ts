import { describe, expect, it } from 'vitest';
import { gfdLabels, type GfdMigProfile } from '../../src/api/gfd.js';
import { labelPatch } from '../../src/kube/labels.js';
import { gfdNodeOf, nodeLabels } from '../../src/fakeoperator/node-labels.js';
import { nodeFromPool } from '../../src/topology/topology.js';
import { catalogProfiles } from '../../src/geometry/index.js';

// A100-SXM4-40GB facts from mig.md: 1g.5gb = 4864 MiB, 14 SMs, 1 compute / 1 memory slice; 3g.20gb = 19968 MiB, 42 SMs.
const p1g: GfdMigProfile = { name: '1g.5gb', memoryMiB: 4864, multiprocessors: 14, giSlices: 1, ciSlices: 1 };
const p3g: GfdMigProfile = { name: '3g.20gb', memoryMiB: 19968, multiprocessors: 42, giSlices: 3, ciSlices: 3 };
const gpu = (migInstances: GfdMigProfile[]) => ({ product: 'NVIDIA-A100-SXM4-40GB', memoryMiB: 40960, migInstances });

describe('gfdLabels', () => {
  it('describes whole GPUs under strategy none', () => {
    expect(gfdLabels({ migStrategy: 'none', gpus: [gpu([]), gpu([])] })).toEqual({
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/mig.strategy': 'none',
      'nvidia.com/gpu.count': '2',
      'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB',
      'nvidia.com/gpu.memory': '40960',
    });
  });

  it('describes the MIG devices under strategy single (count = instances across GPUs)', () => {
    expect(gfdLabels({ migStrategy: 'single', gpus: [gpu([p1g, p1g]), gpu([p1g])] })).toEqual({
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/mig.strategy': 'single',
      'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB-MIG-1g.5gb',
      'nvidia.com/gpu.count': '3',
      'nvidia.com/gpu.memory': '4864',
      'nvidia.com/gpu.multiprocessors': '14',
      'nvidia.com/gpu.slices.gi': '1',
      'nvidia.com/gpu.slices.ci': '1',
    });
  });

  it('marks a single-strategy node mixing profiles as invalid, as GFD does', () => {
    const labels = gfdLabels({ migStrategy: 'single', gpus: [gpu([p1g]), gpu([p3g])] });
    expect(labels['nvidia.com/gpu.product']).toBe('NVIDIA-A100-SXM4-40GB-MIG-INVALID');
    expect(labels['nvidia.com/gpu.count']).toBe('0');
  });

  it('adds per-profile labels under strategy mixed, with + as .', () => {
    const me: GfdMigProfile = { ...p1g, name: '1g.5gb+me' };
    const labels = gfdLabels({ migStrategy: 'mixed', gpus: [gpu([p1g, p3g]), gpu([p1g, me])] });
    expect(labels).toMatchObject({
      'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB',
      'nvidia.com/gpu.count': '2',
      'nvidia.com/mig-1g.5gb.count': '2',
      'nvidia.com/mig-1g.5gb.memory': '4864',
      'nvidia.com/mig-3g.20gb.count': '1',
      'nvidia.com/mig-3g.20gb.multiprocessors': '42',
      'nvidia.com/mig-3g.20gb.slices.gi': '3',
      'nvidia.com/mig-1g.5gb.me.count': '1',
    });
  });

  it('says gpu.present=false for a node without GPUs', () => {
    expect(gfdLabels({ migStrategy: 'none', gpus: [] })).toEqual({ 'nvidia.com/gpu.present': 'false', 'nvidia.com/mig.strategy': 'none', 'nvidia.com/gpu.count': '0' });
  });
});

describe('node labels from the topology', () => {
  it('resolves MIG facts from the catalog', () => {
    expect(catalogProfiles('NVIDIA-A100-SXM4-40GB', '3g.20gb')).toEqual({ memoryMiB: 19968, multiprocessors: 42, giSlices: 3, ciSlices: 3, memorySlices: 4 });
    expect(catalogProfiles('NVIDIA-H100-80GB-HBM3', '1g.20gb')?.multiprocessors).toBe(26);
    expect(catalogProfiles('Tesla-T4', '1g.5gb')).toBeUndefined();
  });

  it('labels a mixed node with deploy labels and per-profile MIG labels', () => {
    const node = nodeFromPool('n', { gpuProduct: 'NVIDIA-A100-SXM4-40GB', gpuCount: 1, gpuMemoryMiB: 40960, driverVersion: 'x', migStrategy: 'mixed', dynamicMig: true });
    node.gpus[0]!.migDevices.push({ id: null, profile: '1g.5gb', position: 0, gpuInstanceId: null, status: { allocatedBy: null, usage: {} } });
    expect(gfdNodeOf(node, catalogProfiles).gpus[0]?.migInstances[0]).toEqual(p1g);
    expect(nodeLabels(node, catalogProfiles)).toMatchObject({ 'nvidia.com/gpu.deploy.device-plugin': 'true', 'nvidia.com/mig-1g.5gb.count': '1' });
  });

  it('patches only what changes and removes stale GFD labels, keeping the MIG manager labels', () => {
    const current = { 'nvidia.com/gpu.count': '2', 'nvidia.com/mig-1g.5gb.count': '1', 'nvidia.com/mig.config': 'all-balanced', 'kubernetes.io/hostname': 'n' };
    expect(labelPatch(current, { 'nvidia.com/gpu.count': '2' })).toEqual({ 'nvidia.com/mig-1g.5gb.count': null });
    expect(labelPatch({ 'nvidia.com/gpu.count': '2' }, { 'nvidia.com/gpu.count': '2' })).toBeNull();
  });
});
