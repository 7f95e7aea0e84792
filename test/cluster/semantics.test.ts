import { CoordinationV1Api, CoreV1Api, PatchStrategy, V1MicroTime, setHeaderOptions, type V1Lease } from '@kubernetes/client-node';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { pod, rawRequest, startHarness, statusOf, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.cluster.stop();
});

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** The heartbeat a kubelet keeps for its node (renewed now unless told otherwise): what makes pod deletes graceful there. */
async function kubeletLease(node: string, renewed = new Date()): Promise<void> {
  const coordination = h.cluster.kubeConfig().makeApiClient(CoordinationV1Api);
  await coordination.deleteNamespacedLease({ name: node, namespace: 'kube-node-lease' }).catch(() => undefined);
  await coordination.createNamespacedLease({
    namespace: 'kube-node-lease',
    body: { metadata: { name: node }, spec: { holderIdentity: node, leaseDurationSeconds: 40, renewTime: new V1MicroTime(renewed.getTime()) } },
  });
}

describe('optimistic concurrency', () => {
  it('many clients updating one object: every update lands or gets 409, none is lost', async () => {
    await h.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'counter' }, data: { n: '0' } } });
    const clients = Array.from({ length: 8 }, () => h.cluster.kubeConfig());
    let landed = 0;
    let conflicts = 0;
    await Promise.all(
      clients.map(async (kc) => {
        const core = kc.makeApiClient(CoreV1Api);
        for (let attempt = 0; attempt < 15; attempt++) {
          const current = await core.readNamespacedConfigMap({ name: 'counter', namespace: 'default' });
          const next = { ...current, data: { n: String(Number(current.data?.n) + 1) } };
          const code = await statusOf(core.replaceNamespacedConfigMap({ name: 'counter', namespace: 'default', body: next }));
          if (code === 200) landed++;
          else if (code === 409) conflicts++;
          else throw new Error(`unexpected status ${code}`);
        }
      }),
    );
    const final = await h.core.readNamespacedConfigMap({ name: 'counter', namespace: 'default' });
    expect(landed + conflicts).toBe(8 * 15);
    expect(Number(final.data?.n)).toBe(landed);
  });

  it('lease races: of two contenders updating with the read resourceVersion, exactly one wins', async () => {
    const lease: V1Lease = { metadata: { name: 'race' }, spec: { holderIdentity: '', leaseDurationSeconds: 15 } };
    const created = await Promise.allSettled([
      h.coordination.createNamespacedLease({ namespace: 'kube-system', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'a' } } }),
      h.coordination.createNamespacedLease({ namespace: 'kube-system', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } }),
    ]);
    expect(created.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(created.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual([409]);
    for (let round = 0; round < 10; round++) {
      const seen = await h.coordination.readNamespacedLease({ name: 'race', namespace: 'kube-system' });
      const take = (who: string): Promise<V1Lease> =>
        h.coordination.replaceNamespacedLease({
          name: 'race',
          namespace: 'kube-system',
          body: { ...seen, spec: { ...seen.spec, holderIdentity: who, renewTime: new Date(), leaseTransitions: (seen.spec?.leaseTransitions ?? 0) + 1 } },
        });
      const results = await Promise.allSettled([take(`a-${round}`), take(`b-${round}`)]);
      const winners = results.filter((r): r is PromiseFulfilledResult<V1Lease> => r.status === 'fulfilled');
      expect(winners).toHaveLength(1);
      expect((results.find((r) => r.status === 'rejected') as PromiseRejectedResult).reason.code).toBe(409);
      const holder = (await h.coordination.readNamespacedLease({ name: 'race', namespace: 'kube-system' })).spec?.holderIdentity;
      expect(holder).toBe(winners[0]!.value.spec?.holderIdentity);
    }
  });
});

describe('deletion', () => {
  it('finalizers keep the object with a deletionTimestamp until they are removed', async () => {
    await h.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'held', finalizers: ['tessera.io/hold'] } } });
    // client-node types a configmap delete's answer as a Status, so read the object back instead.
    await h.core.deleteNamespacedConfigMap({ name: 'held', namespace: 'default' });
    const still = await h.core.readNamespacedConfigMap({ name: 'held', namespace: 'default' });
    expect(still.metadata?.deletionTimestamp).toBeDefined();
    await h.core.patchNamespacedConfigMap({ name: 'held', namespace: 'default', body: { metadata: { finalizers: null } } }, mergePatch);
    expect(await statusOf(h.core.readNamespacedConfigMap({ name: 'held', namespace: 'default' }))).toBe(404);
  });

  it('a grace period marks a bound pod first and removes it when the period ends', async () => {
    await kubeletLease('n1');
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('graceful') });
    await h.core.createNamespacedPodBinding({ name: 'graceful', namespace: 'default', body: { metadata: { name: 'graceful' }, target: { kind: 'Node', name: 'n1' } } });
    const marked = await h.core.deleteNamespacedPod({ name: 'graceful', namespace: 'default', gracePeriodSeconds: 1 });
    expect(marked.metadata?.deletionTimestamp).toBeDefined();
    expect(marked.metadata?.deletionGracePeriodSeconds).toBe(1);
    expect(await statusOf(h.core.readNamespacedPod({ name: 'graceful', namespace: 'default' }))).toBe(200);
    await new Promise((r) => setTimeout(r, 1200));
    expect(await statusOf(h.core.readNamespacedPod({ name: 'graceful', namespace: 'default' }))).toBe(404);
  });

  it('a bound pod takes its grace from terminationGracePeriodSeconds; a second delete may shorten it; an unbound pod goes at once', async () => {
    await kubeletLease('n1');
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('default-grace', { spec: { containers: [{ name: 'main', image: 'busybox:1' }], terminationGracePeriodSeconds: 7 } }) });
    await h.core.createNamespacedPodBinding({ name: 'default-grace', namespace: 'default', body: { metadata: { name: 'default-grace' }, target: { kind: 'Node', name: 'n1' } } });
    const marked = await h.core.deleteNamespacedPod({ name: 'default-grace', namespace: 'default' });
    expect(marked.metadata?.deletionGracePeriodSeconds).toBe(7);
    expect((await h.core.deleteNamespacedPod({ name: 'default-grace', namespace: 'default', gracePeriodSeconds: 30 })).metadata?.deletionGracePeriodSeconds).toBe(7);
    expect((await h.core.deleteNamespacedPod({ name: 'default-grace', namespace: 'default', gracePeriodSeconds: 2 })).metadata?.deletionGracePeriodSeconds).toBe(2);
    await h.core.deleteNamespacedPod({ name: 'default-grace', namespace: 'default', gracePeriodSeconds: 0 });
    expect(await statusOf(h.core.readNamespacedPod({ name: 'default-grace', namespace: 'default' }))).toBe(404);
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('unbound') });
    await h.core.deleteNamespacedPod({ name: 'unbound', namespace: 'default', gracePeriodSeconds: 30 });
    expect(await statusOf(h.core.readNamespacedPod({ name: 'unbound', namespace: 'default' }))).toBe(404);
  });

  it('a pod on a node whose kubelet lease is missing or expired goes at once: nothing would finish its deletion', async () => {
    for (const [name, node] of [
      ['leaseless', 'no-lease'],
      ['expired', 'stale-lease'],
    ] as const) {
      if (node === 'stale-lease') await kubeletLease(node, new Date(Date.now() - 60_000));
      await h.core.createNamespacedPod({ namespace: 'default', body: pod(name) });
      await h.core.createNamespacedPodBinding({ name, namespace: 'default', body: { metadata: { name }, target: { kind: 'Node', name: node } } });
      await h.core.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 30 });
      expect({ name, status: await statusOf(h.core.readNamespacedPod({ name, namespace: 'default' })) }).toEqual({ name, status: 404 });
    }
  });

  it('answers a finished delete with the pod itself, and with a Success Status for other types', async () => {
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('gone-pod') });
    await h.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'gone-cm' } } });
    const podAnswer = JSON.parse((await rawRequest(h.cluster, 'DELETE', '/api/v1/namespaces/default/pods/gone-pod')).text) as { kind: string };
    expect(podAnswer.kind).toBe('Pod');
    const cmAnswer = JSON.parse((await rawRequest(h.cluster, 'DELETE', '/api/v1/namespaces/default/configmaps/gone-cm')).text) as object;
    expect(cmAnswer).toMatchObject({ kind: 'Status', status: 'Success', details: { name: 'gone-cm', kind: 'configmaps' } });
  });

  it('honours a uid precondition, and deleting a namespace deletes what is in it', async () => {
    await h.core.createNamespace({ body: { metadata: { name: 'doomed' } } });
    await h.core.createNamespacedConfigMap({ namespace: 'doomed', body: { metadata: { name: 'c' } } });
    expect(await statusOf(h.core.deleteNamespacedConfigMap({ name: 'c', namespace: 'doomed', body: { preconditions: { uid: 'not-it' } } }))).toBe(409);
    await h.core.deleteNamespace({ name: 'doomed' });
    expect(await statusOf(h.core.readNamespacedConfigMap({ name: 'c', namespace: 'doomed' }))).toBe(404);
  });
});

describe('pagination', () => {
  it('pages with limit and continue, visiting every object exactly once', async () => {
    await h.core.createNamespace({ body: { metadata: { name: 'paged' } } });
    for (let i = 0; i < 23; i++) await h.core.createNamespacedConfigMap({ namespace: 'paged', body: { metadata: { name: `cm-${String(i).padStart(2, '0')}` } } });
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await h.core.listNamespacedConfigMap({ namespace: 'paged', limit: 5, _continue: token });
      names.push(...page.items.map((c) => c.metadata!.name!));
      token = page.metadata?._continue;
      if (token) expect(page.metadata?.remainingItemCount).toBe(23 - names.length);
      pages++;
    } while (token);
    expect(pages).toBe(5);
    expect(names).toEqual(Array.from({ length: 23 }, (_, i) => `cm-${String(i).padStart(2, '0')}`));
    expect(await statusOf(h.core.listNamespacedConfigMap({ namespace: 'paged', limit: 5, _continue: 'garbage!' }))).toBe(400);
  });
});

describe('fault injection', () => {
  // statusOf reports any success as 200.
  it('fails the next N matching requests with the chosen status, then serves again', async () => {
    h.cluster.faults.failNext({ verb: 'create', resource: 'pods/binding', status: 503, count: 2 });
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('faulty') });
    const bind = (): Promise<number> =>
      statusOf(h.core.createNamespacedPodBinding({ name: 'faulty', namespace: 'default', body: { metadata: { name: 'faulty' }, target: { kind: 'Node', name: 'n' } } }));
    expect([await bind(), await bind(), await bind()]).toEqual([503, 503, 200]);
  });

  it('adds latency to matching requests until cleared', async () => {
    h.cluster.faults.addLatency(150, { verb: 'list', resource: 'nodes' });
    const started = performance.now();
    await h.core.listNode();
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
    h.cluster.faults.clear();
  });
});

describe('persistence', () => {
  it('saves state atomically on stop and loads it on start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-state-'));
    const path = join(dir, 'state.json');
    try {
      const first = await EmbeddedCluster.start({ persistPath: path });
      const created = await first
        .kubeConfig()
        .makeApiClient(CoreV1Api)
        .createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'kept' }, data: { a: '1' } } });
      await first.stop();
      expect(readdirSync(dir)).toEqual(['state.json']);
      const second = await EmbeddedCluster.start({ persistPath: path });
      const core = second.kubeConfig().makeApiClient(CoreV1Api);
      const kept = await core.readNamespacedConfigMap({ name: 'kept', namespace: 'default' });
      expect(kept.metadata?.uid).toBe(created.metadata?.uid);
      const next = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'after' } } });
      expect(Number(next.metadata?.resourceVersion)).toBeGreaterThan(Number(created.metadata?.resourceVersion));
      await second.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a damaged state file with an error naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-state-'));
    const path = join(dir, 'state.json');
    try {
      writeFileSync(path, '{"format":"tessera-embedded-cluster/v1","resourceVersion":');
      await expect(EmbeddedCluster.start({ persistPath: path })).rejects.toThrow(/state\.json is not valid JSON/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
