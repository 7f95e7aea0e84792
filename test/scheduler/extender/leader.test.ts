/**
 * High availability: replicas elect a leader on a Lease in the embedded cluster; only the leader decides, a
 * follower answers not-ready, and when the leader dies another takes over within the lease duration with every
 * grant the old leader made, so no capacity is given twice.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../../src/cluster/index.js';
import type { RunningExtender } from '../../../src/scheduler/extender/service.js';
import { coreApi, eventually, newKey, postJson, schedulePod, startTestExtender, testConfig } from './cluster-harness.js';
import { gpuNode, gpuPod } from './fixtures.js';

const LEASE = { enabled: true, namespace: 'default', name: 'tessera-test', leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 1 };
const key = newKey();
let cluster: EmbeddedCluster;
let api: CoreV1Api;
const replicas: RunningExtender[] = [];

async function replica(identity: string, lease = LEASE.name): Promise<RunningExtender> {
  const started = await startTestExtender(cluster, key, testConfig({}, { ...LEASE, name: lease, identity }));
  replicas.push(started);
  return started;
}

const ready = async (r: RunningExtender): Promise<boolean> => (await fetch(`${r.url}/readyz`)).status === 200;

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  api = coreApi(cluster);
  // One GPU: whoever leads, a second exclusive pod must not fit.
  await api.createNode({ body: gpuNode('solo', { gpus: 1 }) });
});

afterAll(async () => {
  for (const r of replicas) await r.stop({ releaseLease: false }).catch(() => undefined);
  await cluster?.stop();
});

describe('leader election', () => {
  it('lets exactly one replica decide; a crashed leader is replaced within the lease, grants intact', async () => {
    const a = await replica('replica-a');
    const b = await replica('replica-b');
    const leader = await eventually(
      'one leader',
      () => [a, b].filter((r) => r.isLeader()),
      (leaders) => leaders.length === 1,
    ).then((l) => l[0] as RunningExtender);
    const follower = leader === a ? b : a;
    await eventually('leader ready', () => ready(leader), Boolean);
    expect(await ready(follower)).toBe(false);

    const first = await api.createNamespacedPod({ namespace: 'default', body: gpuPod('first', { gpus: 1 }) });
    await eventually('pod seen by both', () => [leader, follower].every((r) => r.view.pod('default', 'first')), Boolean);
    const refused = (await postJson(`${follower.url}/filter`, { Pod: first, NodeNames: ['solo'] })).json as { Error: string };
    expect(refused.Error).toMatch(/not the leader/);
    expect((await schedulePod(leader, first, ['solo'])).error).toBe('');

    // The leader dies without releasing its lease.
    const crashedAt = Date.now();
    await leader.stop({ releaseLease: false });
    await eventually('the follower takes over', () => ready(follower), Boolean, 10_000);
    expect(Date.now() - crashedAt).toBeLessThan((LEASE.leaseDurationSeconds + 2 * LEASE.retryPeriodSeconds + 1) * 1000);

    // It knows the old leader's grant from the pod: the only GPU is taken.
    expect(follower.view.state.allocation(first.metadata?.uid ?? '')).toBeDefined();
    const second = await api.createNamespacedPod({ namespace: 'default', body: gpuPod('second', { gpus: 1 }) });
    await eventually('second seen', () => follower.view.pod('default', 'second'), Boolean);
    const reply = (await postJson(`${follower.url}/filter`, { Pod: second, NodeNames: ['solo'] })).json as { NodeNames: string[]; FailedNodes: Record<string, string> };
    expect(reply.NodeNames).toEqual([]);
    expect(reply.FailedNodes.solo).toMatch(/Insufficient/);
  });

  it('hands over at once when the leader stops cleanly', async () => {
    const c = await replica('replica-c', 'tessera-clean');
    const d = await replica('replica-d', 'tessera-clean');
    const leader = await eventually(
      'a leader',
      () => [c, d].find((r) => r.isLeader()),
      (r) => r !== undefined,
    );
    const other = leader === c ? d : c;
    await leader?.stop();
    await eventually('the other leads', () => other.isLeader(), Boolean, 2 * LEASE.retryPeriodSeconds * 1000 + 1000);
  });
});
