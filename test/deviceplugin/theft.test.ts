/**
 * Grant theft by spec.nodeName: a pod placed on the node by hand (no decision) is admitted by kubelet before the
 * pod whose grant is in flight there, and kubelet's pod-blind Allocate hands it that grant. The plugin learns from
 * kubelet's pod-resources record who really holds the devices, evicts the thief with an Event, and the owner gets
 * its grant when kubelet admits it. Real gRPC, the simulated kubelet, the embedded API server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admissionPodOf } from '../../src/kubelet/kubelet.js';
import { eventually } from '../scheduler/extender/cluster-harness.js';
import { bindPhase, recordedDecision, TestNode } from './harness.js';

describe('a pod placed by hand on a node with a grant in flight', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await TestNode.start({ mode: 'hami-core', gpus: 2, kubeletAdmits: false });
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('is evicted with an Event once kubelet records its devices, and the grant goes to its owner', async () => {
    const { pod: owner, decision } = await node.createDecided(node.podJson('owner', [{ gpus: 1, memoryMiB: 20_000, cores: 40 }]));
    await node.bind(owner);
    // The thief asks the same count and names the node itself: no scheduler, no decision.
    const thief = await node.create({ ...node.podJson('thief', [{ gpus: 1, memoryMiB: 20_000, cores: 40 }]), spec: { ...node.podJson('thief', [{ gpus: 1 }]).spec, nodeName: node.name } as never });
    await eventually(
      'the owner in flight',
      () => node.read('owner'),
      (p) => p.spec?.nodeName === node.name,
    );
    // kubelet admits the thief first: the only grant of that count in flight is handed out (Allocate is pod-blind).
    await node.kubelet.devices.admit(admissionPodOf(thief));
    await eventually(
      'the thief evicted',
      () =>
        node.read('thief').then(
          () => 'present',
          () => 'gone',
        ),
      (s) => s === 'gone',
      10_000,
    );
    const events = await node.events();
    expect(events.find((e) => e.involvedObject.name === 'thief')).toMatchObject({ reason: 'TesseraGrantRevoked', message: expect.stringContaining('without a valid grant') });
    // The owner was not recorded as allocated on the thief's behalf, and it now gets its own grant.
    expect(bindPhase(await node.read('owner'))).toBe('allocating');
    await node.kubelet.devices.admit(admissionPodOf(owner));
    const done = await eventually(
      'the owner recorded',
      () => node.read('owner'),
      (p) => bindPhase(p) === 'success',
    );
    expect(recordedDecision(done).containers.map((c) => c.devices.map((d) => [d.uuid, d.memoryMiB, d.cores]))).toEqual(
      decision.containers.map((c) => c.devices.map((d) => [d.uuid, d.memoryMiB, d.cores])),
    );
    expect(node.kubelet.devices.responses(owner.metadata?.uid ?? '')?.get('c0')?.envs.NVIDIA_VISIBLE_DEVICES).toBe(decision.containers[0]?.devices[0]?.uuid);
  });
});
