/** The restarting informer against the embedded cluster: it syncs, follows changes, and a stop leaves nothing open. */
import { CoreV1Api, type V1ConfigMap } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { runInformer } from '../../src/kube/informer.js';
import { eventually } from '../scheduler/extender/cluster-harness.js';

const log = pino({ level: 'silent' });
let cluster: EmbeddedCluster;

beforeEach(async () => {
  cluster = await EmbeddedCluster.start();
});
afterEach(async () => cluster.stop());

function configMapInformer(seen: Set<string>) {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  return runInformer<V1ConfigMap>({
    kubeConfig: cluster.kubeConfig(),
    path: '/api/v1/namespaces/default/configmaps',
    list: () => core.listNamespacedConfigMap({ namespace: 'default' }),
    handlers: { upsert: (c) => seen.add(c.metadata?.name ?? ''), remove: (c) => seen.delete(c.metadata?.name ?? '') },
    log,
  });
}

describe('runInformer', () => {
  it('syncs, follows changes, and closes its watch on stop', async () => {
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'before' } } });
    const seen = new Set<string>();
    const informer = configMapInformer(seen);
    await informer.synced;
    expect(seen.has('before')).toBe(true);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'after' } } });
    await eventually('the watch delivers the new object', () => seen.has('after'), Boolean);
    expect(cluster.openWatches()).toBe(1);
    await informer.stop();
    await eventually(
      'the watch is closed',
      () => cluster.openWatches(),
      (n) => n === 0,
    );
  });

  // client-node opens the watch when its list returns, even after stop(): that watch held `tessera scheduler` open
  // after SIGTERM when the signal came during the first list.
  it('opens no watch when stopped while its first list is still in flight', async () => {
    cluster.faults.addLatency(300, { verb: 'list', resource: 'configmaps' });
    const informer = configMapInformer(new Set());
    await new Promise((resolve) => setTimeout(resolve, 50));
    await informer.stop();
    // Past the list's delay: a watch opened after the stop would still be open now.
    await new Promise((resolve) => setTimeout(resolve, 500));
    await eventually(
      'no watch left open',
      () => cluster.openWatches(),
      (n) => n === 0,
      2000,
    );
  });
});
