/**
 * The device-plugin daemon: discovers the node's GPUs through a backend, serves kubelet, and hands each container
 * exactly what the scheduler decided for its pod (docs/allocate-design.md). Handler -> pure decision (Ledger,
 * verifyGrant, containerResponse) -> effects (MIG operations, Records).
 */
import type { KeyObject } from 'node:crypto';
import { credentials } from '@grpc/grpc-js';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type DecisionDevice, INVENTORY_KIND, type MigStrategy, type NodeInventory, type NodeMode, pinsGpus, publicKeyOf, shapeOf, TESSERA_API_VERSION, type TrustedKeys } from '../api/index.js';
import { TesseraError } from '../errors.js';
import { labelPatch, runInformer, type RunningInformer } from '../kube/index.js';
import { findProfile, resolveGpuModel } from '../geometry/index.js';
import { kubeletApis, unixTarget, type AllocateRequest, type AllocateResponse, type ListPodResourcesResponse, type PreferredAllocationRequest, type PreferredAllocationResponse } from './api.js';
import type { GpuBackend, GpuInfo } from './backend.js';
import { advertisedDevices, preferredIds } from './devices.js';
import { DevicePluginServer } from './grpc-server.js';
import { Ledger, gpuContainersOf, type PendingGrant, type PodRef } from './ledger.js';
import { MIG_CONFIG_STATE_LABEL, featureLabels, type MigConfigState } from './labels.js';
import { Records } from './records.js';
import { loadHandouts, saveHandouts } from './state-file.js';
import { DEFAULT_HAMI_CORE_MOUNTS, containerResponse, type HamiCoreMounts } from './response.js';
import { controlDisabled, grantState, verifyGrant, type PodLike } from './verify.js';
import { DEFAULT_REQUEST_CONFIG, type RequestConfig } from '../request/index.js';

export interface DevicePluginConfig {
  node: string;
  mode: NodeMode;
  backend: GpuBackend;
  kubeConfig: KubeConfig;
  /** The scheduler's Ed25519 public key: decisions it signed are the grants this plugin honours. */
  schedulerKey: KeyObject;
  /** This node's own Ed25519 private key (its public key is published on the Node). */
  nodeKey: KeyObject;
  log: Logger;
  deviceDir: string;
  podResourcesSocket: string;
  /** Socket name of this plugin in deviceDir. */
  endpoint?: string;
  /** HAMi's deviceSplitCount: tasks per GPU (hami-core replicas). */
  splitCount: number;
  /** Core units each GPU offers (HAMi: 100 x deviceCoreScaling on shared nodes); default 100. */
  coreUnits?: number;
  /** Advertise each GPU's NUMA node to kubelet (HAMi's enableNumaTopology); default true. */
  numaTopology?: boolean;
  /** GFD's MIG strategy for the labels (default: mixed on MIG nodes, none otherwise). */
  migStrategy?: MigStrategy;
  requestConfig?: RequestConfig;
  mounts?: HamiCoreMounts;
  /** Idle MIG instances no pod uses or plans are destroyed after this long (ms); 0 turns reclaiming off. */
  migIdleGraceMs?: number;
  /** Where handouts are kept across restarts (outside the device-plugins directory, which kubelet clears). */
  stateFile?: string;
  /** How often GPUs are re-read (health, reclaiming), ms. */
  pollMs?: number;
  now?: () => number;
}

/** A pod on the node: its grant when in flight, and the MIG placements its decision holds or plans. */
interface PodGrant {
  pod: V1Pod;
  pending: PendingGrant | undefined;
  migPlacements: string[];
}

const LEARN_ATTEMPTS = 40;
const LEARN_DELAY_MS = 25;

const refOf = (pod: PodLike): PodRef => ({ uid: pod.metadata?.uid ?? '', namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '' });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class DevicePluginDaemon {
  private readonly ledger = new Ledger();
  private readonly records: Records;
  private readonly server: DevicePluginServer;
  /** The node's pods and what each holds, by uid. */
  private readonly grants = new Map<string, PodGrant>();
  private informer: RunningInformer<V1Pod> | undefined;
  private gpus: GpuInfo[] = [];
  private published = '';
  private publishedLabels: Record<string, string> = {};
  /** MIG operations run one at a time per GPU. */
  private readonly gpuQueues = new Map<string, Promise<unknown>>();
  /**
   * MIG device UUIDs handed to a container, with the uid of the pod whose grant it was: never destroyed by a later
   * plan while that pod is still on the node (or the handout not yet placed), and destroyable once it left.
   */
  private readonly migHandedOut = new Map<string, string>();
  private readonly idleSince = new Map<string, number>();
  private learning: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly podWrites = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly requestConfig: RequestConfig;
  /** The scheduler's key, and this node's own for grants it exchanged; no other node's. */
  private readonly trusted: TrustedKeys;

  constructor(private readonly config: DevicePluginConfig) {
    this.now = config.now ?? Date.now;
    this.requestConfig = config.requestConfig ?? DEFAULT_REQUEST_CONFIG;
    const own = publicKeyOf(config.nodeKey);
    this.trusted = { scheduler: publicKeyOf(config.schedulerKey), node: (name) => (name === config.node ? own : undefined) };
    this.records = new Records(config.kubeConfig, config.nodeKey, this.trusted, config.log, this.now);
    this.server = new DevicePluginServer({
      deviceDir: config.deviceDir,
      endpoint: config.endpoint ?? 'tessera-gpu.sock',
      resourceName: this.requestConfig.resourceCountName,
      log: config.log,
      handlers: {
        devices: () => advertisedDevices(this.gpus, (gpu) => this.replicas(gpu), config.numaTopology ?? true),
        preferredAllocation: (r) => this.preferredAllocation(r),
        allocate: (r) => this.allocate(r),
        kubeletRestarted: () => this.ledger.resetCursor(),
      },
    });
  }

  get socketPath(): string {
    return this.server.socketPath;
  }

  /** Device IDs a GPU is offered as: its split count, or on a MIG node the most instances it can hold. */
  private replicas(gpu: GpuInfo): number {
    if (this.config.mode !== 'mig' || !gpu.migEnabled) return this.config.splitCount;
    const model = resolveGpuModel(gpu.model);
    return model.ok && model.value.mig ? model.value.mig.totalComputeSlices : 0;
  }

  async start(): Promise<void> {
    this.gpus = await this.config.backend.discover();
    const informer = runInformer<V1Pod>({
      kubeConfig: this.config.kubeConfig,
      path: '/api/v1/pods',
      list: () => this.records.podsOn(this.config.node).then((items) => ({ apiVersion: 'v1', kind: 'PodList', metadata: {}, items })),
      handlers: {
        upsert: (pod) => this.podChanged(pod, false),
        remove: (pod) => this.podChanged(pod, true),
      },
      log: this.config.log,
    });
    this.informer = informer;
    await informer.synced;
    if (this.config.stateFile) {
      this.ledger.restoreHandouts(loadHandouts(this.config.stateFile, this.config.log));
      if (this.ledger.unresolvedHandouts().length > 0) this.learning = this.learning.then(() => this.learnFromKubelet());
    }
    await this.publishNode();
    await this.server.start();
    const pollMs = this.config.pollMs ?? 5000;
    if (pollMs > 0) this.timer = setInterval(() => void this.poll(), pollMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.server.stop();
    await this.informer?.stop();
    await this.learning;
  }

  // --- pods ---------------------------------------------------------------------------------------------------

  private podChanged(pod: V1Pod, removed: boolean): void {
    const uid = pod.metadata?.uid;
    if (!uid) return;
    if (removed || pod.spec?.nodeName !== this.config.node) this.grants.delete(uid);
    else this.grants.set(uid, this.grantOf(pod));
    this.refreshPending();
  }

  /** What one pod holds: verified once per change of the pod, not on every refresh (HMAC, schema, request). */
  private grantOf(pod: V1Pod): PodGrant {
    const state = grantState(pod);
    const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    if (terminal || (state !== 'allocating' && state !== 'success')) return { pod, pending: undefined, migPlacements: [] };
    const verified = verifyGrant(pod, this.config.node, this.trusted, this.requestConfig);
    if (!verified.ok) return { pod, pending: undefined, migPlacements: [] };
    const decision = verified.value;
    const migPlacements = decision.containers.flatMap((c) => c.devices.flatMap((d) => (d.mig ? [`${d.uuid}/${d.mig.profile}@${d.mig.start}`] : [])));
    if (state !== 'allocating') return { pod, pending: undefined, migPlacements };
    const models = new Map(this.gpus.map((g) => [g.uuid, g.model]));
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
    this.ledger.setPending([...this.grants.values()].flatMap((view) => (view.pending ? [view.pending] : [])));
  }

  /** MIG placements held or planned by a pod on this node (`<gpu>/<profile>@<start>`). */
  private readonly migInUse = new Set<string>();
  /** Pods evicted for holding devices without a grant (once each). */
  private readonly evicted = new Set<string>();

  /** Re-reads the node's pods from the API (kubelet may ask before the watch delivers a freshly bound pod). */
  private async relist(): Promise<void> {
    for (const pod of await this.records.podsOn(this.config.node)) if (pod.metadata?.uid) this.grants.set(pod.metadata.uid, this.grantOf(pod));
    this.refreshPending();
  }

  // --- kubelet calls ------------------------------------------------------------------------------------------

  private async resolve(deviceIds: readonly string[]) {
    let resolution = this.ledger.resolve(deviceIds);
    if (!resolution.ok && resolution.reason === 'no-grant') {
      await this.relist();
      resolution = this.ledger.resolve(deviceIds);
    }
    // A pod admitted before this one may hold its grant without a right to it: take that back and look again.
    if (!resolution.ok && resolution.reason === 'no-grant' && (await this.revokeUnentitled().catch(() => 0)) > 0) resolution = this.ledger.resolve(deviceIds);
    return resolution;
  }

  /**
   * Pods that kubelet says hold this plugin's devices but whose decision is not valid for them here (no decision,
   * a forged, copied or foreign one): each is evicted with an Event, and the handouts it took go back to the grants
   * they were made from. Returns how many handouts were taken back. `listed`: kubelet's record, when just read.
   */
  private async revokeUnentitled(listed?: ListPodResourcesResponse): Promise<number> {
    const record = listed ?? (await this.listPodResources());
    const resource = this.requestConfig.resourceCountName;
    let taken = 0;
    for (const entry of record.pod_resources) {
      const ids = entry.containers.flatMap((c) => c.devices.filter((d) => d.resource_name === resource).flatMap((d) => d.device_ids));
      if (ids.length === 0) continue;
      let pod = [...this.grants.values()].find((g) => g.pod.metadata?.name === entry.name && g.pod.metadata.namespace === entry.namespace)?.pod;
      if (!pod) {
        await this.relist();
        pod = [...this.grants.values()].find((g) => g.pod.metadata?.name === entry.name && g.pod.metadata.namespace === entry.namespace)?.pod;
      }
      if (!pod) continue;
      const verdict = verifyGrant(pod, this.config.node, this.trusted, this.requestConfig);
      if (verdict.ok) continue;
      taken += this.ledger.revoke(ids);
      const ref = refOf(pod);
      if (this.evicted.has(ref.uid)) continue;
      this.evicted.add(ref.uid);
      const message = `tessera: ${ref.namespace}/${ref.name} holds GPU devices on ${this.config.node} without a valid grant (${verdict.error}); evicted, the devices go back to the pod they were granted to`;
      this.config.log.warn({ pod: `${ref.namespace}/${ref.name}`, devices: ids.length, reason: verdict.error }, 'evicting a pod that holds devices without a grant');
      await this.records.evict(ref, message);
    }
    return taken;
  }

  private async preferredAllocation(request: PreferredAllocationRequest): Promise<PreferredAllocationResponse> {
    const container_responses = [];
    for (const c of request.container_requests) {
      const probe = c.available_deviceIDs.slice(0, c.allocation_size);
      const resolution = await this.resolve(probe);
      const preferred = resolution.ok ? preferredIds(resolution.devices, c.available_deviceIDs, c.must_include_deviceIDs, c.allocation_size) : undefined;
      container_responses.push({ deviceIDs: preferred ?? [...c.must_include_deviceIDs, ...c.available_deviceIDs.filter((id) => !c.must_include_deviceIDs.includes(id))].slice(0, c.allocation_size) });
    }
    return { container_responses };
  }

  private async allocate(request: AllocateRequest): Promise<AllocateResponse> {
    const container_responses = [];
    for (const c of request.container_requests) {
      const resolution = await this.resolve(c.devices_ids);
      if (!resolution.ok) {
        this.ledger.resetCursor();
        throw new TesseraError(resolution.reason === 'ambiguous' ? 'CONFLICT' : 'NOT_FOUND', resolution.message, { field: 'devices_ids' });
      }
      const { grant } = resolution;
      let given: DecisionDevice[];
      try {
        given = grant.decision.mode === 'mig' ? await Promise.all(resolution.devices.map((d) => this.ensureMigInstance(d))) : resolution.devices;
      } catch (error) {
        this.ledger.resetCursor();
        const message = `allocation failed: ${(error as Error).message}`;
        if (resolution.known) void this.records.failed(resolution.known, 'TesseraAllocateFailed', message);
        this.config.log.error({ err: error, pod: resolution.known }, 'MIG operation failed; the pod gets nothing');
        throw error;
      }
      const handout = this.ledger.commit(resolution, c.devices_ids, given);
      this.saveState();
      for (const d of given) if (d.mig?.migDeviceUuid) this.migHandedOut.set(d.mig.migDeviceUuid, grant.pod.uid);
      const pod = this.grants.get(grant.pod.uid)?.pod;
      const containerName = grant.decision.containers.filter((x) => x.devices.length > 0)[resolution.position]?.name ?? '';
      container_responses.push(
        containerResponse(grant.decision.mode, given, {
          controlDisabled: pod ? controlDisabled(pod, containerName) : false,
          cacheKey: `${this.config.node}/${handout.deviceIds.join(',')}`,
          ...(this.config.mounts ? { mounts: this.config.mounts } : { mounts: DEFAULT_HAMI_CORE_MOUNTS }),
        }),
      );
      if (resolution.last) this.afterPod();
    }
    return { container_responses };
  }

  /**
   * Records the pod that was just admitted once kubelet's records tell which pod it was: even when only one pod
   * in flight could be, a pod placed by hand may have taken the call, and it must not be recorded as the owner.
   */
  private afterPod(): void {
    this.learning = this.learning.then(() => this.learnFromKubelet());
  }

  /** Keeps the handouts on disk before kubelet hears the answer, so a restart can still place them. */
  private saveState(): void {
    if (!this.config.stateFile) return;
    try {
      saveHandouts(this.config.stateFile, this.ledger.unresolvedHandouts());
    } catch (error) {
      this.config.log.warn({ err: error, file: this.config.stateFile }, 'could not save the device-plugin state');
    }
  }

  /** Writes to one pod in the order the ledger decided them; writes to different pods run side by side. */
  private onPod(uid: string, write: () => Promise<void>): Promise<void> {
    const next = (this.podWrites.get(uid) ?? Promise.resolve()).then(write);
    const settledWrite = next.catch(() => undefined);
    this.podWrites.set(uid, settledWrite);
    void settledWrite.then(() => {
      if (this.podWrites.get(uid) === settledWrite) this.podWrites.delete(uid);
    });
    return next;
  }

  private async record(pod: PodRef, decision: PendingGrant['decision'], swapped: PendingGrant | undefined): Promise<void> {
    this.saveState();
    try {
      const writes = [this.onPod(pod.uid, () => this.records.allocated(pod, decision))];
      if (swapped) writes.push(this.onPod(swapped.pod.uid, () => this.records.regranted(swapped.pod, swapped.decision)));
      await Promise.all(writes);
      this.config.log.info({ pod: `${pod.namespace}/${pod.name}`, swappedWith: swapped ? `${swapped.pod.namespace}/${swapped.pod.name}` : undefined }, 'pod allocated');
    } catch (error) {
      this.config.log.error({ err: error, pod: `${pod.namespace}/${pod.name}` }, 'could not record the allocation');
    }
  }

  /** Asks kubelet's pod-resources API which pod holds the devices handed out, until every handout is placed. */
  private async learnFromKubelet(): Promise<void> {
    const resource = this.requestConfig.resourceCountName;
    // Attempts count only while nothing is learned: kubelet records a container as soon as Allocate returns.
    for (let idle = 0; idle < LEARN_ATTEMPTS && !this.stopped && this.ledger.unresolvedHandouts().length > 0; idle++) {
      let listed: ListPodResourcesResponse;
      try {
        listed = await this.listPodResources();
      } catch (error) {
        this.config.log.warn({ err: error }, 'pod-resources List failed');
        await sleep(LEARN_DELAY_MS * 4);
        continue;
      }
      if ((await this.revokeUnentitled(listed).catch(() => 0)) > 0) idle = -1;
      const recording: Promise<void>[] = [];
      for (const entry of listed.pod_resources) {
        const grant = this.ledger.pendingGrants().find((g) => g.pod.name === entry.name && g.pod.namespace === entry.namespace);
        if (!grant) continue;
        const ids = gpuContainersOf(grant.decision).map((_, i) => {
          const name = grant.decision.containers.filter((c) => c.devices.length > 0)[i]?.name;
          return (
            entry.containers
              .find((c) => c.name === name)
              ?.devices.filter((d) => d.resource_name === resource)
              .flatMap((d) => d.device_ids) ?? []
          );
        });
        if (ids.some((list) => list.length === 0)) continue;
        const learned = this.ledger.learn(grant.pod, ids);
        if (!learned) continue;
        idle = -1;
        recording.push(this.record(learned.received.pod, learned.received.decision, learned.swappedWith));
      }
      await Promise.all(recording);
      if (this.ledger.unresolvedHandouts().length > 0 && idle >= 0) await sleep(LEARN_DELAY_MS);
    }
  }

  private listPodResources(): Promise<ListPodResourcesResponse> {
    const client = new (kubeletApis().PodResourcesLister)(unixTarget(this.config.podResourcesSocket), credentials.createInsecure());
    const list = client.List as (request: object, options: { deadline: number }, callback: (error: Error | null, response?: ListPodResourcesResponse) => void) => void;
    return new Promise((resolve, reject) => {
      list.call(client, {}, { deadline: Date.now() + 2000 }, (error, response) => {
        client.close();
        if (error || !response) reject(error ?? new Error('empty pod-resources response'));
        else resolve(response);
      });
    });
  }

  // --- MIG ----------------------------------------------------------------------------------------------------

  private onGpu<T>(gpuUuid: string, work: () => Promise<T>): Promise<T> {
    const previous = this.gpuQueues.get(gpuUuid) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.gpuQueues.set(
      gpuUuid,
      next.catch(() => undefined),
    );
    return next;
  }

  /** Applies the device's plan (idempotent: what exists is kept, what is gone is not destroyed again). */
  private ensureMigInstance(device: DecisionDevice): Promise<DecisionDevice> {
    const mig = device.mig;
    if (!mig) return Promise.reject(new TesseraError('INVALID_INPUT', 'a MIG grant without a MIG placement', { field: 'mig' }));
    const { backend } = this.config;
    return this.onGpu(device.uuid, async () => {
      const current = async () => (await backend.discover()).find((g) => g.uuid === device.uuid)?.migInstances ?? [];
      const find = async (profile: string, start: number) => (await current()).find((m) => m.profile === profile && m.start === start);
      let instance = await find(mig.profile, mig.start);
      if (instance) return { ...device, mig: { ...mig, migDeviceUuid: instance.migDeviceUuid, gpuInstanceId: instance.gpuInstanceId } };
      await this.migState('pending');
      try {
        for (const op of mig.plan) {
          const existing = await find(op.profile, op.start);
          if (op.action === 'create' && !existing) {
            await this.clearIdleOverlaps(device.uuid, op.profile, op.start);
            await backend.createMigInstance(device.uuid, op.profile, op.start);
          }
          const held = existing && this.migHeld(device.uuid, existing);
          if (op.action === 'destroy' && existing && !held) await backend.destroyMigInstance(device.uuid, existing.gpuInstanceId);
        }
        instance = await find(mig.profile, mig.start);
        if (!instance) {
          await this.clearIdleOverlaps(device.uuid, mig.profile, mig.start);
          instance = await backend.createMigInstance(device.uuid, mig.profile, mig.start);
        }
      } catch (error) {
        await this.migState('failed');
        throw error;
      }
      await this.migState('success');
      this.gpus = await backend.discover();
      void this.publishNode().catch((error: unknown) => this.config.log.warn({ err: error }, 'could not publish the node inventory'));
      return { ...device, mig: { ...mig, migDeviceUuid: instance.migDeviceUuid, gpuInstanceId: instance.gpuInstanceId } };
    });
  }

  /** An instance a pod on this node holds or is planned to hold: it is never destroyed. */
  private migHeld(gpuUuid: string, instance: { profile: string; start: number; migDeviceUuid: string }): boolean {
    return this.handedOutNow(instance.migDeviceUuid) || this.migInUse.has(`${gpuUuid}/${instance.profile}@${instance.start}`);
  }

  /**
   * Destroys idle instances in the way of `profile@start`. The scheduler plans from the inventory it last read: an
   * instance created for a pod that was deleted before the next inventory was published is one it never saw, and
   * it plans over the space as free. Idle instances may go (nothing in use is ever moved); one in use stops the plan.
   */
  private async clearIdleOverlaps(gpuUuid: string, profile: string, start: number): Promise<void> {
    const { backend } = this.config;
    const gpu = (await backend.discover()).find((g) => g.uuid === gpuUuid);
    const model = gpu ? resolveGpuModel(gpu.model) : undefined;
    if (!gpu || !model?.ok) return;
    const span = (name: string): number => findProfile(model.value, name)?.memorySlices ?? 1;
    const size = span(profile);
    for (const other of gpu.migInstances) {
      if (!(start < other.start + span(other.profile) && other.start < start + size)) continue;
      if (this.migHeld(gpuUuid, other)) throw new TesseraError('CONFLICT', `${profile}@${start} overlaps ${other.profile}@${other.start}, which a pod on this node holds`, { field: 'mig' });
      this.config.log.info({ gpu: gpuUuid, destroyed: `${other.profile}@${other.start}`, for: `${profile}@${start}` }, 'destroying an idle MIG instance the plan reuses');
      await backend.destroyMigInstance(gpuUuid, other.gpuInstanceId);
    }
  }

  /**
   * Whether a MIG instance handed to a container may still be in use: the pod it was granted to is on the node and
   * not finished, or kubelet has not told yet who received it. A pod deleted since gave it back: the scheduler
   * counts it free and may plan over it, and keeping it would make that plan fail on an overlap.
   */
  private handedOutNow(migDeviceUuid: string): boolean {
    const uid = this.migHandedOut.get(migDeviceUuid);
    if (uid === undefined) return false;
    const phase = this.grants.get(uid)?.pod.status?.phase;
    if (this.grants.has(uid) && phase !== 'Succeeded' && phase !== 'Failed') return true;
    return this.ledger.unresolvedHandouts().some((h) => h.devices.some((d) => d.mig?.migDeviceUuid === migDeviceUuid));
  }

  /** Destroys MIG instances that no pod holds or plans once they have been idle for the grace period. */
  private async reclaimIdle(): Promise<void> {
    const grace = this.config.migIdleGraceMs ?? 0;
    if (grace <= 0 || this.config.mode !== 'mig') return;
    const now = this.now();
    for (const gpu of this.gpus) {
      for (const instance of gpu.migInstances) {
        const key = `${gpu.uuid}/${instance.profile}@${instance.start}`;
        if (this.migInUse.has(key)) {
          this.idleSince.delete(instance.migDeviceUuid);
          continue;
        }
        const since = this.idleSince.get(instance.migDeviceUuid) ?? now;
        this.idleSince.set(instance.migDeviceUuid, since);
        if (now - since < grace) continue;
        await this.onGpu(gpu.uuid, async () => {
          this.refreshPending();
          if (this.migInUse.has(key)) return;
          await this.config.backend.destroyMigInstance(gpu.uuid, instance.gpuInstanceId);
          this.migHandedOut.delete(instance.migDeviceUuid);
          this.idleSince.delete(instance.migDeviceUuid);
          this.config.log.info({ gpu: gpu.uuid, profile: instance.profile, start: instance.start }, 'reclaimed an idle MIG instance');
        }).catch((error: unknown) => this.config.log.warn({ err: error, gpu: gpu.uuid }, 'could not reclaim an idle MIG instance'));
      }
    }
  }

  // --- node ---------------------------------------------------------------------------------------------------

  /** One tick: re-read GPUs (health), reclaim idle instances, republish what changed. */
  async poll(): Promise<void> {
    try {
      this.gpus = await this.config.backend.discover();
      await this.reclaimIdle();
      this.gpus = await this.config.backend.discover();
      await this.publishNode();
      if (this.ledger.unresolvedHandouts().length > 0) this.learning = this.learning.then(() => this.learnFromKubelet());
      else await this.revokeUnentitled().catch((error: unknown) => this.config.log.debug({ err: error }, 'pod-resources List failed'));
    } catch (error) {
      this.config.log.warn({ err: error }, 'GPU poll failed');
    }
  }

  inventory(): NodeInventory {
    return {
      apiVersion: TESSERA_API_VERSION,
      kind: INVENTORY_KIND,
      node: this.config.node,
      mode: this.config.mode,
      splitCount: this.config.splitCount,
      gpus: this.gpus.map((g) => ({
        uuid: g.uuid,
        index: g.index,
        model: g.model,
        memoryMiB: g.memoryMiB,
        coreUnits: this.config.coreUnits ?? 100,
        numa: g.numa,
        health: g.healthy ? 'Healthy' : 'Unhealthy',
        mig: { enabled: g.migEnabled, instances: g.migInstances.map((m) => ({ ...m })) },
      })),
      observedAt: new Date(this.now()).toISOString(),
    };
  }

  /** Publishes inventory, feature labels (and kubelet's device list) when the GPUs changed. */
  private async publishNode(): Promise<void> {
    const inventory = this.inventory();
    const text = JSON.stringify({ ...inventory, observedAt: '' });
    if (text === this.published) return;
    const labels = featureLabels(this.gpus, this.config.migStrategy ?? (this.config.mode === 'mig' ? 'mixed' : 'none'));
    await this.records.node(this.config.node, inventory, labelPatch(this.publishedLabels, labels) ?? {});
    this.published = text;
    this.publishedLabels = labels;
    this.server.publishDevices();
  }

  private async migState(state: MigConfigState): Promise<void> {
    try {
      await this.records.node(this.config.node, undefined, { [MIG_CONFIG_STATE_LABEL]: state });
    } catch (error) {
      this.config.log.warn({ err: error, state }, 'could not set the MIG config state label');
    }
  }
}
