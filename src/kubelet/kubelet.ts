/**
 * A simulated kubelet for one node: watches the pods bound to it, admits them one at a time through the device
 * manager (so device plugins see exactly kubelet's calls), and reports the outcome in the pod's status: Running,
 * or Failed with reason UnexpectedAdmissionError as kubelet does when Allocate fails. Deleted or finished pods
 * give their devices back. Used by the device-plugin tests and by local mode.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Container, type V1Pod } from '@kubernetes/client-node';
import { arch, platform, release } from 'node:os';
import type { Logger } from 'pino';
import { isConflict, isNotFound, runInformer, type RunningInformer, withRetry } from '../kube/index.js';
import { DeviceManager, type AdmissionPod } from './device-manager.js';
import { nodeInfoStatus, runningPodStatus } from './status.js';
import { parseQuantity, quantityInteger } from '../request/index.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const strategicMergePatch = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch);

/** Node's names for what kubelet reports as GOARCH. */
const GOARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', s390x: 's390x' };

export interface SimKubeletOptions {
  node: string;
  kubeConfig: KubeConfig;
  deviceDir: string;
  podResourcesSocket: string;
  log: Logger;
  /** false: pods are not admitted on their own; the caller scripts kubelet's order through `devices.admit`. */
  admitPods?: boolean;
}

/** The extended resources each init and app container asks for (limits, else requests), as integer counts. */
export function admissionPodOf(pod: V1Pod): AdmissionPod {
  const counts = (c: V1Container): Record<string, number> => {
    const resources: Record<string, number> = {};
    for (const [name, value] of Object.entries({ ...(c.resources?.requests ?? {}), ...(c.resources?.limits ?? {}) })) {
      if (!name.includes('/') || name.startsWith('kubernetes.io/')) continue;
      // A quantity, as the API server returns it canonical ("19000" comes back as "19k"), not a plain number.
      const parsed = parseQuantity(String(value));
      const count = parsed ? quantityInteger(parsed) : null;
      if (count !== null && count > 0) resources[name] = count;
    }
    return resources;
  };
  return {
    uid: pod.metadata?.uid ?? '',
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '',
    initContainers: (pod.spec?.initContainers ?? []).map((c) => ({ name: c.name, resources: counts(c), sidecar: c.restartPolicy === 'Always' })),
    containers: (pod.spec?.containers ?? []).map((c) => ({ name: c.name, resources: counts(c) })),
  };
}

export class SimKubelet {
  readonly devices: DeviceManager;
  private readonly api: CoreV1Api;
  private informer: RunningInformer<V1Pod> | undefined;
  private readonly seen = new Set<string>();
  private readonly finishing = new Set<string>();
  /** Pods started so far: each one's address. */
  private started = 0;

  constructor(private readonly options: SimKubeletOptions) {
    this.devices = new DeviceManager({ deviceDir: options.deviceDir, podResourcesSocket: options.podResourcesSocket, log: options.log });
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  async start(): Promise<void> {
    await this.devices.start();
    const informer = runInformer<V1Pod>({
      kubeConfig: this.options.kubeConfig,
      path: '/api/v1/pods',
      list: () => this.api.listPodForAllNamespaces(),
      handlers: { upsert: (pod) => this.podChanged(pod), remove: (pod) => this.podGone(pod) },
      log: this.options.log,
    });
    this.informer = informer;
    await informer.synced;
    await this.postNodeStatus();
  }

  /** Addresses, node info and the kubelet port, as a kubelet posts them once its node is registered. */
  private async postNodeStatus(): Promise<void> {
    const { node } = this.options;
    const body = { status: nodeInfoStatus(node, { kernel: release(), os: platform(), arch: GOARCH[arch()] ?? arch() }) };
    try {
      await withRetry(() => this.api.patchNodeStatus({ name: node, body }, mergePatch));
    } catch (error) {
      // Whoever runs this kubelet registers the node; until it does there is nothing to post to.
      this.options.log.debug({ err: error, node }, 'node not registered: node info not posted');
    }
  }

  async stop(): Promise<void> {
    await this.informer?.stop();
    await this.devices.stop();
  }

  /** Simulates a kubelet restart: kubelet.sock is recreated and plugins must register again. */
  restart(): Promise<void> {
    return this.devices.restart();
  }

  private podGone(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    this.seen.delete(uid);
    this.devices.release(uid);
  }

  private podChanged(pod: V1Pod): void {
    const uid = pod.metadata?.uid;
    if (!uid || pod.spec?.nodeName !== this.options.node) return;
    const phase = pod.status?.phase;
    if (pod.metadata?.deletionTimestamp) {
      void this.finishDeletion(pod, uid);
      return;
    }
    if (phase === 'Succeeded' || phase === 'Failed') {
      this.devices.release(uid);
      return;
    }
    if (this.options.admitPods === false || this.seen.has(uid) || (phase !== undefined && phase !== 'Pending')) return;
    this.seen.add(uid);
    const admission = admissionPodOf(pod);
    this.devices.admit(admission).then(
      () => this.setStatus(admission, 'Running', { status: runningPodStatus(pod, this.options.node, this.started++, new Date()) }),
      (error: unknown) => this.setStatus(admission, 'Failed', { status: { phase: 'Failed', reason: 'UnexpectedAdmissionError', message: (error as Error).message } }),
    );
  }

  /**
   * A graceful delete only marks the pod: kubelet stops its containers, gives their devices back, and then deletes
   * the pod for good (grace 0, guarded by its UID so a new pod of the same name is never hit), as kubelet's status
   * manager does. (The embedded API server marks a bound pod so only while its node's kubelet renews its Lease.)
   */
  private async finishDeletion(pod: V1Pod, uid: string): Promise<void> {
    if (this.finishing.has(uid)) return;
    this.finishing.add(uid);
    this.devices.release(uid);
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? 'default';
    try {
      await withRetry(() => this.api.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid } } }));
    } catch (error) {
      if (!isNotFound(error) && !isConflict(error)) this.options.log.warn({ err: error, pod: `${namespace}/${name}` }, 'could not finish deleting the pod');
    } finally {
      this.finishing.delete(uid);
    }
  }

  private async setStatus(pod: AdmissionPod, phase: 'Running' | 'Failed', body: { status: Record<string, unknown> }): Promise<void> {
    const reason = body.status.reason;
    try {
      await withRetry(() => this.api.patchNamespacedPodStatus({ name: pod.name, namespace: pod.namespace, body }, strategicMergePatch));
      this.options.log.info({ pod: `${pod.namespace}/${pod.name}`, phase, reason }, 'pod admitted');
    } catch (error) {
      this.options.log.warn({ err: error, pod: `${pod.namespace}/${pod.name}` }, 'could not update pod status');
    }
  }
}
