/**
 * Several pods in flight on one node at once, admitted by kubelet in an order the device plugin does not know:
 * every pod must receive a grant of its own shape, and be recorded with exactly what kubelet's Allocate gave it.
 */
import fc from 'fast-check';
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/api/decision.js';
import { shapeOf } from '../../src/api/inflight.js';
import { publicKeyOf } from '../../src/api/signing.js';
import { decisionSigner } from '../../src/api/decision.js';
import { bindPhase, recordedDecision, settled, TestNode, type GpuRequest } from './harness.js';

const shapeKey = (d: Decision): string => shapeOf(d, { modelOf: () => 'A100', pinned: false }).key;
const grants = (d: Decision): string[] => d.containers.flatMap((c) => c.devices.map((x) => `${x.uuid}/${x.memoryMiB}/${x.cores}`)).sort();

/** The pod's recorded decision says exactly what kubelet's Allocate responses gave each of its containers. */
function expectRecordMatchesKubelet(node: TestNode, pod: V1Pod): Decision {
  const recorded = recordedDecision(pod);
  expect(recorded.pod.uid).toBe(pod.metadata?.uid);
  expect(decisionSigner(recorded, { scheduler: publicKeyOf(node.key), node: (name) => (name === recorded.node ? publicKeyOf(node.nodeKey) : undefined) })).toBeDefined();
  for (const c of recorded.containers.filter((x) => x.devices.length > 0)) {
    const response = node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get(c.name);
    expect(response?.envs.NVIDIA_VISIBLE_DEVICES).toBe(c.devices.map((d) => d.uuid).join(','));
    c.devices.forEach((d, i) => expect(response?.envs[`CUDA_DEVICE_MEMORY_LIMIT_${i}`]).toBe(`${d.memoryMiB}m`));
  }
  return recorded;
}

describe('pods in flight together on one node', () => {
  let node: TestNode | undefined;
  afterEach(async () => {
    await node?.stop();
    node = undefined;
  });

  it('admits ten identical pods at once, each recorded with the devices it really got', async () => {
    node = await TestNode.start({ mode: 'hami-core', gpus: 4 });
    const decided: { pod: V1Pod; decision: Decision }[] = [];
    for (let i = 0; i < 10; i++) decided.push(await node.createDecided(node.podJson(`same-${i}`, [{ gpus: 1, memoryMiB: 8000, cores: 20 }])));
    // Bound newest first, all at once: kubelet's order is the reverse of the ledger's oldest-first pick.
    await Promise.all([...decided].reverse().map(({ pod }) => node?.bind(pod)));
    const done = await Promise.all(decided.map(({ pod }) => node?.waitFor(pod.metadata?.name ?? '', settled) as Promise<V1Pod>));
    expect(done.map((p) => p.status?.phase)).toEqual(Array(10).fill('Running'));
    expect(done.map(bindPhase)).toEqual(Array(10).fill('success'));
    const recorded = done.map((p) => expectRecordMatchesKubelet(node as TestNode, p));
    // The grants were only moved between pods: per GPU the same shares as the scheduler decided.
    expect(recorded.flatMap(grants).sort()).toEqual(decided.flatMap(({ decision }) => grants(decision)).sort());
  });

  it('never mixes up pods of different shapes, whatever order kubelet admits them in (randomized)', async () => {
    const mix: GpuRequest[][] = [
      [{ gpus: 1, memoryMiB: 6000, cores: 10 }],
      [{ gpus: 1, memoryMiB: 6000, cores: 10 }],
      [{ gpus: 1, memoryMiB: 6000, cores: 10 }],
      [{ gpus: 2, memoryMiB: 3000, cores: 15 }],
      [{ gpus: 2, memoryMiB: 3000, cores: 15 }],
      [
        { gpus: 3, memoryMiB: 2000, cores: 5 },
        { gpus: 1, memoryMiB: 1000, cores: 5 },
      ],
      [{ gpus: 4, memoryMiB: 1000, cores: 5 }, { gpus: 0 }, { gpus: 2, memoryMiB: 1000, cores: 5 }],
    ];
    await fc.assert(
      fc.asyncProperty(fc.shuffledSubarray([...mix.keys()], { minLength: mix.length, maxLength: mix.length }), async (order) => {
        node = await TestNode.start({ mode: 'hami-core', gpus: 4 });
        try {
          const decided: { pod: V1Pod; decision: Decision }[] = [];
          for (const [i, requests] of mix.entries()) decided.push(await node.createDecided(node.podJson(`mix-${i}`, requests)));
          await Promise.all(order.map((i) => node?.bind(decided[i]?.pod as V1Pod)));
          for (const { pod, decision } of decided) {
            const done = await node.waitFor(pod.metadata?.name ?? '', settled);
            expect(done.status?.phase).toBe('Running');
            expect(shapeKey(expectRecordMatchesKubelet(node, done))).toBe(shapeKey(decision));
          }
        } finally {
          await node.stop();
          node = undefined;
        }
      }),
      { numRuns: 4 },
    );
  });
});
