/**
 * The device-plugin daemon: discovers the node's GPUs through a backend, serves kubelet, and hands each container
 * exactly what the scheduler decided for its pod (docs/allocate-design.md). Handler -> pure decision (Ledger,
 * verifyGrant, the mode's grant) -> effects (MIG operations, Records). The daemon composes one unit per concern:
 * PodGrants (the pods' verified grants), the Ledger (handouts), MigInstanceManager (MIG operations), KubeletLearner
 * (kubelet's records of who got what) and NodePublisher (inventory and labels).
 */
import type { KeyObject } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type DecisionDevice, type MigStrategy, type NodeInventory, type NodeMode, publicKeyOf, type TrustedKeys } from '../api/index.js';
import { TesseraError } from '../errors.js';
import { resolveGpuModel } from '../geometry/index.js';
import { type AllocateRequest, type AllocateResponse, type PreferredAllocationRequest, type PreferredAllocationResponse } from './api.js';
import type { GpuBackend, GpuInfo } from './backend.js';
import { advertisedDevices, preferredIds } from './devices.js';
import { DevicePluginServer } from './grpc-server.js';
import { Ledger } from './ledger.js';
import { KubeletLearner } from './kubelet-learner.js';
import { MigInstanceManager } from './mig-manager.js';
import { PodGrants } from './pod-grants.js';
import { NodePublisher } from './node-publisher.js';
import { Records } from './records.js';
import { loadHandouts, saveHandouts } from './state-file.js';
import { DEFAULT_SHARING_HOST_PATHS, sharingMode, type SharingHostPaths } from '../modes/index.js';
import { controlDisabled } from './verify.js';
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
  /** Host paths of the sharing machinery (HAMi-core's library); default HAMi's. */
  paths?: SharingHostPaths;
  /** Idle MIG instances no pod uses or plans are destroyed after this long (ms); 0 turns reclaiming off. */
  migIdleGraceMs?: number;
  /** Where handouts are kept across restarts (outside the device-plugins directory, which kubelet clears). */
  stateFile?: string;
  /** How often GPUs are re-read (health, reclaiming), ms. */
  pollMs?: number;
  now?: () => number;
}

export class DevicePluginDaemon {
  private readonly ledger = new Ledger();
  private readonly records: Records;
  private readonly server: DevicePluginServer;
  private readonly pods: PodGrants;
  private gpus: GpuInfo[] = [];
  private readonly publisher: NodePublisher;
  private readonly mig: MigInstanceManager;
  private readonly learner: KubeletLearner;
  private learning: Promise<void> = Promise.resolve();
  private stopped = false;
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
    this.pods = new PodGrants({
      node: config.node,
      kubeConfig: config.kubeConfig,
      trusted: this.trusted,
      requestConfig: this.requestConfig,
      ledger: this.ledger,
      records: this.records,
      log: config.log,
      gpus: () => this.gpus,
    });
    this.publisher = new NodePublisher({
      node: config.node,
      mode: config.mode,
      splitCount: config.splitCount,
      coreUnits: config.coreUnits ?? 100,
      ...(config.migStrategy ? { migStrategy: config.migStrategy } : {}),
      records: this.records,
      log: config.log,
      now: this.now,
      devicesChanged: () => this.server.publishDevices(),
    });
    this.learner = new KubeletLearner({
      node: config.node,
      podResourcesSocket: config.podResourcesSocket,
      requestConfig: this.requestConfig,
      trusted: this.trusted,
      ledger: this.ledger,
      records: this.records,
      log: config.log,
      podOf: (uid) => this.pods.pod(uid),
      podNamed: (namespace, name) => this.pods.podNamed(namespace, name),
      saveState: () => this.saveState(),
      stopped: () => this.stopped,
    });
    this.mig = new MigInstanceManager({
      backend: config.backend,
      log: config.log,
      now: this.now,
      idleGraceMs: sharingMode(config.mode).allocation === 'mig' ? (config.migIdleGraceMs ?? 0) : 0,
      migState: (state) => this.publisher.migState(state),
      changed: async () => {
        this.gpus = await config.backend.discover();
        void this.publishNode().catch((error: unknown) => config.log.warn({ err: error }, 'could not publish the node inventory'));
      },
      holders: {
        placementHeld: (key, fresh) => this.pods.placementHeld(key, fresh),
        podActive: (uid) => this.pods.podActive(uid),
        unplaced: (migDeviceUuid) => this.ledger.unresolvedHandouts().some((h) => h.devices.some((d) => d.mig?.migDeviceUuid === migDeviceUuid)),
        allocatedTo: (key) => this.pods.allocatedTo(key),
      },
    });
  }

  get socketPath(): string {
    return this.server.socketPath;
  }

  /** Device IDs a GPU is offered as: its split count, or on a MIG node the most instances it can hold. */
  private replicas(gpu: GpuInfo): number {
    if (sharingMode(this.config.mode).allocation !== 'mig' || !gpu.migEnabled) return this.config.splitCount;
    const model = resolveGpuModel(gpu.model);
    return model.ok && model.value.mig ? model.value.mig.totalComputeSlices : 0;
  }

  async start(): Promise<void> {
    this.gpus = await this.config.backend.discover();
    await this.pods.start();
    if (this.config.stateFile) {
      this.ledger.restoreHandouts(loadHandouts(this.config.stateFile, this.config.log));
      if (this.ledger.unresolvedHandouts().length > 0) this.learning = this.learning.then(() => this.learner.learn());
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
    await this.pods.stop();
    await this.learning;
  }

  // --- kubelet calls ------------------------------------------------------------------------------------------

  private async resolve(deviceIds: readonly string[]) {
    let resolution = this.ledger.resolve(deviceIds);
    if (!resolution.ok && resolution.reason === 'no-grant') {
      await this.pods.relist();
      resolution = this.ledger.resolve(deviceIds);
    }
    // A pod admitted before this one may hold its grant without a right to it: take that back and look again.
    if (!resolution.ok && resolution.reason === 'no-grant' && (await this.learner.revokeUnentitled().catch(() => 0)) > 0) resolution = this.ledger.resolve(deviceIds);
    return resolution;
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
      const mode = sharingMode(grant.decision.mode);
      let given: DecisionDevice[];
      try {
        given = mode.allocation === 'mig' ? await Promise.all(resolution.devices.map((d) => this.mig.ensureInstance(d, grant.pod.uid))) : resolution.devices;
      } catch (error) {
        this.ledger.resetCursor();
        const message = `allocation failed: ${(error as Error).message}`;
        if (resolution.known) void this.records.failed(resolution.known, 'TesseraAllocateFailed', message);
        this.config.log.error({ err: error, pod: resolution.known }, 'MIG operation failed; the pod gets nothing');
        throw error;
      }
      const handout = this.ledger.commit(resolution, c.devices_ids, given);
      this.saveState();
      for (const d of given) if (d.mig?.migDeviceUuid) this.mig.handOut(d.mig.migDeviceUuid, grant.pod.uid);
      const pod = this.pods.pod(grant.pod.uid);
      const containerName = grant.decision.containers.filter((x) => x.devices.length > 0)[resolution.position]?.name ?? '';
      // The mode says the environment and mounts; the cache key names HAMi-core's shared-memory file per container grant.
      const { envs, mounts } = mode.grant(given, {
        controlDisabled: pod ? controlDisabled(pod, containerName) : false,
        cacheKey: `${this.config.node}/${handout.deviceIds.join(',')}`,
        paths: this.config.paths ?? DEFAULT_SHARING_HOST_PATHS,
      });
      container_responses.push({ envs, mounts: [...mounts], devices: [], annotations: {}, cdi_devices: [] });
      if (resolution.last) this.afterPod();
    }
    return { container_responses };
  }

  /**
   * Records the pod that was just admitted once kubelet's records tell which pod it was: even when only one pod
   * in flight could be, a pod placed by hand may have taken the call, and it must not be recorded as the owner.
   */
  private afterPod(): void {
    this.learning = this.learning.then(() => this.learner.learn());
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

  // --- node ---------------------------------------------------------------------------------------------------

  /** One tick: re-read GPUs (health), reclaim idle instances, republish what changed. */
  async poll(): Promise<void> {
    try {
      this.gpus = await this.config.backend.discover();
      await this.mig.reclaimIdle(this.gpus);
      this.gpus = await this.config.backend.discover();
      await this.publishNode();
      if (this.ledger.unresolvedHandouts().length > 0) this.learning = this.learning.then(() => this.learner.learn());
      else await this.learner.revokeUnentitled().catch((error: unknown) => this.config.log.debug({ err: error }, 'pod-resources List failed'));
    } catch (error) {
      this.config.log.warn({ err: error }, 'GPU poll failed');
    }
  }

  inventory(): NodeInventory {
    return this.publisher.inventory(this.gpus);
  }

  private publishNode(): Promise<void> {
    return this.publisher.publish(this.gpus);
  }
}
