/**
 * `tessera status-updater`: keeps each fake GPU node's topology ConfigMap and labels in step with the cluster.
 * Watches nodes, pods and the topology ConfigMaps; on a change marks the affected nodes dirty; one worker takes
 * dirty nodes one at a time: pure decision (`reconcileNode`, `nodeLabels`), then the writes (ConfigMap, node
 * labels). A utilization schedule re-marks its node when its value is due to change.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ConfigMap, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { TESSERA_NODE } from '../api/index.js';
import type { TesseraError } from '../errors.js';
import { type ClusterWatch, isNotFound, KeyedWorkQueue, labelPatch, recordEvent, timestampMs, watchCluster, type WatchedObject, withRetry } from '../kube/index.js';
import { upsertConfigMap } from './configmaps.js';
import { DEPLOY_LABELS, nodeLabels } from './node-labels.js';
import { reconcileNode, type PodFacts } from './reconcile.js';
import {
  configMapNode,
  NODE_TOPOLOGY_LABEL,
  nodeFromPool,
  type NodeTopology,
  nodeTopologyConfigMapName,
  parseNodeTopology,
  renderClusterTopology,
  renderNodeTopology,
  TOPOLOGY_CONFIGMAP,
  TOPOLOGY_KEY,
  TopologyStore,
} from '../topology/index.js';
import type { MigProfileLookup } from '../geometry/index.js';

/** Marks ConfigMaps the status updater created from a pool, so it deletes them with their node. */
export const POOL_LABEL = 'tessera.io/node-pool';
const COMPONENT = 'tessera-status-updater';
const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface StatusUpdaterOptions {
  kubeConfig: KubeConfig;
  /** Namespace of the topology ConfigMaps. */
  namespace: string;
  log: Logger;
  profiles: MigProfileLookup;
  now?: () => number;
  /** Wait before retrying a node whose writes failed even after backoff (default 1 s). */
  retryDelayMs?: number;
}

export interface StatusUpdater {
  /** Resolves once the watches have listed everything. */
  readonly synced: Promise<void>;
  /** Resolves when no node is waiting to be reconciled (for tests and orderly shutdown). */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

function podFacts(pod: V1Pod): PodFacts {
  const running = pod.status?.phase === 'Running' && !pod.metadata?.deletionTimestamp;
  return {
    uid: pod.metadata?.uid ?? '',
    namespace: pod.metadata?.namespace ?? '',
    name: pod.metadata?.name ?? '',
    containers: (pod.spec?.containers ?? []).map((c) => c.name),
    annotations: pod.metadata?.annotations ?? {},
    runningSinceMs: running ? (timestampMs(pod.status?.startTime) ?? timestampMs(pod.metadata?.creationTimestamp) ?? 0) : null,
  };
}

export function startStatusUpdater(options: StatusUpdaterOptions): StatusUpdater {
  const { kubeConfig, namespace, log, profiles } = options;
  const now = options.now ?? Date.now;
  const retryDelayMs = options.retryDelayMs ?? 1000;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const store = new TopologyStore();
  /** ConfigMaps whose latest version was refused: never overwritten until fixed, so the edit stays visible. */
  const refused = new Set<string>();
  const watch: ClusterWatch = watchCluster({ kubeConfig, namespace, log, onChange });
  /** Node names, and null for the cluster-wide topology (first: it marks every node). */
  const queue = new KeyedWorkQueue<string | null>({
    work: (key) => (key === null ? reconcileCluster() : reconcile(key)),
    first: (key) => key === null,
    failed: (key, error, retryInMs) =>
      key === null ? log.error({ err: error, retryInMs }, 'cluster topology reconcile failed; retrying') : log.error({ err: error, node: key, retryInMs }, 'reconcile failed; retrying'),
    passFailed: (error) => log.error({ err: error }, 'reconcile pass failed; will retry on the next change'),
    ready: watch.synced,
    retryDelayMs,
  });

  function onChange(change: WatchedObject, deleted: boolean): void {
    if (change.kind === 'configmap') {
      const name = change.object.metadata?.name ?? '';
      const node = configMapNode(name);
      if (node === undefined) return;
      if (deleted) {
        store.remove(name);
        refused.delete(name);
      } else {
        const result = store.apply(name, change.object.data ?? {});
        if (result.ok) refused.delete(name);
        else void refuse(change.object, result.error);
      }
      queue.mark(node);
    } else if (change.kind === 'node') {
      queue.mark(change.object.metadata?.name ?? '');
    } else {
      const node = change.object.spec?.nodeName;
      if (node) queue.mark(node);
    }
  }

  async function refuse(cm: V1ConfigMap, error: TesseraError): Promise<void> {
    const name = cm.metadata?.name ?? '';
    refused.add(name);
    log.error({ configMap: `${namespace}/${name}`, field: error.field, code: error.code, err: error.message }, 'topology refused; the previous topology stays in force');
    await recordEvent(
      core,
      { kind: 'ConfigMap', namespace, name, uid: cm.metadata?.uid ?? '' },
      { type: 'Warning', reason: 'InvalidTopology', message: `${error.message} (the previous topology stays in force)`, component: COMPONENT, at: now() },
      log,
    );
  }

  /** Pools changed, or a seeds'-format topology arrived: give every node its ConfigMap, newer format. */
  async function reconcileCluster(): Promise<void> {
    const topology = store.topology();
    if (store.clusterIsLegacy() && !refused.has(TOPOLOGY_CONFIGMAP)) {
      for (const [node, data] of Object.entries(topology.nodes)) {
        if (!store.hasNodeConfigMap(node)) await writeNodeConfigMap(node, data, null);
      }
      await upsertConfigMap(core, namespace, TOPOLOGY_CONFIGMAP, renderClusterTopology(topology));
      log.info({ nodes: Object.keys(topology.nodes).length }, "converted the seeds' topology to the newer format");
    }
    for (const node of watch.nodes()) queue.mark(node.metadata?.name ?? '');
  }

  function writeNodeConfigMap(node: string, topology: NodeTopology, pool: string | null): Promise<unknown> {
    return upsertConfigMap(core, namespace, nodeTopologyConfigMapName(node), renderNodeTopology(topology), { [NODE_TOPOLOGY_LABEL]: node, ...(pool ? { [POOL_LABEL]: pool } : {}) });
  }

  async function deletePoolConfigMap(node: string): Promise<void> {
    const cm = watch.configMaps().find((c) => c.metadata?.name === nodeTopologyConfigMapName(node));
    if (!cm?.metadata?.labels?.[POOL_LABEL]) return;
    try {
      await withRetry(() => core.deleteNamespacedConfigMap({ name: nodeTopologyConfigMapName(node), namespace }));
      log.info({ node }, 'node gone; deleted its pool topology');
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async function reconcile(name: string): Promise<void> {
    const node: V1Node | undefined = watch.nodes().find((n) => n.metadata?.name === name);
    if (!node) return deletePoolConfigMap(name);
    const topology = store.topology();
    const pool = node.metadata?.labels?.[topology.nodePoolLabelKey];
    let base = store.node(name);
    if (!base) {
      const spec = pool === undefined ? undefined : topology.nodePools[pool];
      if (!spec) return; // not a fake GPU node
      base = nodeFromPool(name, spec);
      log.info({ node: name, pool }, 'pool node: creating its topology');
    }
    const pods = watch
      .pods()
      .filter((p) => p.spec?.nodeName === name)
      .map(podFacts);
    const result = reconcileNode({
      base,
      node: { name, labels: node.metadata?.labels ?? {}, annotations: node.metadata?.annotations ?? {} },
      pods,
      nowMs: now(),
      profiles,
    });
    for (const problem of result.problems) log.warn({ node: name, field: problem.field, err: problem.message }, 'ignored input');
    queue.wakeIn(name, result.nextChangeMs);

    const cmName = nodeTopologyConfigMapName(name);
    const rendered = renderNodeTopology(result.topology);
    const check = parseNodeTopology(name, rendered, topology.migStrategy);
    if (!check.ok) {
      log.error({ node: name, err: check.error.message }, 'reconciled topology does not validate; keeping the previous one');
      return;
    }
    if (!refused.has(cmName)) {
      const current = watch.configMaps().find((c) => c.metadata?.name === cmName);
      if (current?.data?.[TOPOLOGY_KEY] !== rendered[TOPOLOGY_KEY]) await writeNodeConfigMap(name, result.topology, store.hasNodeConfigMap(name) ? null : (pool ?? null));
    }
    // One writer per label: where a device plugin publishes an inventory, it sees the instances first-hand and
    // keeps the GFD labels; the status updater then keeps only the deploy labels.
    const pluginOwnsGfd = node.metadata?.annotations?.[TESSERA_NODE.inventory] !== undefined;
    const desired = pluginOwnsGfd ? DEPLOY_LABELS : nodeLabels(result.topology, profiles);
    const patch = labelPatch(node.metadata?.labels ?? {}, desired, !pluginOwnsGfd);
    if (patch) {
      await withRetry(() => core.patchNode({ name, body: { metadata: { labels: patch } } }, mergePatch));
    }
  }

  return {
    synced: watch.synced,
    idle: () => queue.idle(),
    async stop() {
      const settled = queue.stop();
      await watch.stop();
      await settled;
    },
  };
}
