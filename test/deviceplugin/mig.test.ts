import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_NODE } from '../../src/api/annotations.js';
import { decodeInventory } from '../../src/api/inventory.js';
import { MIG_CONFIG_STATE_LABEL } from '../../src/deviceplugin/labels.js';
import { eventually } from '../scheduler/extender/cluster-harness.js';
import { encodeDecision, signDecision } from '../../src/api/decision.js';
import { decisionAnnotations } from '../../src/scheduler/extender/effects.js';
import { bindPhase, recordedDecision, settled, TestNode } from './harness.js';

describe('device plugin on a MIG node', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await TestNode.start({ mode: 'mig', gpus: 2, failMigOn: [0], migIdleGraceMs: 60_000 });
  });
  afterAll(async () => {
    await node?.stop();
  });

  const gpu = (i: number): string => node.inventoryGpu(i);

  it('creates the planned instance, hands out its MIG UUID and records it', async () => {
    const { pod, decision } = await node.createDecided(node.podJson('mig-ok', [{ gpus: 1, memoryMiB: 9000 }], { 'nvidia.com/vgpu-mode': 'mig', 'nvidia.com/use-gpuuuid': gpu(1) }));
    expect(decision.containers[0]?.devices[0]?.mig?.plan.length).toBeGreaterThan(0);
    await node.bind(pod);
    const done = await node.waitFor('mig-ok', settled);
    expect(done.status?.phase).toBe('Running');
    const granted = recordedDecision(done).containers[0]?.devices[0];
    const instances = (await node.backend.discover())[1]?.migInstances ?? [];
    const instance = instances.find((m) => m.profile === granted?.mig?.profile && m.start === granted.mig.start);
    expect(instance).toBeDefined();
    expect(granted?.mig?.migDeviceUuid).toBe(instance?.migDeviceUuid);
    expect(granted?.mig?.gpuInstanceId).toBe(instance?.gpuInstanceId);
    const response = node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get('c0');
    expect(response?.envs).toEqual({ NVIDIA_VISIBLE_DEVICES: instance?.migDeviceUuid });
    const published = await node.readNode();
    expect(published.metadata?.labels?.[MIG_CONFIG_STATE_LABEL]).toBe('success');
    expect(published.metadata?.labels?.['nvidia.com/mig.strategy']).toBe('mixed');
    const inventory = decodeInventory(published.metadata?.annotations?.[TESSERA_NODE.inventory] ?? '');
    expect(inventory.gpus[1]?.mig.instances.map((m) => m.migDeviceUuid)).toContain(instance?.migDeviceUuid);
  });

  it('refuses a second grant of an instance a running pod holds, failing only that pod', async () => {
    const holder = recordedDecision(await node.read('mig-ok'));
    const created = await node.create(node.podJson('mig-twice', [{ gpus: 1, memoryMiB: 9000 }], { 'nvidia.com/vgpu-mode': 'mig', 'nvidia.com/use-gpuuuid': gpu(1) }));
    // A grant of the same instance, signed with the scheduler's key (a scheduler fault): the node must not honour it.
    const twice = signDecision(
      {
        ...holder,
        pod: { uid: created.metadata?.uid ?? '', namespace: 'default', name: 'mig-twice' },
        containers: holder.containers.map((c) => ({
          ...c,
          devices: c.devices.map(({ uuid, index, memoryMiB, cores, mig }) => ({ uuid, index, memoryMiB, cores, ...(mig ? { mig: { profile: mig.profile, start: mig.start, plan: [] } } : {}) })),
        })),
        signature: undefined,
      },
      node.key,
    );
    const pod = await node.annotate(created, decisionAnnotations(twice, encodeDecision(twice), Date.now()));
    await node.bind(pod);
    const failed = await node.waitFor('mig-twice', (p) => p.status?.phase === 'Failed' && bindPhase(p) === 'failed');
    expect(failed.metadata?.annotations?.['tessera.io/bind-error']).toMatch(/in use by another pod/);
    expect(node.kubelet.devices.responses(created.metadata?.uid ?? '')).toBeUndefined();
    expect((await node.read('mig-ok')).status?.phase).toBe('Running');
    await node.delete('mig-twice');
  });

  it('fails only the pod whose MIG operation fails, with an Event, and keeps serving', async () => {
    const { pod } = await node.createDecided(node.podJson('mig-bad', [{ gpus: 1, memoryMiB: 9000 }], { 'nvidia.com/vgpu-mode': 'mig', 'nvidia.com/use-gpuuuid': gpu(0) }));
    await node.bind(pod);
    const failed = await node.waitFor('mig-bad', (p) => p.status?.phase === 'Failed' && bindPhase(p) === 'failed');
    expect(failed.metadata?.annotations?.['tessera.io/bind-error']).toMatch(/MIG operations on this GPU as failing/);
    expect((await node.events()).some((e) => e.involvedObject.name === 'mig-bad' && e.reason === 'TesseraAllocateFailed')).toBe(true);
    expect((await node.readNode()).metadata?.labels?.[MIG_CONFIG_STATE_LABEL]).toBe('failed');
    const { pod: next } = await node.createDecided(node.podJson('mig-next', [{ gpus: 1, memoryMiB: 9000 }], { 'nvidia.com/vgpu-mode': 'mig', 'nvidia.com/use-gpuuuid': gpu(1) }));
    await node.bind(next);
    expect((await node.waitFor('mig-next', settled)).status?.phase).toBe('Running');
  });

  it('reclaims MIG instances no pod holds once idle for the grace period, not before', async () => {
    await node.delete('mig-ok');
    await node.delete('mig-next');
    const gpu1 = async () => (await node.backend.discover())[1]?.migInstances ?? [];
    const before = (await gpu1()).length;
    expect(before).toBeGreaterThan(0);
    // Let the plugin's watch see both pods go; until then their instances are held.
    await eventually(
      'the pods to be gone',
      () =>
        Promise.all(
          ['mig-ok', 'mig-next'].map((n) =>
            node.read(n).then(
              () => 1,
              () => 0,
            ),
          ),
        ),
      (found) => found.every((f) => f === 0),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await node.daemon.poll();
    node.clockOffsetMs += 59_000;
    await node.daemon.poll();
    expect((await gpu1()).length).toBe(before);
    node.clockOffsetMs += 2_000;
    await node.daemon.poll();
    expect(await gpu1()).toEqual([]);
    const inventory = decodeInventory((await node.readNode()).metadata?.annotations?.[TESSERA_NODE.inventory] ?? '');
    expect(inventory.gpus[1]?.mig.instances).toEqual([]);
  });
});
