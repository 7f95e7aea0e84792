import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_NODE, TESSERA_POD } from '../../src/api/annotations.js';
import { encodeDecision, signDecision } from '../../src/api/decision.js';
import { decodeInventory } from '../../src/api/inventory.js';
import { eventually } from '../scheduler/extender/cluster-harness.js';
import { generateSigningKey } from '../../src/api/signing.js';
import { decisionAnnotations } from '../../src/scheduler/extender/effects.js';
import { bindPhase, recordedDecision, settled, TestNode } from './harness.js';

describe('device plugin on a hami-core node', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await TestNode.start({ mode: 'hami-core', gpus: 4 });
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('allocates a bound pod exactly its decision and records success', async () => {
    const { pod, decision } = await node.createDecided(node.podJson('one', [{ gpus: 2, memoryMiB: 10_000, cores: 30 }]));
    await node.bind(pod);
    const done = await node.waitFor('one', settled);
    expect(done.status?.message ?? '').toBe('');
    expect(done.status?.phase).toBe('Running');
    expect(bindPhase(done)).toBe('success');
    const response = node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get('c0');
    const devices = decision.containers[0]?.devices ?? [];
    expect(response?.envs.NVIDIA_VISIBLE_DEVICES).toBe(devices.map((d) => d.uuid).join(','));
    expect(response?.envs.CUDA_DEVICE_MEMORY_LIMIT_0).toBe('10000m');
    expect(response?.envs.CUDA_DEVICE_MEMORY_LIMIT_1).toBe('10000m');
    expect(response?.envs.CUDA_DEVICE_SM_LIMIT).toBe('30');
    expect(response?.mounts.map((m) => m.container_path)).toEqual(['/usr/local/vgpu/libvgpu.so', '/etc/ld.so.preload']);
    expect(recordedDecision(done).containers).toEqual(decision.containers);
    // kubelet's device IDs name the GPUs the container really got (GetPreferredAllocation steered them).
    const ids = node.kubelet.devices.deviceIds(pod.metadata?.uid ?? '', 'c0', 'nvidia.com/gpu');
    expect(ids.map((id) => id.split('::')[0]).sort()).toEqual(devices.map((d) => d.uuid).sort());
  });

  it('gives a forged decision nothing', async () => {
    const created = await node.create(node.podJson('forged', [{ gpus: 1, memoryMiB: 1000, cores: 10 }]));
    const real = node.decide(created);
    const forged = signDecision(real, generateSigningKey());
    await node.annotate(created, decisionAnnotations(forged, encodeDecision(forged), Date.now()));
    await node.bind(created);
    const done = await node.waitFor('forged', settled);
    expect(done.status?.phase).toBe('Failed');
    expect(done.status?.reason).toBe('UnexpectedAdmissionError');
    expect(node.kubelet.devices.responses(created.metadata?.uid ?? '')).toBeUndefined();
    expect(bindPhase(done)).toBe('allocating');
  });

  it('gives a decision copied from another pod nothing', async () => {
    const { pod: donor } = await node.createDecided(node.podJson('donor', [{ gpus: 1, memoryMiB: 1000, cores: 10 }]));
    const thief = await node.create(node.podJson('thief', [{ gpus: 1, memoryMiB: 1000, cores: 10 }]));
    await node.annotate(thief, { [TESSERA_POD.decision]: donor.metadata?.annotations?.[TESSERA_POD.decision] ?? '', 'hami.io/bind-phase': 'allocating' });
    await node.bind(thief);
    const done = await node.waitFor('thief', settled);
    expect(done.status?.phase).toBe('Failed');
    await node.bind(donor);
    expect((await node.waitFor('donor', settled)).status?.phase).toBe('Running');
  });

  it('registers again when kubelet restarts', async () => {
    const before = node.kubelet.devices.registrations;
    await node.kubelet.restart();
    await node.kubelet.devices.waitForDevices('nvidia.com/gpu');
    expect(node.kubelet.devices.registrations).toBe(before + 1);
    const { pod } = await node.createDecided(node.podJson('after-restart', [{ gpus: 1, memoryMiB: 2000, cores: 10 }]));
    await node.bind(pod);
    expect((await node.waitFor('after-restart', settled)).status?.phase).toBe('Running');
  });

  it('publishes the inventory and GFD labels, and streams health changes to kubelet', async () => {
    const published = await node.readNode();
    const inventory = decodeInventory(published.metadata?.annotations?.[TESSERA_NODE.inventory] ?? '');
    expect(inventory.gpus.map((g) => [g.index, g.model, g.memoryMiB, g.health])).toEqual([0, 1, 2, 3].map((i) => [i, 'NVIDIA A100-SXM4-80GB', 81_920, 'Healthy']));
    expect(published.metadata?.labels).toMatchObject({
      'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB',
      'nvidia.com/gpu.count': '4',
      'nvidia.com/gpu.memory': '81920',
      'nvidia.com/mig.strategy': 'none',
    });
    const sick = node.topology.gpus[1];
    if (!sick) throw new Error('no GPU 1');
    sick.health = 'Unhealthy';
    try {
      await node.daemon.poll();
      await eventually(
        'kubelet to see GPU 1 unhealthy',
        () =>
          node.kubelet.devices
            .devices('nvidia.com/gpu')
            .filter((d) => d.ID.startsWith(sick.id))
            .map((d) => d.health),
        (h) => h.length === 10 && h.every((x) => x === 'Unhealthy'),
      );
      const after = decodeInventory((await node.readNode()).metadata?.annotations?.[TESSERA_NODE.inventory] ?? '');
      expect(after.gpus[1]?.health).toBe('Unhealthy');
    } finally {
      sick.health = 'Healthy';
      await node.daemon.poll();
    }
  });

  it('leaves HAMi-core out of a container that sets CUDA_DISABLE_CONTROL=true', async () => {
    const json = node.podJson('uncontrolled', [{ gpus: 1, memoryMiB: 1000, cores: 10 }]);
    const container = json.spec?.containers[0];
    if (container) container.env = [{ name: 'CUDA_DISABLE_CONTROL', value: 'true' }];
    const { pod } = await node.createDecided(json);
    await node.bind(pod);
    expect((await node.waitFor('uncontrolled', settled)).status?.phase).toBe('Running');
    const response = node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get('c0');
    expect(response?.mounts).toEqual([]);
    expect(response?.envs.CUDA_DEVICE_MEMORY_LIMIT_0).toBe('1000m');
  });
});
