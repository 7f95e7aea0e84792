/**
 * The kubelet's heartbeat: a Lease named after the node in `kube-node-lease`, renewed every 10 s with a 40 s
 * duration, as kubelet does. kube-controller-manager's node lifecycle controller reads it: without it a node's
 * Ready condition turns Unknown, and a new node keeps the `node.kubernetes.io/not-ready` taint it was created with.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound } from '../kube/index.js';

export const NODE_LEASE_NAMESPACE = 'kube-node-lease';
const LEASE_DURATION_SECONDS = 40;
const RENEW_INTERVAL_MS = 10_000;

export interface NodeLeaseOptions {
  node: string;
  kubeConfig: KubeConfig;
  log: Logger;
}

export class NodeLease {
  private readonly api: CoordinationV1Api;
  private timer: NodeJS.Timeout | undefined;
  private renewing: Promise<void> = Promise.resolve();

  constructor(private readonly options: NodeLeaseOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  private lease(resourceVersion?: string): V1Lease {
    const { node } = this.options;
    return {
      metadata: { name: node, namespace: NODE_LEASE_NAMESPACE, ...(resourceVersion ? { resourceVersion } : {}) },
      spec: { holderIdentity: node, leaseDurationSeconds: LEASE_DURATION_SECONDS, renewTime: new V1MicroTime() },
    };
  }

  /** Creates or renews the Lease once; a failure is logged and retried at the next beat. */
  async renew(): Promise<void> {
    const { node, log } = this.options;
    try {
      const current = await this.api.readNamespacedLease({ name: node, namespace: NODE_LEASE_NAMESPACE });
      await this.api.replaceNamespacedLease({ name: node, namespace: NODE_LEASE_NAMESPACE, body: this.lease(current.metadata?.resourceVersion) });
    } catch (error) {
      if (isNotFound(error)) {
        await this.api.createNamespacedLease({ namespace: NODE_LEASE_NAMESPACE, body: this.lease() }).catch((cause: unknown) => {
          if (!isConflict(cause)) log.warn({ err: cause, node }, 'cannot create the node lease');
        });
      } else if (!isConflict(error)) {
        log.warn({ err: error, node }, 'cannot renew the node lease');
      }
    }
  }

  async start(): Promise<void> {
    await this.renew();
    this.timer = setInterval(() => (this.renewing = this.renew()), RENEW_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
  }
}
