import { describe, expect, it } from 'vitest';
import { NODE_MODES, type DecisionDevice } from '../../src/api/index.js';
import { Registry } from 'prom-client';
import { registerSchedulerView } from '../../src/exporter/registry.js';
import { catalogProfiles } from '../../src/geometry/index.js';
import { DEFAULT_SHARING_HOST_PATHS, modeFamilies, MPS_PIPE_DIRECTORY, SHARING_MODES, sharingMode } from '../../src/modes/index.js';
import { ClusterState, decide } from '../../src/scheduler/core/index.js';
import { hamiPolicy } from '../../src/scheduler/policies/index.js';
import { node, pod } from '../scheduler/core/builders.js';

const devices: DecisionDevice[] = [
  { uuid: 'GPU-a', index: 0, memoryMiB: 4096, cores: 30 },
  { uuid: 'GPU-b', index: 1, memoryMiB: 4096, cores: 30 },
];
const options = { controlDisabled: false, cacheKey: 'n/0', paths: DEFAULT_SHARING_HOST_PATHS };

describe('the sharing-mode registry', () => {
  it('has one mode for every node mode of the wire contract, under its own name', () => {
    expect(Object.keys(SHARING_MODES).sort()).toEqual([...NODE_MODES].sort());
    for (const name of NODE_MODES) expect(sharingMode(name).name).toBe(name);
  });

  it("has the exporter register every mode's own gauges beside its own series, the legacy ones only on request", () => {
    for (const legacyMigMetric of [false, true]) {
      const registry = new Registry();
      // prom-client refuses a name registered twice: a mode family that collided with the exporter's would throw here.
      registerSchedulerView(registry, () => ({ nodes: [], pods: [] }), { profiles: catalogProfiles, legacyMigMetric });
      const names = new Set(registry.getMetricsAsArray().map((m) => m.name));
      for (const family of modeFamilies('nodeFamilies')) expect(names.has(family.name)).toBe(legacyMigMetric || family.legacy !== true);
    }
    expect(modeFamilies('nodeFamilies').length).toBeGreaterThan(0);
  });
});

describe('MPS through the seam', () => {
  it("gives each client its memory limit per visible device and its thread share, through the daemon's pipe", () => {
    const grant = sharingMode('mps').grant(devices, options);
    expect(grant.envs).toEqual({
      NVIDIA_VISIBLE_DEVICES: 'GPU-a,GPU-b',
      CUDA_MPS_PINNED_DEVICE_MEM_LIMIT: '0=4096M,1=4096M',
      CUDA_MPS_ACTIVE_THREAD_PERCENTAGE: '30',
      CUDA_MPS_PIPE_DIRECTORY: MPS_PIPE_DIRECTORY,
    });
    expect(grant.mounts).toEqual([{ container_path: MPS_PIPE_DIRECTORY, host_path: MPS_PIPE_DIRECTORY, read_only: false }]);
  });

  it('sets no limits for a container that turns control off', () => {
    const { envs } = sharingMode('mps').grant(devices, { ...options, controlDisabled: true });
    expect(envs.CUDA_MPS_PINNED_DEVICE_MEM_LIMIT).toBeUndefined();
    expect(envs.CUDA_MPS_ACTIVE_THREAD_PERCENTAGE).toBeUndefined();
  });

  it('is fitted like HAMi-core by the allocator, and serves only pods that ask for it or for no mode', () => {
    const state = new ClusterState([node('p', 'mps').gpus(1).spec(), node('h').gpus(1).spec()]);
    const mps = pod('mps').container({ 'nvidia.com/gpu': 1, 'nvidia.com/gpumem': 10_000, 'nvidia.com/gpucores': 25 }).annotate('nvidia.com/vgpu-mode', 'mps').request();
    const decided = decide(state, mps, 'p', hamiPolicy);
    expect(decided).toMatchObject({ ok: true, value: { node: 'p', containers: [{ devices: [{ memoryMiB: 10_000, cores: 25 }] }] } });
    expect(decide(state, mps, 'h', hamiPolicy)).toMatchObject({ ok: false, error: { reasons: [{ kind: 'ModeMismatch', requested: 'mps', node: 'hami-core' }] } });
    const hami = pod('hami').container({ 'nvidia.com/gpu': 1 }).annotate('nvidia.com/vgpu-mode', 'hami-core').request();
    expect(decide(state, hami, 'p', hamiPolicy)).toMatchObject({ ok: false, error: { reasons: [{ kind: 'ModeMismatch', requested: 'hami-core', node: 'mps' }] } });
    expect(decide(state, pod('any').container({ 'nvidia.com/gpu': 1 }).request(), 'p', hamiPolicy)).toMatchObject({ ok: true });
  });
});
