/**
 * Local mode's stand-in for kube-controller-manager's deployment, replicaset and garbage-collector controllers,
 * talking to the API server like any client. A Deployment owns one ReplicaSet per pod template (named
 * `<deployment>-<pod-template-hash>`); the current one is scaled to spec.replicas and the others to 0 at once (no
 * surge or unavailability budget: a rollout here is a replacement). A ReplicaSet creates or deletes owned Pods until
 * it has spec.replicas active ones, deleting the least settled first (unscheduled, then pending, then not ready,
 * then the newest), and reports replicas, readyReplicas and availableReplicas. A ReplicaSet or Pod whose
 * controlling owner is gone is deleted. Writes it has made but not yet seen through its informers are counted
 * (kube's "expectations"), so a slow watch never makes it create or delete twice.
 */
import { createHash } from 'node:crypto';
import {
  AppsV1Api,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Deployment,
  type V1DeploymentCondition,
  type V1OwnerReference,
  type V1Pod,
  type V1PodTemplateSpec,
  type V1ReplicaSet,
} from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isConflict, isNotFound, runInformer, type RunningInformer } from '../kube/index.js';
import { isFinished, podKey } from './pods.js';

export const POD_TEMPLATE_HASH = 'pod-template-hash';
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';

/** How long a create not yet seen through the informer is waited for. */
const EXPECTATION_TTL_MS = 30_000;

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** kube's SafeEncodeString alphabet: no vowels, no look-alikes, so a hash never spells a word. */
const ALPHANUMS = 'bcdfghjklmnpqrstvwxz2456789';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function canonical(value: unknown): Json {
  if (Array.isArray(value)) return value.map(canonical);
  if (value instanceof Date) return value.toISOString();
  if (value === null || typeof value !== 'object') return (value ?? null) as Json;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
  );
}

/** The pod-template-hash label value of a template: stable across restarts, in kube's alphabet. */
export function templateHash(template: V1PodTemplateSpec | undefined): string {
  const digest = createHash('sha256')
    .update(JSON.stringify(canonical(template ?? {})))
    .digest();
  return [...String(digest.readUInt32BE(0))].map((c) => ALPHANUMS[c.charCodeAt(0) % ALPHANUMS.length]).join('');
}

const controllerOf = (owned: { metadata?: { ownerReferences?: V1OwnerReference[] } }): V1OwnerReference | undefined => owned.metadata?.ownerReferences?.find((r) => r.controller === true);

const ownerRef = (kind: 'Deployment' | 'ReplicaSet', owner: { metadata?: { name?: string; uid?: string } }): V1OwnerReference => ({
  apiVersion: 'apps/v1',
  kind,
  name: owner.metadata?.name ?? '',
  uid: owner.metadata?.uid ?? '',
  controller: true,
  blockOwnerDeletion: true,
});

const isReady = (pod: V1Pod): boolean => (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const isActive = (pod: V1Pod): boolean => !pod.metadata?.deletionTimestamp && !isFinished(pod);
const created = (o: { metadata?: { creationTimestamp?: Date | string } }): number => new Date(o.metadata?.creationTimestamp ?? 0).getTime();
const PHASE_RANK: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

/** kube's ActivePods ordering, the ones to delete first first: unscheduled, pending, not ready, newest. */
export function deletionOrder(a: V1Pod, b: V1Pod): number {
  const assigned = Number(Boolean(a.spec?.nodeName)) - Number(Boolean(b.spec?.nodeName));
  if (assigned !== 0) return assigned;
  const phase = (PHASE_RANK[a.status?.phase ?? 'Pending'] ?? 0) - (PHASE_RANK[b.status?.phase ?? 'Pending'] ?? 0);
  if (phase !== 0) return phase;
  const ready = Number(isReady(a)) - Number(isReady(b));
  if (ready !== 0) return ready;
  return created(b) - created(a) || (b.metadata?.name ?? '').localeCompare(a.metadata?.name ?? '');
}

export interface WorkloadControllerOptions {
  kubeConfig: KubeConfig;
  log: Logger;
}

export class WorkloadController {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly deployments: RunningInformer<V1Deployment>;
  private readonly replicaSets: RunningInformer<V1ReplicaSet>;
  private readonly pods: RunningInformer<V1Pod>;
  /** Pods created per ReplicaSet uid that the pod informer has not shown yet, with when they were created. */
  private readonly pendingCreates = new Map<string, Map<string, number>>();
  /** Pods deleted (namespace/name) that the pod informer still shows active. */
  private readonly pendingDeletes = new Set<string>();
  private running: Promise<void> | undefined;
  private dirty = false;
  private stopped = false;

  private constructor(private readonly options: WorkloadControllerOptions) {
    const { kubeConfig, log } = options;
    this.apps = kubeConfig.makeApiClient(AppsV1Api);
    this.core = kubeConfig.makeApiClient(CoreV1Api);
    const poke = { upsert: () => this.poke(), remove: () => this.poke() };
    this.deployments = runInformer<V1Deployment>({ kubeConfig, path: '/apis/apps/v1/deployments', list: () => this.apps.listDeploymentForAllNamespaces(), log, handlers: poke });
    this.replicaSets = runInformer<V1ReplicaSet>({ kubeConfig, path: '/apis/apps/v1/replicasets', list: () => this.apps.listReplicaSetForAllNamespaces(), log, handlers: poke });
    this.pods = runInformer<V1Pod>({
      kubeConfig,
      path: '/api/v1/pods',
      list: () => this.core.listPodForAllNamespaces(),
      log,
      handlers: {
        upsert: (pod) => {
          this.observed(pod, !isActive(pod));
          this.poke();
        },
        remove: (pod) => {
          this.observed(pod, true);
          this.poke();
        },
      },
    });
  }

  static async start(options: WorkloadControllerOptions): Promise<WorkloadController> {
    const controller = new WorkloadController(options);
    await Promise.all([controller.deployments.synced, controller.replicaSets.synced, controller.pods.synced]);
    controller.poke();
    return controller;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
    await Promise.all([this.deployments.stop(), this.replicaSets.stop(), this.pods.stop()]);
  }

  /** Settles the expectations a pod event fulfils. */
  private observed(pod: V1Pod, gone: boolean): void {
    const owner = controllerOf(pod);
    if (owner) this.pendingCreates.get(owner.uid)?.delete(pod.metadata?.name ?? '');
    if (gone) this.pendingDeletes.delete(podKey(pod));
  }

  /** One reconcile at a time; changes during one make one more run after it. */
  private poke(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = (async () => {
      do {
        this.dirty = false;
        try {
          await this.reconcile();
        } catch (error) {
          this.options.log.warn({ err: error }, 'workload reconcile failed; retrying on the next change');
          // A failed write is retried after a pause, not at once in a tight loop.
          await new Promise((resolve) => setTimeout(resolve, 500));
          this.dirty = true;
        }
      } while (this.dirty && !this.stopped);
      this.running = undefined;
    })();
  }

  private async reconcile(): Promise<void> {
    const deployments = this.deployments.list();
    const replicaSets = this.replicaSets.list();
    const pods = this.pods.list();
    const present = new Set(pods.filter(isActive).map(podKey));
    for (const key of this.pendingDeletes) if (!present.has(key)) this.pendingDeletes.delete(key);
    for (const deployment of deployments) if (!deployment.metadata?.deletionTimestamp) await this.syncDeployment(deployment, replicaSets);
    const deploymentUids = new Set(deployments.map((d) => d.metadata?.uid));
    for (const rs of replicaSets) {
      const owner = controllerOf(rs);
      if (owner?.kind === 'Deployment' && !deploymentUids.has(owner.uid)) await this.collect('ReplicaSet', rs, owner);
      else if (!rs.metadata?.deletionTimestamp) await this.syncReplicaSet(rs, pods);
    }
    const rsUids = new Set(replicaSets.map((r) => r.metadata?.uid));
    for (const pod of pods) {
      const owner = controllerOf(pod);
      if (owner?.kind === 'ReplicaSet' && owner.apiVersion === 'apps/v1' && !rsUids.has(owner.uid) && !this.pendingDeletes.has(podKey(pod))) await this.collect('Pod', pod, owner);
    }
  }

  private async syncDeployment(deployment: V1Deployment, all: readonly V1ReplicaSet[]): Promise<void> {
    const { name = '', namespace = 'default', uid } = deployment.metadata ?? {};
    const owned = all.filter((rs) => rs.metadata?.namespace === namespace && controllerOf(rs)?.uid === uid);
    const hash = templateHash(deployment.spec?.template);
    const replicas = deployment.spec?.replicas ?? 1;
    let current = owned.find((rs) => rs.metadata?.labels?.[POD_TEMPLATE_HASH] === hash);
    if (!current && !deployment.spec?.paused) {
      const revision = 1 + Math.max(0, ...owned.map((rs) => Number(rs.metadata?.annotations?.[REVISION_ANNOTATION] ?? 0) || 0));
      const template = deployment.spec?.template ?? {};
      const labels = { ...template.metadata?.labels, [POD_TEMPLATE_HASH]: hash };
      const body: V1ReplicaSet = {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: { name: `${name}-${hash}`, namespace, labels, annotations: { [REVISION_ANNOTATION]: String(revision) }, ownerReferences: [ownerRef('Deployment', deployment)] },
        spec: {
          replicas,
          minReadySeconds: deployment.spec?.minReadySeconds ?? 0,
          selector: { ...deployment.spec?.selector, matchLabels: { ...deployment.spec?.selector?.matchLabels, [POD_TEMPLATE_HASH]: hash } },
          template: { ...template, metadata: { ...template.metadata, labels } },
        },
      };
      try {
        current = await this.apps.createNamespacedReplicaSet({ namespace, body });
        this.options.log.info({ deployment: `${namespace}/${name}`, replicaSet: body.metadata?.name, replicas }, 'replica set created');
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    for (const rs of owned) {
      const want = rs === current ? replicas : 0;
      if (rs.metadata?.deletionTimestamp || (rs.spec?.replicas ?? 1) === want || (deployment.spec?.paused && rs !== current)) continue;
      await this.apps.patchNamespacedReplicaSet({ name: rs.metadata?.name ?? '', namespace, body: { spec: { replicas: want } } }, mergePatch);
    }
    await this.deploymentStatus(deployment, owned, current);
  }

  private async deploymentStatus(deployment: V1Deployment, owned: readonly V1ReplicaSet[], current: V1ReplicaSet | undefined): Promise<void> {
    const sum = (field: 'replicas' | 'readyReplicas' | 'availableReplicas'): number => owned.reduce((n, rs) => n + (rs.status?.[field] ?? 0), 0);
    const wanted = deployment.spec?.replicas ?? 1;
    const available = sum('availableReplicas');
    const updated = current?.status?.replicas ?? 0;
    const complete = updated === wanted && sum('replicas') === wanted && available >= wanted;
    const old = deployment.status?.conditions ?? [];
    const condition = (type: string, status: boolean, reason: string, message: string): V1DeploymentCondition => {
      const before = old.find((c) => c.type === type);
      const value = status ? 'True' : 'False';
      const now = new Date();
      const since = before?.status === value && before.lastTransitionTime ? before.lastTransitionTime : now;
      return { type, status: value, reason, message, lastTransitionTime: since, lastUpdateTime: before?.status === value && before.reason === reason ? (before.lastUpdateTime ?? now) : now };
    };
    const rsName = current?.metadata?.name ?? '';
    const status = {
      observedGeneration: deployment.metadata?.generation ?? 1,
      replicas: sum('replicas'),
      updatedReplicas: updated,
      readyReplicas: sum('readyReplicas'),
      availableReplicas: available,
      unavailableReplicas: Math.max(0, wanted - available),
      conditions: [
        condition(
          'Available',
          available >= wanted,
          available >= wanted ? 'MinimumReplicasAvailable' : 'MinimumReplicasUnavailable',
          available >= wanted ? 'Deployment has minimum availability.' : 'Deployment does not have minimum availability.',
        ),
        condition(
          'Progressing',
          true,
          complete ? 'NewReplicaSetAvailable' : 'ReplicaSetUpdated',
          complete ? `ReplicaSet "${rsName}" has successfully progressed.` : `ReplicaSet "${rsName}" is progressing.`,
        ),
      ],
    };
    if (sameStatus(deployment.status, status)) return;
    await this.patchStatus(() =>
      this.apps.patchNamespacedDeploymentStatus({ name: deployment.metadata?.name ?? '', namespace: deployment.metadata?.namespace ?? 'default', body: { status } }, mergePatch),
    );
  }

  private async syncReplicaSet(rs: V1ReplicaSet, all: readonly V1Pod[]): Promise<void> {
    const { name = '', namespace = 'default', uid = '' } = rs.metadata ?? {};
    const log = this.options.log.child({ replicaSet: `${namespace}/${name}` });
    const owned = all.filter((p) => p.metadata?.namespace === namespace && controllerOf(p)?.uid === uid);
    const active = owned.filter((p) => isActive(p) && !this.pendingDeletes.has(podKey(p)));
    const creating = this.pendingCreates.get(uid) ?? new Map<string, number>();
    this.pendingCreates.set(uid, creating);
    // A create whose watch event came before its reply, or whose pod was deleted before we saw it, is not waited
    // for again (kube expires such expectations too).
    for (const pod of owned) creating.delete(pod.metadata?.name ?? '');
    for (const [pod, at] of creating) if (Date.now() - at > EXPECTATION_TTL_MS) creating.delete(pod);
    const want = rs.spec?.replicas ?? 1;
    const diff = want - active.length - creating.size;
    if (diff > 0) {
      const template = rs.spec?.template ?? {};
      for (let i = 0; i < diff; i++) {
        const body: V1Pod = {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { ...template.metadata, generateName: `${name}-`, namespace, ownerReferences: [ownerRef('ReplicaSet', rs)] },
          spec: template.spec ?? { containers: [] },
        };
        delete body.metadata!.name;
        const pod = await this.core.createNamespacedPod({ namespace, body });
        creating.set(pod.metadata?.name ?? '', Date.now());
      }
      log.info({ created: diff, replicas: want }, 'pods created');
    } else if (diff < 0 && creating.size === 0) {
      const victims = [...active].sort(deletionOrder).slice(0, -diff);
      for (const pod of victims) {
        this.pendingDeletes.add(podKey(pod));
        try {
          await this.core.deleteNamespacedPod({ name: pod.metadata?.name ?? '', namespace, body: { preconditions: { uid: pod.metadata?.uid } } });
        } catch (error) {
          if (!isNotFound(error) && !isConflict(error)) {
            this.pendingDeletes.delete(podKey(pod));
            throw error;
          }
        }
      }
      log.info({ deleted: victims.map((p) => p.metadata?.name), replicas: want }, 'pods deleted');
    }
    const ready = active.filter(isReady).length;
    const status = { replicas: active.length, fullyLabeledReplicas: active.length, readyReplicas: ready, availableReplicas: ready, observedGeneration: rs.metadata?.generation ?? 1 };
    if (sameStatus(rs.status, status)) return;
    await this.patchStatus(() => this.apps.patchNamespacedReplicaSetStatus({ name, namespace, body: { status } }, mergePatch));
  }

  /** The garbage collector's part: an object whose controlling owner is gone (checked live, by uid) is deleted. */
  private async collect(kind: 'ReplicaSet' | 'Pod', object: V1ReplicaSet | V1Pod, owner: V1OwnerReference): Promise<void> {
    const namespace = object.metadata?.namespace ?? 'default';
    try {
      const live = owner.kind === 'Deployment' ? await this.apps.readNamespacedDeployment({ name: owner.name, namespace }) : await this.apps.readNamespacedReplicaSet({ name: owner.name, namespace });
      if (live.metadata?.uid === owner.uid) return;
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
    const name = object.metadata?.name ?? '';
    const body = { preconditions: { uid: object.metadata?.uid }, propagationPolicy: 'Background' };
    if (kind === 'Pod') this.pendingDeletes.add(`${namespace}/${name}`);
    try {
      if (kind === 'Pod') await this.core.deleteNamespacedPod({ name, namespace, body });
      else await this.apps.deleteNamespacedReplicaSet({ name, namespace, body });
      this.options.log.info({ kind, object: `${namespace}/${name}`, owner: `${owner.kind}/${owner.name}` }, 'owner gone; deleted');
    } catch (error) {
      if (!isNotFound(error) && !isConflict(error)) throw error;
    }
  }

  /** A status write that lost to the object's deletion needs nothing more. */
  private async patchStatus(write: () => Promise<unknown>): Promise<void> {
    try {
      await write();
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}

/** Whether every field of `wanted` already has that value (conditions compared without their times). */
function sameStatus(current: object | undefined, wanted: Record<string, unknown>): boolean {
  const strip = (value: unknown): unknown => (Array.isArray(value) ? value.map((c: Record<string, unknown>) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })) : value);
  const have = (current ?? {}) as Record<string, unknown>;
  return Object.entries(wanted).every(([k, v]) => JSON.stringify(strip(have[k] ?? (typeof v === 'number' ? 0 : undefined))) === JSON.stringify(strip(v)));
}
