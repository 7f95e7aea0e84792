/**
 * The three watches the fake operator's daemons share: nodes, pods, and the topology ConfigMaps in one
 * namespace. Each change is handed to `onChange`; the lists stay readable in between.
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { runInformer, type RunningInformer } from './informer.js';

export type WatchedObject = { kind: 'node'; object: V1Node } | { kind: 'pod'; object: V1Pod } | { kind: 'configmap'; object: V1ConfigMap };

/** A Kubernetes timestamp (client-node gives Date objects; raw JSON gives strings) in ms, or null. */
export function timestampMs(value: Date | string | undefined): number | null {
  if (value === undefined) return null;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export interface ClusterWatch {
  readonly synced: Promise<void>;
  nodes(): readonly V1Node[];
  pods(): readonly V1Pod[];
  configMaps(): readonly V1ConfigMap[];
  stop(): Promise<void>;
}

export interface ClusterWatchOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  log: Logger;
  /** Called for every add, update and delete (`deleted` true for deletes). */
  onChange(change: WatchedObject, deleted: boolean): void;
}

export function watchCluster(options: ClusterWatchOptions): ClusterWatch {
  const { kubeConfig, namespace, log, onChange } = options;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const nodes: RunningInformer<V1Node> = runInformer<V1Node>({
    kubeConfig,
    path: '/api/v1/nodes',
    list: () => core.listNode(),
    handlers: { upsert: (object) => onChange({ kind: 'node', object }, false), remove: (object) => onChange({ kind: 'node', object }, true) },
    log,
  });
  const pods: RunningInformer<V1Pod> = runInformer<V1Pod>({
    kubeConfig,
    path: '/api/v1/pods',
    list: () => core.listPodForAllNamespaces(),
    handlers: { upsert: (object) => onChange({ kind: 'pod', object }, false), remove: (object) => onChange({ kind: 'pod', object }, true) },
    log,
  });
  const configMaps: RunningInformer<V1ConfigMap> = runInformer<V1ConfigMap>({
    kubeConfig,
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    list: () => core.listNamespacedConfigMap({ namespace }),
    handlers: {
      upsert: (object) => onChange({ kind: 'configmap', object }, false),
      remove: (object) => onChange({ kind: 'configmap', object }, true),
    },
    log,
  });
  return {
    synced: Promise.all([nodes.synced, pods.synced, configMaps.synced]).then(() => undefined),
    nodes: () => nodes.list(),
    pods: () => pods.list(),
    configMaps: () => configMaps.list(),
    async stop() {
      await Promise.all([nodes.stop(), pods.stop(), configMaps.stop()]);
    },
  };
}
