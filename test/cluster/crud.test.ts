import { PatchStrategy, setHeaderOptions, type V1Lease } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pod, startHarness, statusOf, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.cluster.stop();
});

describe('embedded cluster CRUD through client-node', () => {
  it('create fills uid, creationTimestamp, resourceVersion and generateName; a second create is 409 AlreadyExists', async () => {
    const created = await h.core.createNamespacedPod({ namespace: 'default', body: pod('crud-a') });
    expect(created.metadata?.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(Number(created.metadata?.resourceVersion)).toBeGreaterThan(0);
    const generated = await h.core.createNamespacedPod({ namespace: 'default', body: pod('', { metadata: { generateName: 'gen-' } }) });
    expect(generated.metadata?.name).toMatch(/^gen-[a-z0-9]{5}$/);
    expect(await statusOf(h.core.createNamespacedPod({ namespace: 'default', body: pod('crud-a') }))).toBe(409);
  });

  it('answers 404 NotFound with a Status body', async () => {
    try {
      await h.core.readNamespacedPod({ name: 'missing', namespace: 'default' });
      expect.unreachable();
    } catch (error) {
      const body = JSON.parse((error as { body: string }).body) as { kind: string; reason: string; code: number };
      expect(body).toMatchObject({ kind: 'Status', reason: 'NotFound', code: 404 });
    }
  });

  it('rejects a stale resourceVersion with 409 and bumps the global resourceVersion on every write', async () => {
    const cm = await h.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cm-rv' }, data: { a: '1' } } });
    const updated = await h.core.replaceNamespacedConfigMap({ name: 'cm-rv', namespace: 'default', body: { ...cm, data: { a: '2' } } });
    expect(Number(updated.metadata?.resourceVersion)).toBeGreaterThan(Number(cm.metadata?.resourceVersion));
    expect(await statusOf(h.core.replaceNamespacedConfigMap({ name: 'cm-rv', namespace: 'default', body: { ...cm, data: { a: '3' } } }))).toBe(409);
    expect((await h.core.readNamespacedConfigMap({ name: 'cm-rv', namespace: 'default' })).data).toEqual({ a: '2' });
  });

  it('writes to /status change status and metadata but never spec, and plain updates leave status alone', async () => {
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('status-a') });
    const current = await h.core.readNamespacedPod({ name: 'status-a', namespace: 'default' });
    const withStatus = await h.core.replaceNamespacedPodStatus({
      name: 'status-a',
      namespace: 'default',
      body: { ...current, metadata: { ...current.metadata, labels: { changed: 'yes' } }, spec: { ...current.spec!, activeDeadlineSeconds: 5 }, status: { phase: 'Running' } },
    });
    // As kube-apiserver's pods/status: metadata may change, the spec may not, and the QoS class set at creation stays.
    expect(withStatus.status).toEqual({ phase: 'Running', qosClass: 'BestEffort' });
    expect(withStatus.metadata?.labels).toEqual({ changed: 'yes' });
    expect(withStatus.spec?.activeDeadlineSeconds).toBeUndefined();
    const relabelled = await h.core.replaceNamespacedPod({
      name: 'status-a',
      namespace: 'default',
      body: { ...withStatus, metadata: { ...withStatus.metadata, labels: { changed: 'yes' } }, status: { phase: 'Failed' } },
    });
    expect(relabelled.status?.phase).toBe('Running');
    expect(relabelled.metadata?.labels).toEqual({ changed: 'yes' });
  });

  it('binds a pending pod once: spec.nodeName and PodScheduled set, a second binding is 409', async () => {
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('bind-a') });
    const binding = { metadata: { name: 'bind-a' }, target: { kind: 'Node', name: 'node-1' } };
    await h.core.createNamespacedPodBinding({ name: 'bind-a', namespace: 'default', body: binding });
    const bound = await h.core.readNamespacedPod({ name: 'bind-a', namespace: 'default' });
    expect(bound.spec?.nodeName).toBe('node-1');
    expect(bound.status?.conditions?.find((c) => c.type === 'PodScheduled')?.status).toBe('True');
    expect(await statusOf(h.core.createNamespacedPodBinding({ name: 'bind-a', namespace: 'default', body: { ...binding, target: { kind: 'Node', name: 'node-2' } } }))).toBe(409);
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('bind-b') });
    await h.core.createNamespacedBinding({ namespace: 'default', body: { metadata: { name: 'bind-b' }, target: { kind: 'Node', name: 'node-3' } } });
    expect((await h.core.readNamespacedPod({ name: 'bind-b', namespace: 'default' })).spec?.nodeName).toBe('node-3');
  });

  it('patches with merge, JSON and strategic merge content types, and refuses others with 415', async () => {
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('patch-a') });
    const merged = await h.core.patchNamespacedPod(
      { name: 'patch-a', namespace: 'default', body: { metadata: { labels: { tier: 'gpu', app: null } } } },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    expect(merged.metadata?.labels).toEqual({ tier: 'gpu' });
    const jsonPatched = await h.core.patchNamespacedPod({
      name: 'patch-a',
      namespace: 'default',
      body: [{ op: 'add', path: '/metadata/annotations', value: { note: 'x' } }],
    });
    expect(jsonPatched.metadata?.annotations).toEqual({ note: 'x' });
    const strategic = await h.core.patchNamespacedPod(
      { name: 'patch-a', namespace: 'default', body: { spec: { containers: [{ name: 'main', image: 'busybox:2' }] } } },
      setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
    );
    expect(strategic.spec?.containers.map((c) => `${c.name}=${c.image}`)).toEqual(['main=busybox:2']);
    // Merged by name, a new container is an addition, which a pod's spec does not allow after creation.
    const added = await statusOf(
      h.core.patchNamespacedPod(
        { name: 'patch-a', namespace: 'default', body: { spec: { containers: [{ name: 'sidecar', image: 'envoy:1' }] } } },
        setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch),
      ),
    );
    expect(added).toBe(422);
    const failed = await statusOf(h.core.patchNamespacedPod({ name: 'patch-a', namespace: 'default', body: { a: 1 } }, setHeaderOptions('Content-Type', 'text/plain')));
    expect(failed).toBe(415);
  });

  it('a patch carrying a stale resourceVersion is a 409', async () => {
    const cm = await h.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'cm-patch' } } });
    await h.core.patchNamespacedConfigMap({ name: 'cm-patch', namespace: 'default', body: { data: { a: '1' } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    const stale = { metadata: { resourceVersion: cm.metadata?.resourceVersion }, data: { a: '2' } };
    expect(await statusOf(h.core.patchNamespacedConfigMap({ name: 'cm-patch', namespace: 'default', body: stale }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)))).toBe(409);
  });

  it('serves nodes with /status, secrets, events and leases', async () => {
    await h.core.createNode({ body: { metadata: { name: 'gpu-node-1', labels: { gpu: 'a100' } } } });
    const node = await h.core.patchNodeStatus({ name: 'gpu-node-1', body: { status: { capacity: { 'nvidia.com/gpu': '8' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(node.status?.capacity).toEqual({ 'nvidia.com/gpu': '8' });
    const secret = await h.core.createNamespacedSecret({ namespace: 'default', body: { metadata: { name: 's1' }, data: { k: 'dg==' } } });
    expect(secret.data).toEqual({ k: 'dg==' });
    await h.core.createNamespacedEvent({ namespace: 'default', body: { metadata: { name: 'e1' }, involvedObject: { kind: 'Pod', name: 'x' }, reason: 'Test' } });
    const lease: V1Lease = { metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, renewTime: new Date() } };
    const storedLease = await h.coordination.createNamespacedLease({ namespace: 'kube-system', body: lease });
    expect(storedLease.spec?.holderIdentity).toBe('a');
    expect((await h.core.listNode()).items.map((n) => n.metadata?.name)).toContain('gpu-node-1');
  });

  it('filters lists by label and field selectors across namespaces', async () => {
    await h.core.createNamespace({ body: { metadata: { name: 'team-b' } } });
    await h.core.createNamespacedPod({ namespace: 'team-b', body: pod('sel-a', { metadata: { labels: { app: 'x', tier: 'gpu' } } }) });
    await h.core.createNamespacedPod({ namespace: 'team-b', body: pod('sel-b', { metadata: { labels: { app: 'y' } }, spec: { containers: [], nodeName: 'n9' } }) });
    const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> =>
      (await h.core.listPodForAllNamespaces({ labelSelector, fieldSelector })).items.map((p) => p.metadata!.name!).filter((n) => n.startsWith('sel-'));
    expect(await names('tier in (gpu,cpu)')).toEqual(['sel-a']);
    expect(await names('app!=x')).toEqual(['sel-b']);
    expect(await names('!tier')).toEqual(['sel-b']);
    expect(await names(undefined, 'spec.nodeName=n9')).toEqual(['sel-b']);
    expect(await names(undefined, 'metadata.namespace=team-b,spec.nodeName=')).toEqual(['sel-a']);
    expect(await statusOf(h.core.listPodForAllNamespaces({ labelSelector: 'a in (' }))).toBe(400);
  });

  it('refuses a pod in a namespace that does not exist', async () => {
    expect(await statusOf(h.core.createNamespacedPod({ namespace: 'nowhere', body: pod('lost') }))).toBe(404);
  });
});
