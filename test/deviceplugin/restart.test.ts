/**
 * A device-plugin restart between kubelet's Allocate and the pod's record: the handouts kept on disk let the new
 * plugin learn from kubelet which pod got which grant, and record each with what it really got.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admissionPodOf } from '../../src/kubelet/kubelet.js';
import { bindPhase, recordedDecision, TestNode } from './harness.js';

describe('device plugin restart', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await TestNode.start({ mode: 'hami-core', gpus: 4, kubeletAdmits: false });
  });
  afterAll(async () => {
    await node?.stop();
  });

  it('records pods admitted before the restart with the grants they really got', async () => {
    // A plugin that cannot reach kubelet's pod-resources API cannot tell which of two identical pods got what.
    await node.restartDaemon({ podResourcesSocket: '/nonexistent/pod-resources.sock' });
    await node.kubelet.devices.waitForDevices('nvidia.com/gpu');
    const a = await node.createDecided(node.podJson('twin-a', [{ gpus: 1, memoryMiB: 7000, cores: 20 }]));
    const b = await node.createDecided(node.podJson('twin-b', [{ gpus: 1, memoryMiB: 7000, cores: 20 }]));
    await node.bind(a.pod);
    await node.bind(b.pod);
    // kubelet admits the younger twin first: it is handed the older twin's grant.
    await node.kubelet.devices.admit(admissionPodOf(b.pod));
    await node.kubelet.devices.admit(admissionPodOf(a.pod));
    expect(bindPhase(await node.read('twin-a'))).toBe('allocating');
    expect(bindPhase(await node.read('twin-b'))).toBe('allocating');

    await node.restartDaemon();
    for (const { pod } of [a, b]) {
      const done = await node.waitFor(pod.metadata?.name ?? '', (p) => bindPhase(p) === 'success');
      const given = node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get('c0')?.envs.NVIDIA_VISIBLE_DEVICES;
      expect(
        recordedDecision(done)
          .containers[0]?.devices.map((d) => d.uuid)
          .join(','),
      ).toBe(given);
    }
    expect(node.kubelet.devices.responses(b.pod.metadata?.uid ?? '')?.get('c0')?.envs.NVIDIA_VISIBLE_DEVICES).toBe(a.decision.containers[0]?.devices[0]?.uuid);
  });
});
