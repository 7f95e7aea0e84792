/**
 * Publishes the node's GPUs the way HAMi's device plugin does (`RegisterInAnnotation`), so HAMi's scheduler sees
 * a node run by Tessera's device plugin: `hami.io/node-nvidia-register` in HAMi's JSON, and the
 * `hami.io/node-handshake` answer (`Reported <time>`), both re-written every interval (HAMi: 30 s), which keeps
 * HAMi's scheduler's 60 s handshake window open. Values follow HAMi's rules: devmem scaled by deviceMemoryScaling
 * and devcore 100 x deviceCoreScaling, except in MIG mode, where the GPU registers its MIG profiles instead.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { encodeHamiRegister, HAMI_NODE, reportedHandshake, type HamiMigProfile, type HamiNodeDevice } from '../api/index.js';
import { allowedGeometriesFor, type DeviceConfig } from '../config/index.js';
import { resolveGpuModel } from '../geometry/index.js';
import { withRetry } from '../kube/index.js';
import type { GpuBackend, GpuInfo } from './backend.js';
import type { HamiNodeSettings } from './hami-node-config.js';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export const HAMI_REGISTER_INTERVAL_MS = 30_000;

/** The MIG profiles a GPU registers: those the device config allows on its model (all but `+me` without one). */
function migProfilesOf(gpu: GpuInfo, config: DeviceConfig): { profiles: HamiMigProfile[]; instances: number } {
  const model = resolveGpuModel(gpu.model);
  if (!model.ok || !model.value.mig) return { profiles: [], instances: 0 };
  const { mig } = model.value;
  const allowed = allowedGeometriesFor(config, model.value);
  const names = allowed ? new Set(allowed.flatMap((g) => g.map((e) => e.profile))) : undefined;
  const profiles = mig.profiles.filter((p) => (names ? names.has(p.name) : !p.mediaExtensions));
  return {
    profiles: profiles.map((p) => ({
      name: p.name,
      memoryMB: p.memoryMiB,
      core: Math.floor((100 * p.computeSlices) / mig.totalComputeSlices),
      sliceCount: p.computeSlices,
      placements: p.starts.map((start) => ({ start, size: p.memorySlices })),
    })),
    instances: Math.max(0, ...profiles.map((p) => p.maxCount)),
  };
}

/** The node's GPUs as HAMi registers them. */
export function hamiRegisterDevices(gpus: readonly GpuInfo[], settings: HamiNodeSettings, config: DeviceConfig): HamiNodeDevice[] {
  const mig = settings.operatingMode === 'mig';
  return gpus.map((gpu) => {
    const migProfiles = mig ? migProfilesOf(gpu, config) : undefined;
    return {
      id: gpu.uuid,
      index: gpu.index,
      count: migProfiles ? migProfiles.instances : settings.splitCount,
      devmem: mig ? gpu.memoryMiB : Math.floor(gpu.memoryMiB * settings.memoryScaling),
      devcore: mig ? 100 : Math.floor(settings.coreScaling * 100),
      type: gpu.model.startsWith('NVIDIA') ? gpu.model : `NVIDIA-${gpu.model}`,
      numa: gpu.numa ?? 0,
      mode: settings.operatingMode,
      health: gpu.healthy,
      ...(migProfiles ? { migProfiles: migProfiles.profiles } : {}),
    };
  });
}

export interface HamiRegistrarOptions {
  node: string;
  backend: GpuBackend;
  kubeConfig: KubeConfig;
  settings: HamiNodeSettings;
  config: DeviceConfig;
  log: Logger;
  intervalMs?: number;
  now?: () => number;
}

export class HamiRegistrar {
  private readonly api: CoreV1Api;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly options: HamiRegistrarOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Registers now, then every interval until stopped. */
  async start(): Promise<void> {
    await this.register();
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.register());
    }, this.options.intervalMs ?? HAMI_REGISTER_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** One registration: both annotations in one merge patch. A failure is logged and retried next interval. */
  async register(): Promise<void> {
    const { node, backend, settings, config, log } = this.options;
    try {
      const devices = hamiRegisterDevices(await backend.discover(), settings, config);
      const annotations = { [HAMI_NODE.register]: encodeHamiRegister(devices), [HAMI_NODE.handshake]: reportedHandshake((this.options.now ?? Date.now)()) };
      await withRetry(() => this.api.patchNode({ name: node, body: { metadata: { annotations } } }, mergePatch));
    } catch (error) {
      log.warn({ err: error, node }, "could not publish HAMi's register annotation");
    }
  }
}
