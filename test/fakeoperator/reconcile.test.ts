import { describe, expect, it } from 'vitest';
import { TESSERA_NODE, TESSERA_POD } from '../../src/api/annotations.js';
import { encodeDecision } from '../../src/api/decision.js';
import { encodeInventory } from '../../src/api/inventory.js';
import { reconcileNode, type PodFacts } from '../../src/fakeoperator/reconcile.js';
import { RUNAI } from '../../src/fakeoperator/runai.js';
import { parseNodeTopology, renderNodeTopology } from '../../src/topology/topology.js';
import { UTILIZATION_ANNOTATIONS } from '../../src/fakeoperator/utilization.js';
import { decision, inventoryOf, topologyNode } from './fixtures.js';
import { catalogProfiles } from '../../src/geometry/index.js';

const hami = topologyNode('h1', 'NVIDIA-A100-SXM4-80GB', 81920, 2);
const [g0, g1] = hami.gpus.map((g) => g.id) as [string, string];
const node = (annotations: Record<string, string> = {}, labels: Record<string, string> = {}) => ({ name: 'h1', labels, annotations });
const running = (uid: string, annotations: Record<string, string>, containers = ['main']): PodFacts => ({ uid, namespace: 'team', name: `pod-${uid}`, containers, annotations, runningSinceMs: 0 });

describe('reconcileNode', () => {
  it('attributes each container of a multi-container pod to its own GPU share', () => {
    const d = decision({ uid: 'u1', name: 'pod-u1', namespace: 'team' }, 'h1', [
      ['a', [{ uuid: g0, index: 0, memoryMiB: 10000, cores: 30 }]],
      ['b', [{ uuid: g0, index: 0, memoryMiB: 5000, cores: 20 }]],
      ['sidecar', []],
    ]);
    const pod = running('u1', { [TESSERA_POD.decision]: encodeDecision(d), [UTILIZATION_ANNOTATIONS.fixed]: '40-60' }, ['a', 'b', 'sidecar']);
    const { topology, problems } = reconcileNode({ base: hami, node: node(), pods: [pod], nowMs: 1000, profiles: catalogProfiles });
    expect(problems).toEqual([]);
    expect(topology.gpus[0]?.status).toEqual({
      allocatedBy: { namespace: 'team', pod: 'pod-u1', container: 'a' },
      usage: {
        'u1/a': { utilization: { min: 40, max: 60 }, fbUsedMiB: 10000, isInferencePod: false, allocatedBy: { namespace: 'team', pod: 'pod-u1', container: 'a' } },
        'u1/b': { utilization: { min: 40, max: 60 }, fbUsedMiB: 5000, isInferencePod: false, allocatedBy: { namespace: 'team', pod: 'pod-u1', container: 'b' } },
      },
    });
    expect(topology.gpus[1]?.status).toEqual({ allocatedBy: null, usage: {} });
  });

  it('ignores pods that are not running, and rebuilds status from scratch', () => {
    const d = decision({ uid: 'u2', name: 'pod-u2', namespace: 'team' }, 'h1', [['main', [{ uuid: g1, index: 1, memoryMiB: 1000, cores: 10 }]]]);
    const pod = { ...running('u2', { [TESSERA_POD.decision]: encodeDecision(d) }), runningSinceMs: null };
    const first = reconcileNode({ base: hami, node: node(), pods: [running('u2', { [TESSERA_POD.decision]: encodeDecision(d) })], nowMs: 0, profiles: catalogProfiles });
    expect(first.topology.gpus[1]?.status.usage.u2?.utilization).toEqual({ min: 100, max: 100 });
    const second = reconcileNode({ base: first.topology, node: node(), pods: [pod], nowMs: 0, profiles: catalogProfiles });
    expect(second.topology.gpus[1]?.status).toEqual({ allocatedBy: null, usage: {} });
  });

  it('reports decisions for other nodes or unknown GPUs without using them', () => {
    const elsewhere = decision({ uid: 'u3', name: 'pod-u3' }, 'other', [['main', [{ uuid: g0, index: 0, memoryMiB: 1, cores: 1 }]]]);
    const unknown = decision({ uid: 'u4', name: 'pod-u4' }, 'h1', [['main', [{ uuid: 'GPU-nope', index: 0, memoryMiB: 1, cores: 1 }]]]);
    const { topology, problems } = reconcileNode({
      base: hami,
      node: node(),
      pods: [running('u3', { [TESSERA_POD.decision]: encodeDecision(elsewhere) }), running('u4', { [TESSERA_POD.decision]: encodeDecision(unknown) }), running('u5', { [TESSERA_POD.decision]: '{' })],
      nowMs: 0,
      profiles: catalogProfiles,
    });
    expect(problems.map((p) => p.field)).toEqual([TESSERA_POD.decision, TESSERA_POD.decision, TESSERA_POD.decision]);
    expect(topology.gpus.every((g) => Object.keys(g.status.usage).length === 0)).toBe(true);
  });

  it('takes MIG instances from the node inventory and puts MIG pods on their instance', () => {
    const mig = topologyNode('m1', 'NVIDIA-A100-SXM4-40GB', 40960, 1, 'mixed', true);
    const gpu = mig.gpus[0]!.id;
    const inventory = inventoryOf('m1', mig, 'mig', {
      0: [
        { profile: '3g.20gb', start: 4, gpuInstanceId: 2, migDeviceUuid: 'MIG-x' },
        { profile: '1g.5gb', start: 0, gpuInstanceId: 9, migDeviceUuid: 'MIG-y' },
      ],
    });
    const d = decision({ uid: 'u6', name: 'pod-u6' }, 'm1', [['main', [{ uuid: gpu, index: 0, memoryMiB: 19968, cores: 100, mig: { profile: '3g.20gb', start: 4, plan: [] } }]]], 'mig');
    const { topology, problems } = reconcileNode({
      base: mig,
      node: { name: 'm1', labels: {}, annotations: { [TESSERA_NODE.inventory]: encodeInventory(inventory) } },
      pods: [running('u6', { [TESSERA_POD.decision]: encodeDecision(d) })],
      nowMs: 0,
      profiles: catalogProfiles,
    });
    expect(problems).toEqual([]);
    const devices = topology.gpus[0]!.migDevices;
    expect(devices.map((m) => [m.profile, m.position, m.gpuInstanceId, m.id])).toEqual([
      ['3g.20gb', 4, 2, 'MIG-x'],
      ['1g.5gb', 0, 9, 'MIG-y'],
    ]);
    expect(devices[0]?.status.usage.u6?.fbUsedMiB).toBe(19968);
    expect(devices[1]?.status.usage).toEqual({});
    expect(topology.gpus[0]!.status.usage).toEqual({});
  });

  it('follows run:ai: labels make the node dynamic, mig.config then mig-mapping name the instances, runai-mig-device places the pod', () => {
    const mig = topologyNode('r1', 'NVIDIA-A100-SXM4-40GB', 40960, 1, 'mixed');
    const labels = { [RUNAI.dynamicMigLabel]: 'true', [RUNAI.migEnabledLabel]: 'true' };
    const config = 'mig-configs: {selected: [{devices: [0], mig-enabled: true, mig-devices: [{name: 1g.5gb, position: 0}, {name: 1g.5gb, position: 1}]}]}';
    const before = reconcileNode({ base: mig, node: { name: 'r1', labels, annotations: { [RUNAI.migConfig]: config } }, pods: [], nowMs: 0, profiles: catalogProfiles });
    expect(before.topology.dynamicMig).toBe(true);
    expect(before.topology.gpus[0]!.migDevices.map((m) => m.id)).toEqual([null, null]);
    const mapping = JSON.stringify({
      '0': [
        { position: 1, device_uuid: 'MIG-p1', gpu_instance_id: 8 },
        { position: 0, device_uuid: 'MIG-p0', gpu_instance_id: 7 },
      ],
    });
    const pod = running('u7', { [RUNAI.podMigDevice]: '{"name":"nvidia.com/mig-1g.5gb","position":1,"gpuindex":"0"}' });
    const after = reconcileNode({ base: mig, node: { name: 'r1', labels, annotations: { [RUNAI.migConfig]: config, [RUNAI.migMapping]: mapping } }, pods: [pod], nowMs: 0, profiles: catalogProfiles });
    expect(after.problems).toEqual([]);
    const devices = after.topology.gpus[0]!.migDevices;
    expect(devices.map((m) => [m.id, m.gpuInstanceId])).toEqual([
      ['MIG-p0', 7],
      ['MIG-p1', 8],
    ]);
    // 1g.5gb on an A100-40GB is 4864 MiB (mig.md).
    expect(devices[1]?.status.usage.u7).toMatchObject({ fbUsedMiB: 4864, allocatedBy: { container: 'main', pod: 'pod-u7' } });
  });

  it('wakes for the next schedule step and always writes a topology that validates', () => {
    const d = decision({ uid: 'u8', name: 'pod-u8' }, 'h1', [['main', [{ uuid: g0, index: 0, memoryMiB: 900000, cores: 100 }]]]);
    const pod = {
      ...running('u8', { [TESSERA_POD.decision]: encodeDecision(d), [UTILIZATION_ANNOTATIONS.schedule]: '{"steps":[{"time":"10s","utilization":5},{"time":"10s","utilization":95}]}' }),
      runningSinceMs: 1000,
    };
    const result = reconcileNode({ base: hami, node: node(), pods: [pod], nowMs: 13_000, profiles: catalogProfiles });
    expect(result.nextChangeMs).toBe(8000);
    expect(result.topology.gpus[0]?.status.usage.u8?.utilization).toEqual({ min: 95, max: 95 });
    // The decision asks for more memory than the GPU has: recorded up to the GPU's size.
    expect(result.topology.gpus[0]?.status.usage.u8?.fbUsedMiB).toBe(81920);
    expect(parseNodeTopology('h1', renderNodeTopology(result.topology)).ok).toBe(true);
  });
});
