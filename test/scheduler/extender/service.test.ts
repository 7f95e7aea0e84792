/**
 * `tessera scheduler` against the embedded API server through the real client-node: informers, bind's writes,
 * restarts and API trouble.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { HAMI_POD, TESSERA_POD } from '../../../src/api/annotations.js';
import { decodeDecision, signDecision, verifyDecision, verifyRelease } from '../../../src/api/decision.js';
import { decodeHamiDevices } from '../../../src/api/hami.js';
import { publicKeyOf } from '../../../src/api/signing.js';
import { EmbeddedCluster } from '../../../src/cluster/index.js';
import type { RunningExtender } from '../../../src/scheduler/extender/service.js';
import { coreApi, eventually, newKey, postJson, schedulePod, startTestExtender, testConfig } from './cluster-harness.js';
import { gpuNode, gpuPod } from './fixtures.js';

let cluster: EmbeddedCluster;
let api: CoreV1Api;
let extender: RunningExtender;
const key = newKey();
const NODES = ['gpu-1', 'gpu-2'];

async function createPod(name: string, options: Parameters<typeof gpuPod>[1] = {}): Promise<V1Pod> {
  return api.createNamespacedPod({ namespace: 'default', body: gpuPod(name, options) });
}

/** Waits until the extender's pod informer has seen the pod (kube-scheduler only calls for pods it has too). */
async function seen(pod: V1Pod): Promise<void> {
  await eventually(
    `pod ${pod.metadata?.name} in the view`,
    () => extender.view.pod('default', pod.metadata?.name ?? ''),
    (p) => p?.metadata?.uid === pod.metadata?.uid,
  );
}

const used = (): number => extender.view.state.allocations().length;

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  api = coreApi(cluster);
  for (const name of NODES) await api.createNode({ body: gpuNode(name, { gpus: 2 }) });
  extender = await startTestExtender(cluster, key);
  await eventually(
    'ready',
    async () => (await fetch(`${extender.url}/readyz`)).status,
    (s) => s === 200,
  );
});

afterEach(() => cluster.faults.clear());

afterAll(async () => {
  await extender?.stop();
  await cluster?.stop();
});

describe('extender service against the embedded cluster', () => {
  it('binds a pod: HAMi annotations, a signed decision for exactly this pod and node, then the Binding', async () => {
    const pod = await createPod('train-0', { memoryMiB: 20000, cores: 30 });
    await seen(pod);
    const { node, error } = await schedulePod(extender, pod, NODES);
    expect(error).toBe('');
    const stored = await api.readNamespacedPod({ name: 'train-0', namespace: 'default' });
    expect(stored.spec?.nodeName).toBe(node);
    const annotations = stored.metadata?.annotations ?? {};
    expect(annotations[HAMI_POD.vgpuNode]).toBe(node);
    expect(annotations[HAMI_POD.bindPhase]).toBe('allocating');
    expect(Number(annotations[HAMI_POD.bindTime])).toBeGreaterThan(0);
    const devices = decodeHamiDevices(annotations[HAMI_POD.devicesToAllocate] ?? '', HAMI_POD.devicesToAllocate);
    expect(devices).toEqual([[{ uuid: expect.stringMatching(new RegExp(`^GPU-${node}-`)), type: 'NVIDIA', memoryMiB: 20000, cores: 30 }]]);
    expect(annotations[HAMI_POD.devicesAllocated]).toBe(annotations[HAMI_POD.devicesToAllocate]);
    const decision = decodeDecision(annotations[TESSERA_POD.decision] ?? '');
    expect(decision).toMatchObject({ pod: { uid: stored.metadata?.uid, name: 'train-0', namespace: 'default' }, node, mode: 'hami-core' });
    expect(verifyDecision(decision, key)).toBe(true);
  });

  it('is idempotent when kube-scheduler retries a bind: one grant, one Binding', async () => {
    const pod = await createPod('retry-0', { memoryMiB: 10000 });
    await seen(pod);
    const before = used();
    const first = await schedulePod(extender, pod, NODES);
    expect(first.error).toBe('');
    const annotation = (await api.readNamespacedPod({ name: 'retry-0', namespace: 'default' })).metadata?.annotations?.[TESSERA_POD.decision];
    const again = await postJson(`${extender.url}/bind`, { PodName: 'retry-0', PodNamespace: 'default', PodUID: pod.metadata?.uid, Node: first.node });
    expect(again.json).toEqual({ Error: '' });
    expect(used()).toBe(before + 1);
    expect((await api.readNamespacedPod({ name: 'retry-0', namespace: 'default' })).metadata?.annotations?.[TESSERA_POD.decision]).toBe(annotation);
  });

  it('releases the reservation and marks the pod when bind fails, with an Event giving the reason', async () => {
    const pod = await createPod('too-big', { gpus: 2, memoryMiB: 90000 });
    await seen(pod);
    const before = used();
    const reply = await postJson(`${extender.url}/bind`, { PodName: 'too-big', PodNamespace: 'default', PodUID: pod.metadata?.uid, Node: 'gpu-1' });
    expect((reply.json as { Error: string }).Error).toMatch(/node gpu-1 cannot take the pod/);
    expect(used()).toBe(before);
    const stored = await api.readNamespacedPod({ name: 'too-big', namespace: 'default' });
    expect(stored.metadata?.annotations?.[HAMI_POD.bindPhase]).toBe('failed');
    expect(stored.spec?.nodeName).toBeUndefined();
    const events = await eventually(
      'the FailedBinding event',
      () => api.listNamespacedEvent({ namespace: 'default' }),
      (l) => l.items.some((e) => e.involvedObject.name === 'too-big'),
    );
    const event = events.items.find((e) => e.involvedObject.name === 'too-big');
    expect(event).toMatchObject({ type: 'Warning', reason: 'FailedBinding', involvedObject: { uid: pod.metadata?.uid } });
    expect(event?.message).toMatch(/cannot take the pod/);
  });

  it('survives a 409 on the annotation patch and 5xx on the Binding (re-read, back off, land once)', async () => {
    const pod = await createPod('flaky-0', { memoryMiB: 10000 });
    await seen(pod);
    const before = used();
    cluster.faults.failNext({ verb: 'patch', resource: 'pods', status: 409, count: 2 });
    cluster.faults.failNext({ verb: 'create', resource: 'pods/binding', status: 503, count: 2 });
    const { node, error } = await schedulePod(extender, pod, NODES);
    expect(error).toBe('');
    expect((await api.readNamespacedPod({ name: 'flaky-0', namespace: 'default' })).spec?.nodeName).toBe(node);
    expect(used()).toBe(before + 1);
  });

  it("frees a deleted pod's capacity at once", async () => {
    const pod = await createPod('short-lived', { memoryMiB: 10000 });
    await seen(pod);
    expect((await schedulePod(extender, pod, NODES)).error).toBe('');
    expect(extender.view.book.get(pod.metadata?.uid ?? '')).toBeDefined();
    await api.deleteNamespacedPod({ name: 'short-lived', namespace: 'default' });
    await eventually(
      'the grant released',
      () => extender.view.book.get(pod.metadata?.uid ?? ''),
      (r) => r === undefined,
    );
    expect(extender.view.state.allocation(pod.metadata?.uid ?? '')).toBeUndefined();
  });

  it('counts nothing for a decision a user wrote on their own pod, even one copied from a granted pod', async () => {
    const granted = await api.readNamespacedPod({ name: 'train-0', namespace: 'default' });
    const copied = granted.metadata?.annotations?.[TESSERA_POD.decision] ?? '';
    const forgedDecision = signDecision({ ...decodeDecision(copied), pod: { uid: 'whatever', namespace: 'default', name: 'forged' } }, newKey());
    const before = used();
    await api.createNamespacedPod({
      namespace: 'default',
      body: { ...gpuPod('copycat', { annotations: { [TESSERA_POD.decision]: copied } }), spec: { ...gpuPod('copycat').spec, nodeName: 'gpu-1' } },
    });
    const forged = await api.createNamespacedPod({ namespace: 'default', body: gpuPod('forged', { annotations: { [TESSERA_POD.decision]: JSON.stringify(forgedDecision) } }) });
    await seen(forged);
    expect(used()).toBe(before);
  });

  it('follows watch drops: a node added after every watch was cut is seen', async () => {
    cluster.closeWatches({ abrupt: true });
    await api.createNode({ body: gpuNode('gpu-late', { gpus: 1 }) });
    await eventually(
      'gpu-late in the view',
      () => extender.view.state.node('gpu-late'),
      (n) => n !== undefined,
    );
  });

  it('rebuilds the same grants after a restart, and never grants them twice', async () => {
    const grants = extender.view.state
      .allocations()
      .map((a) => a.pod.uid)
      .sort();
    await extender.stop();
    extender = await startTestExtender(cluster, key);
    await eventually(
      'ready again',
      async () => (await fetch(`${extender.url}/readyz`)).status,
      (s) => s === 200,
    );
    expect(
      extender.view.state
        .allocations()
        .map((a) => a.pod.uid)
        .sort(),
    ).toEqual(grants);
    // A retried bind after the restart reuses the rebuilt grant.
    const pod = await api.readNamespacedPod({ name: 'retry-0', namespace: 'default' });
    const again = await postJson(`${extender.url}/bind`, { PodName: 'retry-0', PodNamespace: 'default', PodUID: pod.metadata?.uid, Node: pod.spec?.nodeName });
    expect(again.json).toEqual({ Error: '' });
    expect(extender.view.state.allocations().length).toBe(grants.length);
  });

  it("picks up a bind a crash cut short: the grant counts once, and kube-scheduler's retry lands once", async () => {
    // What a crash between the annotation patch and the Binding leaves: a signed decision on an unbound pod.
    const pod = await createPod('cut-short', { memoryMiB: 10000 });
    await seen(pod);
    // The same devices as retry-0's grant (room for both), signed for this pod as the extender would have.
    const decision = signDecision(
      {
        ...decodeDecision((await api.readNamespacedPod({ name: 'retry-0', namespace: 'default' })).metadata?.annotations?.[TESSERA_POD.decision] ?? ''),
        pod: { uid: pod.metadata?.uid ?? '', namespace: 'default', name: 'cut-short' },
      },
      key,
    );
    await api.patchNamespacedPod({
      name: 'cut-short',
      namespace: 'default',
      body: [{ op: 'add', path: '/metadata/annotations', value: { [TESSERA_POD.decision]: JSON.stringify(decision), [HAMI_POD.bindPhase]: 'allocating' } }],
    });
    await extender.stop();
    extender = await startTestExtender(cluster, key);
    await eventually(
      'ready again',
      async () => (await fetch(`${extender.url}/readyz`)).status,
      (s) => s === 200,
    );
    const before = used();
    expect(extender.view.book.get(pod.metadata?.uid ?? '')?.node).toBe(decision.node);
    // kube-scheduler retries the pod from the start: the old grant gives way to the new one, never both.
    const retried = await schedulePod(extender, await api.readNamespacedPod({ name: 'cut-short', namespace: 'default' }), NODES);
    expect(retried.error).toBe('');
    expect(used()).toBe(before);
    expect((await api.readNamespacedPod({ name: 'cut-short', namespace: 'default' })).spec?.nodeName).toBe(retried.node);
  });

  it('takes back a grant the device plugin never confirmed, after the TTL', async () => {
    const short = await startTestExtender(cluster, key, testConfig({ reservationTtlSeconds: 1 }));
    try {
      await eventually(
        'ready',
        async () => (await fetch(`${short.url}/readyz`)).status,
        (s) => s === 200,
      );
      // The same shape as the pods already in flight (nothing confirms them here), so the in-flight rule admits it.
      const pod = await createPod('never-starts', { memoryMiB: 10000 });
      await eventually(
        'pod seen',
        () => short.view.pod('default', 'never-starts'),
        (p) => p !== undefined,
      );
      const { error } = await schedulePod(short, pod, NODES);
      expect(error).toBe('');
      const marked = await eventually(
        'the pod marked failed',
        () => api.readNamespacedPod({ name: 'never-starts', namespace: 'default' }),
        (p) => p.metadata?.annotations?.[HAMI_POD.bindPhase] === 'failed',
      );
      // The decision stays, with the scheduler's signed release of exactly it.
      const kept = decodeDecision(marked.metadata?.annotations?.[TESSERA_POD.decision] ?? '');
      expect(verifyRelease(marked.metadata?.annotations?.[TESSERA_POD.release], pod.metadata?.uid ?? '', kept, { scheduler: publicKeyOf(key), node: () => undefined })).toBe(true);
      expect(short.view.book.get(pod.metadata?.uid ?? '')).toBeUndefined();
      // The other replica reads the mark back and frees the capacity too.
      await eventually(
        'released everywhere',
        () => extender.view.book.get(pod.metadata?.uid ?? ''),
        (r) => r === undefined,
      );
    } finally {
      await short.stop();
    }
  });
});
