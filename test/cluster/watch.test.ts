import { makeInformer, Watch, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pod, startHarness, type Harness } from './helpers.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ historySize: 20, bookmarkIntervalMs: 50 });
});
afterAll(async () => {
  await h.cluster.stop();
});

interface Seen {
  type: string;
  name: string | undefined;
  rv?: string;
  annotations?: Record<string, string>;
}

/** Opens a raw watch and collects events until `until` is satisfied. */
async function collect(path: string, query: Record<string, string | number | boolean | undefined>, until: (events: Seen[]) => boolean, act?: () => Promise<void>): Promise<Seen[]> {
  const events: Seen[] = [];
  let finished = false;
  let markDone: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (markDone = resolve));
  const finish = (): void => {
    finished = true;
    markDone();
  };
  const request = await new Watch(h.cluster.kubeConfig()).watch(
    path,
    query,
    (type, object: V1Pod) => {
      if (finished) return;
      events.push({ type, name: object.metadata?.name, rv: object.metadata?.resourceVersion, annotations: object.metadata?.annotations });
      if (until(events)) finish();
    },
    (error) => {
      if (error && !finished) events.push({ type: 'DONE-ERROR', name: String(error) });
      finish();
    },
  );
  await act?.();
  await done;
  request.abort();
  return events;
}

describe('watches', () => {
  it('starts with ADDED for every object when resourceVersion is 0, then streams changes', async () => {
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('w-initial') });
    const events = await collect(
      '/api/v1/namespaces/default/pods',
      { resourceVersion: '0' },
      (e) => e.some((x) => x.type === 'MODIFIED' && x.name === 'w-initial'),
      async () => {
        await h.core.patchNamespacedPod({ name: 'w-initial', namespace: 'default', body: [{ op: 'add', path: '/metadata/labels/x', value: 'y' }] });
      },
    );
    expect(events.map((e) => `${e.type}:${e.name}`)).toEqual(['ADDED:w-initial', 'MODIFIED:w-initial']);
  });

  it('resumes after a resourceVersion and answers 410 Expired past the bounded history', async () => {
    const first = await h.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w-resume-1' } } });
    await h.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w-resume-2' } } });
    const resumed = await collect('/api/v1/namespaces/default/configmaps', { resourceVersion: first.metadata?.resourceVersion }, (e) => e.length >= 1);
    expect(resumed.map((e) => e.name)).toEqual(['w-resume-2']);
    for (let i = 0; i < 40; i++) await h.core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `w-fill-${i}` } } });
    const gone = await collect('/api/v1/namespaces/default/configmaps', { resourceVersion: first.metadata?.resourceVersion }, (e) => e.length >= 1);
    expect(gone[0]?.type).toBe('ERROR');
  });

  it('sends bookmarks only on request, and marks the end of initial events', async () => {
    const events = await collect(
      '/api/v1/namespaces/default/pods',
      { allowWatchBookmarks: true, sendInitialEvents: true, resourceVersionMatch: 'NotOlderThan', resourceVersion: '' },
      (e) => e.filter((x) => x.type === 'BOOKMARK').length >= 2,
    );
    const bookmarks = events.filter((e) => e.type === 'BOOKMARK');
    expect(bookmarks[0]?.annotations).toEqual({ 'k8s.io/initial-events-end': 'true' });
    expect(events.findIndex((e) => e.type === 'BOOKMARK')).toBe(events.filter((e) => e.type === 'ADDED').length);
  });

  it('turns selector transitions into ADDED and DELETED, and ends cleanly at timeoutSeconds', async () => {
    await h.core.createNamespacedPod({ namespace: 'default', body: pod('w-sel') });
    const events = await collect(
      '/api/v1/pods',
      { fieldSelector: 'spec.nodeName=n-watch', labelSelector: 'app=demo', timeoutSeconds: 1, resourceVersion: (await h.core.listPodForAllNamespaces()).metadata?.resourceVersion },
      () => false,
      async () => {
        await h.core.createNamespacedPodBinding({ name: 'w-sel', namespace: 'default', body: { metadata: { name: 'w-sel' }, target: { kind: 'Node', name: 'n-watch' } } });
        await h.core.deleteNamespacedPod({ name: 'w-sel', namespace: 'default' });
      },
    );
    expect(events.map((e) => `${e.type}:${e.name}`)).toEqual(['ADDED:w-sel', 'DELETED:w-sel']);
  });

  it('feeds a client-node informer: list, watch, and relist after an abrupt watch close', async () => {
    const kc = h.cluster.kubeConfig();
    const informer = makeInformer<V1Pod>(kc, '/api/v1/namespaces/informed/pods', () => h.core.listNamespacedPod({ namespace: 'informed' }));
    await h.core.createNamespace({ body: { metadata: { name: 'informed' } } });
    await h.core.createNamespacedPod({ namespace: 'informed', body: pod('i-1') });
    const seen: string[] = [];
    const errors: unknown[] = [];
    informer.on('add', (p) => seen.push(`add:${p.metadata?.name}`));
    informer.on('update', (p) => seen.push(`update:${p.metadata?.name}`));
    informer.on('error', (e) => errors.push(e));
    await informer.start();
    const waitFor = async (want: string): Promise<void> => {
      for (let i = 0; i < 200 && !seen.includes(want); i++) await new Promise((r) => setTimeout(r, 10));
      expect(seen).toContain(want);
    };
    await waitFor('add:i-1');
    await h.core.createNamespacedPod({ namespace: 'informed', body: pod('i-2') });
    await waitFor('add:i-2');
    h.cluster.closeWatches({ abrupt: true });
    await new Promise((r) => setTimeout(r, 50));
    expect(errors.length).toBe(1);
    await informer.start();
    await h.core.createNamespacedPod({ namespace: 'informed', body: pod('i-3') });
    await waitFor('add:i-3');
    h.cluster.closeWatches();
    await h.core.createNamespacedPod({ namespace: 'informed', body: pod('i-4') });
    await waitFor('add:i-4');
    expect(
      informer
        .list()
        .map((p) => p.metadata?.name)
        .sort(),
    ).toEqual(['i-1', 'i-2', 'i-3', 'i-4']);
    await informer.stop();
  });

  it('an informer whose resume point fell out of the history gets 410 and relists', async () => {
    await h.core.createNamespace({ body: { metadata: { name: 'relist' } } });
    let lists = 0;
    const informer = makeInformer(h.cluster.kubeConfig(), '/api/v1/namespaces/relist/configmaps', () => {
      lists++;
      return h.core.listNamespacedConfigMap({ namespace: 'relist' });
    });
    const names = new Set<string>();
    informer.on('add', (c) => names.add(c.metadata!.name!));
    await informer.start();
    // Hold the re-watch back while more changes than the history keeps (20) go by.
    h.cluster.faults.addLatency(400, { verb: 'watch', resource: 'configmaps' });
    h.cluster.closeWatches();
    for (let i = 0; i < 30; i++) h.cluster.store.create('configmaps', { metadata: { name: `r-${i}`, namespace: 'relist' } });
    h.cluster.faults.clear();
    for (let i = 0; i < 300 && names.size < 30; i++) await new Promise((r) => setTimeout(r, 10));
    expect(names.size).toBe(30);
    expect(lists).toBe(2);
    await informer.stop();
  });
});
