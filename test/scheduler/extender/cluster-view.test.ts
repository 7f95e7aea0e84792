import { describe, expect, it } from 'vitest';
import { TESSERA_NODE, TESSERA_POD } from '../../../src/api/annotations.js';
import { decisionOf, encodeDecision, type Decision, signDecision, type TrustedKeys } from '../../../src/api/decision.js';
import type { KeyObject } from 'node:crypto';
import { generateSigningKey, publicKeyOf } from '../../../src/api/signing.js';
import { encodeInventory } from '../../../src/api/inventory.js';
import { DEFAULT_DEVICE_CONFIG } from '../../../src/config/device-config.js';
import { decide, type Policy } from '../../../src/scheduler/core/index.js';
import { DEFAULT_POLICY, POLICIES, hamiPolicy } from '../../../src/scheduler/policies/index.js';
import { ClusterView } from '../../../src/scheduler/extender/cluster-view.js';
import { extenderDeviceOptions } from '../../../src/scheduler/extender/device-options.js';
import { gpuNode, gpuPod, inventoryFor } from './fixtures.js';
import { silentLog } from './harness.js';
import { parsePodRequest } from '../../../src/request/index.js';

const trusted = (key: KeyObject): TrustedKeys => ({ scheduler: publicKeyOf(key), node: () => undefined });

const defaultPolicy = POLICIES[DEFAULT_POLICY] as Policy;
const options = extenderDeviceOptions(DEFAULT_DEVICE_CONFIG, defaultPolicy);
const CONTEXT = { nodePolicy: 'binpack', gpuPolicy: 'spread' } as const;

function migNode(instances: Array<{ profile: string; start: number }>): ReturnType<typeof gpuNode> {
  const node = gpuNode('mig-1', { gpus: 1 });
  const inventory = inventoryFor('mig-1', { gpus: 1 });
  const gpu = inventory.gpus[0];
  if (!gpu) throw new Error('fixture has no GPU');
  gpu.mig = { enabled: true, instances: instances.map((i, n) => ({ ...i, gpuInstanceId: n + 1, migDeviceUuid: `MIG-${n}` })) };
  node.metadata.annotations[TESSERA_NODE.inventory] = encodeInventory({ ...inventory, mode: 'mig' });
  return node;
}

function grantMig(view: ClusterView, uid: string): { profile: string; start: number } {
  const request = parsePodRequest(gpuPod(uid, { uid, memoryMiB: 10000, annotations: { 'nvidia.com/vgpu-mode': 'mig' } }), options.requestConfig);
  if (!request.ok) throw new Error('bad fixture');
  const decided = decide(view.state, request.value, 'mig-1', hamiPolicy, CONTEXT);
  if (!decided.ok) throw new Error('MIG pod does not fit');
  view.book.hold({ podUid: uid, node: 'mig-1', decision: decisionOf(decided.value, new Date(0).toISOString()), allocation: decided.value, phase: 'reserved', since: 0 });
  const mig = decided.value.containers[0]?.devices[0]?.mig;
  if (!mig) throw new Error('not a MIG grant');
  return { profile: mig.profile, start: mig.start };
}

describe('cluster view', () => {
  it('keeps a MIG grant when the device plugin reports the instance it created, and counts it once', () => {
    const view = new ClusterView({ keys: trusted(generateSigningKey()), log: silentLog, now: Date.now, ...options });
    view.upsertNode(migNode([]));
    const created = grantMig(view, 'first');
    view.upsertNode(migNode([created]));
    expect(view.state.allocation('first')).toBeDefined();
    const gpu = view.state.node('mig-1')?.gpus[0];
    expect(gpu?.migInstances?.filter((i) => i.inUse)).toHaveLength(1);
  });

  it('keeps a MIG grant whose plan destroyed idle instances once the device plugin reports the result', () => {
    for (const idle of [
      [{ profile: '1g.10gb', start: 0 }],
      [
        { profile: '1g.10gb', start: 4 },
        { profile: '1g.10gb', start: 6 },
      ],
      [{ profile: '7g.80gb', start: 0 }],
    ]) {
      const view = new ClusterView({ keys: trusted(generateSigningKey()), log: silentLog, now: Date.now, ...options });
      view.upsertNode(migNode(idle));
      grantMig(view, 'planned');
      const device = view.book.get('planned')?.decision.containers[0]?.devices[0]?.mig;
      if (!device) throw new Error('not a MIG grant');
      // What the GPU holds once the device plugin ran the plan: idle instances destroyed, the new one created.
      let after = idle.filter((i) => !device.plan.some((op) => op.action === 'destroy' && op.profile === i.profile && op.start === i.start));
      for (const op of device.plan) if (op.action === 'create' && !after.some((i) => i.profile === op.profile && i.start === op.start)) after = [...after, { profile: op.profile, start: op.start }];
      if (!after.some((i) => i.profile === device.profile && i.start === device.start)) after = [...after, { profile: device.profile, start: device.start }];
      view.upsertNode(migNode(after));
      expect(view.state.allocation('planned'), JSON.stringify({ idle, plan: device.plan })).toBeDefined();
      expect(view.state.node('mig-1')?.gpus[0]?.migInstances?.filter((i) => i.inUse)).toHaveLength(1);
    }
  });

  it('keeps grants across a node leaving and coming back, applying them again', () => {
    const view = new ClusterView({ keys: trusted(generateSigningKey()), log: silentLog, now: Date.now, ...options });
    view.upsertNode(migNode([]));
    grantMig(view, 'held');
    view.removeNode('mig-1');
    expect(view.state.node('mig-1')).toBeUndefined();
    expect(view.book.get('held')).toBeDefined();
    view.upsertNode(migNode([]));
    expect(view.state.allocation('held')).toBeDefined();
  });

  /** Two pods granted on `pair`, and a function that records an exchange on one side as the device plugin does. */
  function exchangeFixture(request: { gpus?: number; cores?: number; memoryMiB?: number }) {
    const key = generateSigningKey();
    const view = new ClusterView({ keys: trusted(key), log: silentLog, now: Date.now, ...options });
    view.upsertNode(gpuNode('pair', { gpus: 2 }));
    const pods = ['a', 'b'].map((uid) => gpuPod(uid, { uid, ...request }));
    const decisions: Decision[] = pods.map((pod) => {
      const parsed = parsePodRequest(pod, options.requestConfig);
      if (!parsed.ok) throw new Error('bad fixture');
      const decided = decide(view.state, parsed.value, 'pair', hamiPolicy, CONTEXT);
      if (!decided.ok) throw new Error('does not fit');
      const decision = signDecision(decisionOf(decided.value, new Date(0).toISOString()), key);
      view.upsertPod({ ...pod, spec: { nodeName: 'pair' }, metadata: { ...pod.metadata, annotations: { [TESSERA_POD.decision]: encodeDecision(decision) } } });
      return decision;
    });
    const gpuOf = (uid: string): string | undefined => view.state.allocation(uid)?.containers[0]?.devices[0]?.uuid;
    const [a, b] = decisions as [Decision, Decision];
    const [podA, podB] = pods as [(typeof pods)[number], (typeof pods)[number]];
    // The plugin records that one pod received the other's grant, one write per pod.
    const exchanged = (pod: typeof podA, grant: Decision, partner: string): void =>
      view.upsertPod({
        ...pod,
        spec: { nodeName: 'pair' },
        metadata: {
          ...pod.metadata,
          annotations: { [TESSERA_POD.decision]: encodeDecision(signDecision({ ...grant, pod: { ...grant.pod, uid: pod.metadata.uid ?? '', name: pod.metadata.name }, exchangedWith: partner }, key)) },
        },
      });
    return { view, a, b, podA, podB, gpuOf, exchanged };
  }

  it('follows the device plugin swapping grants between two interchangeable pods, whatever the window between writes', () => {
    const { view, a, b, podA, podB, gpuOf, exchanged } = exchangeFixture({ gpus: 1 });
    expect(gpuOf('a')).not.toBe(gpuOf('b'));
    exchanged(podA, b, 'b');
    // In between, a's new GPU is still b's: a keeps its old grant counted, so neither GPU looks free while in use.
    expect(gpuOf('a')).toBe(a.containers[0]?.devices[0]?.uuid);
    expect(gpuOf('b')).toBe(b.containers[0]?.devices[0]?.uuid);
    expect(view.book.get('a')?.decision.signature).toBe(a.signature);
    exchanged(podB, a, 'a');
    expect(gpuOf('a')).toBe(b.containers[0]?.devices[0]?.uuid);
    expect(gpuOf('b')).toBe(a.containers[0]?.devices[0]?.uuid);
    expect(view.state.allocations()).toHaveLength(2);
    expect(view.book.get('a')?.decision.containers[0]?.devices[0]?.uuid).toBe(b.containers[0]?.devices[0]?.uuid);
  });

  it('keeps both old grants of an exchange on shared GPUs, where the first side fits alone, until the other arrives', () => {
    const { view, a, b, podA, podB, gpuOf, exchanged } = exchangeFixture({ cores: 30, memoryMiB: 3000 });
    const [gpuA, gpuB] = [a.containers[0]?.devices[0]?.uuid, b.containers[0]?.devices[0]?.uuid];
    expect(gpuA).not.toBe(gpuB);
    exchanged(podA, b, 'b');
    // a's old GPU must not look free: b is about to be given it.
    expect(gpuOf('a')).toBe(gpuA);
    expect(view.state.node('pair')?.gpus.find((g) => g.uuid === gpuA)).toBeDefined();
    expect(view.state.allocations()).toHaveLength(2);
    exchanged(podB, a, 'a');
    expect(gpuOf('a')).toBe(gpuB);
    expect(gpuOf('b')).toBe(gpuA);
  });

  it('applies one side of an exchange alone once the other pod is gone', () => {
    const { view, b, podA, gpuOf, exchanged } = exchangeFixture({ cores: 30, memoryMiB: 3000 });
    exchanged(podA, b, 'b');
    view.book.release('b');
    expect(gpuOf('a')).toBe(b.containers[0]?.devices[0]?.uuid);
    expect(view.state.allocations()).toHaveLength(1);
  });

  it('offers a node the memory scaling its nodeconfig entry names, others the cluster default', () => {
    const config = { ...DEFAULT_DEVICE_CONFIG, nodeconfig: [{ name: 'scaled', operatingmode: 'hami-core' as const, devicememoryscaling: 2 }] };
    const view = new ClusterView({ keys: trusted(generateSigningKey()), log: silentLog, now: Date.now, ...extenderDeviceOptions(config, defaultPolicy) });
    view.upsertNode(gpuNode('scaled', { gpus: 1, memoryMiB: 40960 }));
    view.upsertNode(gpuNode('plain', { gpus: 1, memoryMiB: 40960 }));
    expect(view.state.node('scaled')?.gpus[0]?.memoryMiB).toBe(81920);
    expect(view.state.node('plain')?.gpus[0]?.memoryMiB).toBe(40960);
  });
});
