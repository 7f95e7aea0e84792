/**
 * GPUs in init containers, as HAMi grants them: through the real extender (filter, prioritize, bind over HTTP),
 * the simulated kubelet (init containers first, their devices reusable by the containers after them, its
 * pod-resources record listing app containers only) and the device plugin over gRPC.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningExtender } from '../../src/scheduler/extender/service.js';
import { eventually, schedulePod, startTestExtender } from '../scheduler/extender/cluster-harness.js';
import { bindPhase, recordedDecision, RESOURCE, settled, TestNode } from './harness.js';

interface Share {
  memoryMiB: number;
  cores: number;
}

const limits = (share: Share | null): Record<string, string> => (share ? { [RESOURCE]: '1', 'nvidia.com/gpumem': String(share.memoryMiB), 'nvidia.com/gpucores': String(share.cores) } : {});

function podWithInit(name: string, init: Share | null, app: Share | null): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      initContainers: [{ name: 'warmup', image: 'cuda', resources: { limits: limits(init) } }],
      containers: [{ name: 'serve', image: 'cuda', resources: { limits: limits(app) } }],
    },
  };
}

describe('GPUs in init containers', () => {
  let node: TestNode;
  let extender: RunningExtender;
  beforeAll(async () => {
    node = await TestNode.start({ mode: 'hami-core', gpus: 2 });
    extender = await startTestExtender(node.cluster, node.key);
    await eventually(
      'the extender to see the node inventory',
      () => extender.view.state.node(node.name)?.gpus.length ?? 0,
      (n) => n === 2,
    );
  });
  afterAll(async () => {
    await extender?.stop();
    await node?.stop();
  });

  async function run(pod: V1Pod): Promise<V1Pod> {
    const created = await node.create(pod);
    expect(await schedulePod(extender, created, [node.name])).toEqual({ node: node.name, error: '' });
    const done = await node.waitFor(created.metadata?.name ?? '', settled);
    expect(done.status?.phase).toBe('Running');
    expect(bindPhase(done)).toBe('success');
    return done;
  }

  const visible = (pod: V1Pod, container: string): string | undefined => node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get(container)?.envs.NVIDIA_VISIBLE_DEVICES;
  const memoryLimit = (pod: V1Pod, container: string): string | undefined => node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get(container)?.envs.CUDA_DEVICE_MEMORY_LIMIT_0;

  it('grants the init container its own share, listed first as HAMi lists it, and each container gets its own', async () => {
    const done = await run(podWithInit('init-and-app', { memoryMiB: 30_000, cores: 30 }, { memoryMiB: 10_000, cores: 10 }));
    const decision = recordedDecision(done);
    expect(decision.containers.map((c) => [c.name, c.devices.map((d) => d.memoryMiB)])).toEqual([
      ['warmup', [30_000]],
      ['serve', [10_000]],
    ]);
    expect(visible(done, 'warmup')).toBe(decision.containers[0]?.devices[0]?.uuid);
    expect(memoryLimit(done, 'warmup')).toBe('30000m');
    expect(visible(done, 'serve')).toBe(decision.containers[1]?.devices[0]?.uuid);
    expect(memoryLimit(done, 'serve')).toBe('10000m');
    // HAMi's device list names the init container first, then the app container.
    expect(done.metadata?.annotations?.['hami.io/vgpu-devices-allocated']?.split(';').filter((s) => s !== '')).toHaveLength(2);
    await eventually(
      'the extender to confirm the grant',
      () => extender.view.book.get(done.metadata?.uid ?? '')?.phase,
      (phase) => phase === 'confirmed',
    );
  });

  it('grants a pod whose only GPU container is an init container', async () => {
    const done = await run(podWithInit('init-only', { memoryMiB: 8_000, cores: 20 }, null));
    const decision = recordedDecision(done);
    expect(decision.containers.map((c) => c.devices.length)).toEqual([1, 0]);
    // HAMi's positional list: the init container's entry, then the app container's empty one.
    expect(done.metadata?.annotations?.['hami.io/vgpu-devices-allocated']).toBe(`${decision.containers[0]?.devices[0]?.uuid},NVIDIA,8000,20:;;`);
    expect(memoryLimit(done, 'warmup')).toBe('8000m');
    expect(visible(done, 'serve')).toBeUndefined();
  });

  it("counts init containers' shares, so a GPU is never promised beyond its memory", async () => {
    // 80 GiB GPUs: each pod holds 20 GB (init) + 20 GB (app); more such pods than fit are refused, not over-committed.
    const results: string[] = [];
    const uids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const created = await node.create(podWithInit(`heavy-${i}`, { memoryMiB: 20_000, cores: 5 }, { memoryMiB: 20_000, cores: 5 }));
      uids.push(created.metadata?.uid ?? '');
      results.push((await schedulePod(extender, created, [node.name])).error);
    }
    expect(results.filter((e) => e !== '').length).toBeGreaterThan(0);
    const used = extender.view.state.snapshot(node.name)?.gpus.map((g) => g.usedMemoryMiB) ?? [];
    for (const mib of used) expect(mib).toBeLessThanOrEqual(81_920);
    const granted = extender.view.state.allocations().flatMap((a) => a.containers.flatMap((c) => c.devices.map((d) => d.memoryMiB)));
    expect(used.reduce((a, b) => a + b, 0)).toBe(granted.reduce((a, b) => a + b, 0));
    expect(extender.view.state.allocation(uids[0] ?? '')?.containers[0]?.devices[0]?.memoryMiB).toBe(20_000);
  });

  it('lets identical init-container pods be in flight at once; each starts with what its record says', async () => {
    const pods: V1Pod[] = [];
    for (let i = 0; i < 4; i++) {
      const created = await node.create(podWithInit(`many-${i}`, { memoryMiB: 1_000, cores: 1 }, { memoryMiB: 500, cores: 1 }));
      expect(await schedulePod(extender, created, [node.name])).toEqual({ node: node.name, error: '' });
      pods.push(created);
    }
    for (const pod of pods) {
      const done = await node.waitFor(pod.metadata?.name ?? '', settled);
      expect(done.status?.phase).toBe('Running');
      const decision = recordedDecision(done);
      expect(visible(done, 'warmup')).toBe(decision.containers[0]?.devices[0]?.uuid);
      expect(visible(done, 'serve')).toBe(decision.containers[1]?.devices[0]?.uuid);
    }
  });
});
