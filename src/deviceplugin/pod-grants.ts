/**
 * The device plugin's view of the pods on its node: each pod's verified grant (verified once per change of the pod,
 * not on every refresh: signature, schema, request), the grants in flight the ledger hands out from, and the MIG
 * placements pods hold or plan.
 */
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { pinsGpus, shapeOf, type TrustedKeys } from '../api/index.js';
import { runInformer, type RunningInformer } from '../kube/index.js';
import type { RequestConfig } from '../request/index.js';
import type { GpuInfo } from './backend.js';
import { HAMI_GRANT_REFUSED, HamiGrantRefusals } from './hami-grants.js';
import { refOf } from './kubelet-learner.js';
import { gpuContainersOf, type Ledger, type PendingGrant } from './ledger.js';
import { placementKey } from './mig-manager.js';
import type { Records } from './records.js';
import { controlDisabled, grantState, verifyGrant } from './verify.js';

/** A pod on the node: its grant when in flight, and the MIG placements its decision holds or plans. */
interface PodGrant {
  pod: V1Pod;
  pending: PendingGrant | undefined;
  migPlacements: string[];
}

export interface PodGrantsOptions {
  node: string;
  kubeConfig: KubeConfig;
  trusted: TrustedKeys;
  requestConfig: RequestConfig;
  ledger: Ledger;
  records: Records;
  log: Logger;
  /** The node's GPUs as last discovered (their models key the in-flight shapes). */
  gpus: () => readonly GpuInfo[];
}

export class PodGrants {
  /** The node's pods and what each holds, by uid. */
  private readonly grants = new Map<string, PodGrant>();
  /** MIG placements held or planned by a pod on this node (`<gpu>/<profile>@<start>`). */
  private readonly migInUse = new Set<string>();
  private informer: RunningInformer<V1Pod> | undefined;
  /** Pods carrying grants HAMi's own scheduler wrote, told once each why they get nothing here. */
  private readonly hamiRefusals = new HamiGrantRefusals();

  constructor(private readonly options: PodGrantsOptions) {}

  /** Watches the node's pods; resolves once the first list is in. */
  async start(): Promise<void> {
    const { kubeConfig, records, node, log } = this.options;
    this.informer = runInformer<V1Pod>({
      kubeConfig,
      path: '/api/v1/pods',
      list: () => records.podsOn(node).then((items) => ({ apiVersion: 'v1', kind: 'PodList', metadata: {}, items })),
      handlers: {
        upsert: (pod) => this.podChanged(pod, false),
        remove: (pod) => this.podChanged(pod, true),
      },
      log,
    });
    await this.informer.synced;
  }

  async stop(): Promise<void> {
    await this.informer?.stop();
  }

  pod(uid: string): V1Pod | undefined {
    return this.grants.get(uid)?.pod;
  }

  /** The pod on this node called `namespace/name`, re-listed from the API when not known yet. */
  async podNamed(namespace: string, name: string): Promise<V1Pod | undefined> {
    const find = () => [...this.grants.values()].find((g) => g.pod.metadata?.name === name && g.pod.metadata.namespace === namespace)?.pod;
    if (find()) return find();
    await this.relist();
    return find();
  }

  /** Whether the pod `uid` is on the node and not finished. */
  podActive(uid: string): boolean {
    const phase = this.grants.get(uid)?.pod.status?.phase;
    return this.grants.has(uid) && phase !== 'Succeeded' && phase !== 'Failed';
  }

  /** Whether a pod holds or plans the MIG placement `key` (see `placementKey`); `fresh` recomputes first. */
  placementHeld(key: string, fresh = false): boolean {
    if (fresh) this.refreshPending();
    return this.migInUse.has(key);
  }

  /** The pods on the node, not finished, whose recorded grant (handed out) holds the MIG placement `key`. */
  allocatedTo(key: string): string[] {
    const uids: string[] = [];
    // A verified grant with no pending handout is one handed out and recorded (bind-phase success).
    for (const [uid, grant] of this.grants) if (!grant.pending && grant.migPlacements.includes(key)) uids.push(uid);
    return uids;
  }

  /** Re-reads the node's pods from the API (kubelet may ask before the watch delivers a freshly bound pod). */
  async relist(): Promise<void> {
    for (const pod of await this.options.records.podsOn(this.options.node)) if (pod.metadata?.uid) this.grants.set(pod.metadata.uid, this.grantOf(pod));
    this.refreshPending();
  }

  private podChanged(pod: V1Pod, removed: boolean): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    if (removed || pod.spec?.nodeName !== this.options.node) this.grants.delete(uid);
    else this.grants.set(uid, this.grantOf(pod));
    const refusal = this.hamiRefusals.next(pod, this.options.node, removed);
    if (refusal) void this.options.records.event(refOf(pod), HAMI_GRANT_REFUSED, refusal);
    this.refreshPending();
  }

  /** What one pod holds. */
  private grantOf(pod: V1Pod): PodGrant {
    const state = grantState(pod);
    const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    if (terminal || (state !== 'allocating' && state !== 'success')) return { pod, pending: undefined, migPlacements: [] };
    const verified = verifyGrant(pod, this.options.node, this.options.trusted, this.options.requestConfig);
    if (!verified.ok) return { pod, pending: undefined, migPlacements: [] };
    const decision = verified.value;
    const migPlacements = decision.containers.flatMap((c) => c.devices.flatMap((d) => (d.mig ? [placementKey(d.uuid, d.mig)] : [])));
    if (state !== 'allocating') return { pod, pending: undefined, migPlacements };
    const models = new Map(this.options.gpus().map((g) => [g.uuid, g.model]));
    const shape = shapeOf(decision, { modelOf: (uuid) => models.get(uuid), pinned: pinsGpus(pod.metadata?.annotations) });
    // Containers that turn HAMi-core off get other mounts: never interchangeable with ones that do not (the
    // extender's shape does not see the pod spec, so such a mix in flight is refused here rather than mixed up).
    const uncontrolled = gpuContainersOf(decision).map((_, i) => controlDisabled(pod, decision.containers.filter((c) => c.devices.length > 0)[i]?.name ?? ''));
    if (uncontrolled.some(Boolean)) shape.key = `${shape.key}|uncontrolled:${uncontrolled.map(Number).join('')}`;
    return { pod, pending: { pod: refOf(pod), decision, shape, order: Date.parse(decision.decidedAt) }, migPlacements };
  }

  private refreshPending(): void {
    this.migInUse.clear();
    for (const view of this.grants.values()) for (const placement of view.migPlacements) this.migInUse.add(placement);
    this.options.ledger.setPending([...this.grants.values()].flatMap((view) => (view.pending ? [view.pending] : [])));
  }
}
