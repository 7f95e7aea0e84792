/**
 * One pair of informers (Pods and Nodes, every namespace) shared by the local driver and the dashboard, with a
 * change feed. Objects are kept exactly as the API server sent them.
 */
import { CoreV1Api, type KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { runInformer, type RunningInformer } from '../kube/index.js';
import { podKey } from './pods.js';

export type MirrorChange = { kind: 'pod'; type: 'upsert' | 'remove'; object: V1Pod; previous: V1Pod | undefined } | { kind: 'node'; type: 'upsert' | 'remove'; object: V1Node };

export type MirrorListener = (change: MirrorChange) => void;

export class ClusterMirror {
  private readonly podsByKey = new Map<string, V1Pod>();
  private readonly nodesByName = new Map<string, V1Node>();
  private readonly listeners = new Set<MirrorListener>();
  private readonly informers: Array<RunningInformer<V1Pod> | RunningInformer<V1Node>>;

  private constructor(kubeConfig: KubeConfig, log: Logger) {
    const api = kubeConfig.makeApiClient(CoreV1Api);
    const pods = runInformer<V1Pod>({
      kubeConfig,
      path: '/api/v1/pods',
      list: () => api.listPodForAllNamespaces(),
      log,
      handlers: {
        upsert: (pod) => {
          const previous = this.podsByKey.get(podKey(pod));
          this.podsByKey.set(podKey(pod), pod);
          this.emit({ kind: 'pod', type: 'upsert', object: pod, previous });
        },
        remove: (pod) => {
          const previous = this.podsByKey.get(podKey(pod));
          this.podsByKey.delete(podKey(pod));
          this.emit({ kind: 'pod', type: 'remove', object: pod, previous });
        },
      },
    });
    const nodes = runInformer<V1Node>({
      kubeConfig,
      path: '/api/v1/nodes',
      list: () => api.listNode(),
      log,
      handlers: {
        upsert: (node) => {
          this.nodesByName.set(node.metadata?.name ?? '', node);
          this.emit({ kind: 'node', type: 'upsert', object: node });
        },
        remove: (node) => {
          this.nodesByName.delete(node.metadata?.name ?? '');
          this.emit({ kind: 'node', type: 'remove', object: node });
        },
      },
    });
    this.informers = [pods, nodes];
  }

  /** Starts both informers and resolves once both have delivered their first list. */
  static async start(kubeConfig: KubeConfig, log: Logger): Promise<ClusterMirror> {
    const mirror = new ClusterMirror(kubeConfig, log);
    await Promise.all(mirror.informers.map((i) => i.synced));
    return mirror;
  }

  private emit(change: MirrorChange): void {
    for (const listener of this.listeners) listener(change);
  }

  /** Calls `listener` on every change from now on; returns the function that stops it. */
  subscribe(listener: MirrorListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  pod(key: string): V1Pod | undefined {
    return this.podsByKey.get(key);
  }

  pods(): V1Pod[] {
    return [...this.podsByKey.values()];
  }

  /** Nodes by name, so every consumer sees them in one stable order. */
  nodes(): V1Node[] {
    return [...this.nodesByName.values()].sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  }

  async stop(): Promise<void> {
    this.listeners.clear();
    await Promise.all(this.informers.map((i) => i.stop()));
  }
}
