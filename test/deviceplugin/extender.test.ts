/**
 * End to end through the real extender: filter, prioritize and bind as kube-scheduler calls them, the simulated
 * kubelet admitting, the device plugin allocating. The node's inventory comes from the plugin itself.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningExtender } from '../../src/scheduler/extender/service.js';
import { eventually, schedulePod, startTestExtender } from '../scheduler/extender/cluster-harness.js';
import { bindPhase, recordedDecision, settled, TestNode } from './harness.js';

describe('device plugin behind the real extender', () => {
  let node: TestNode;
  let extender: RunningExtender;
  beforeAll(async () => {
    node = await TestNode.start({ mode: 'hami-core', gpus: 4 });
    extender = await startTestExtender(node.cluster, node.key);
    await eventually(
      'the extender to see the node inventory',
      () => extender.view.state.node(node.name)?.gpus.length ?? 0,
      (n) => n === 4,
    );
  });
  afterAll(async () => {
    await extender?.stop();
    await node?.stop();
  });

  async function submit(name: string, memoryMiB: number): Promise<V1Pod> {
    const pod = await node.create(node.podJson(name, [{ gpus: 1, memoryMiB, cores: 10 }]));
    const result = await schedulePod(extender, pod, [node.name]);
    expect(result).toEqual({ node: node.name, error: '' });
    return pod;
  }

  it('allocates a pod bound by the extender exactly its decision, and the extender sees it confirmed', async () => {
    await submit('via-extender', 5000);
    const done = await node.waitFor('via-extender', settled);
    expect(done.status?.phase).toBe('Running');
    expect(bindPhase(done)).toBe('success');
    const decision = recordedDecision(done);
    const response = node.kubelet.devices.responses(done.metadata?.uid ?? '')?.get('c0');
    expect(response?.envs.NVIDIA_VISIBLE_DEVICES).toBe(decision.containers[0]?.devices.map((d) => d.uuid).join(','));
    expect(response?.envs.CUDA_DEVICE_MEMORY_LIMIT_0).toBe('5000m');
    await eventually(
      'the extender to confirm the grant',
      () => extender.view.book.get(done.metadata?.uid ?? '')?.phase,
      (phase) => phase === 'confirmed',
    );
  });

  it('lets ten identical pods be in flight at once; each starts with what its record says', async () => {
    const pods = [];
    for (let i = 0; i < 10; i++) pods.push(await submit(`ten-${i}`, 3000));
    const done = await Promise.all(pods.map((p) => node.waitFor(p.metadata?.name ?? '', settled)));
    for (const pod of done) {
      expect(pod.status?.phase).toBe('Running');
      const recorded = recordedDecision(pod).containers[0]?.devices ?? [];
      expect(node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get('c0')?.envs.NVIDIA_VISIBLE_DEVICES).toBe(recorded.map((d) => d.uuid).join(','));
    }
  });
});
