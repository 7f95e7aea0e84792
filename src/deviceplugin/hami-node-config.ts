/**
 * One node's settings from HAMi's device config, as HAMi's device plugin takes them: the `nvidia:` values, each
 * overridden by the node's `nodeconfig` entry (HAMi's `NodeDefaultConfig`), and the node-only keys
 * (`operatingmode`, `migstrategy`, `filterdevices`, `enablegetpreferredallocation`). `filteredBackend` applies
 * `filterdevices` and `preConfiguredDeviceMemory` to what a backend discovers, so filtered GPUs are neither
 * advertised to kubelet nor registered, as in HAMi.
 */
import type { MigStrategy, NodeMode } from '../api/index.js';
import type { DeviceConfig, HamiOperatingMode } from '../config/index.js';
import type { GpuBackend, GpuInfo } from './backend.js';

export interface HamiNodeSettings {
  /** HAMi's operating mode for the node (default hami-core). */
  operatingMode: HamiOperatingMode;
  /** The mode Tessera runs the node in: HAMi's operating mode, each one a sharing mode of Tessera's. */
  mode: NodeMode;
  splitCount: number;
  memoryScaling: number;
  coreScaling: number;
  /** MiB registered for a GPU whose memory the driver does not report (0: such a GPU is not registered). */
  preConfiguredDeviceMemory: number;
  libCudaLogLevel: number;
  enableNumaTopology: boolean;
  /** GFD MIG strategy for the labels; undefined: the plugin's default for the mode. */
  migStrategy: MigStrategy | undefined;
  enableGetPreferredAllocation: boolean;
  filter: { uuids: ReadonlySet<string>; indexes: ReadonlySet<number> };
}

export function hamiNodeSettings(config: DeviceConfig, node: string): HamiNodeSettings {
  const { nvidia } = config;
  const own = config.nodeconfig.find((entry) => entry.name === node);
  const operatingMode = own?.operatingmode ?? 'hami-core';
  return {
    operatingMode,
    mode: operatingMode,
    splitCount: own?.devicesplitcount ?? nvidia.deviceSplitCount,
    memoryScaling: own?.devicememoryscaling ?? nvidia.deviceMemoryScaling,
    coreScaling: own?.devicecorescaling ?? nvidia.deviceCoreScaling,
    preConfiguredDeviceMemory: own?.preconfigureddevicememory ?? nvidia.preConfiguredDeviceMemory,
    libCudaLogLevel: own?.libcudaloglevel ?? nvidia.libCudaLogLevel,
    enableNumaTopology: own?.enablenumatopology ?? nvidia.enableNumaTopology,
    migStrategy: own?.migstrategy,
    enableGetPreferredAllocation: own?.enablegetpreferredallocation ?? false,
    filter: { uuids: new Set(own?.filterdevices?.uuid ?? []), indexes: new Set(own?.filterdevices?.index ?? []) },
  };
}

/** HAMi's FilterDeviceToRegister: a GPU named by UUID or index in `filterdevices` is left out. */
export function isFiltered(settings: HamiNodeSettings, gpu: Pick<GpuInfo, 'uuid' | 'index'>): boolean {
  return settings.filter.uuids.has(gpu.uuid) || settings.filter.indexes.has(gpu.index);
}

/** `backend` without the node's filtered GPUs, and with preConfiguredDeviceMemory for GPUs reporting no memory. */
export function filteredBackend(backend: GpuBackend, settings: HamiNodeSettings): GpuBackend {
  return {
    name: backend.name,
    async discover() {
      return (await backend.discover()).flatMap((gpu) => {
        if (isFiltered(settings, gpu)) return [];
        if (gpu.memoryMiB > 0) return [gpu];
        return settings.preConfiguredDeviceMemory > 0 ? [{ ...gpu, memoryMiB: settings.preConfiguredDeviceMemory }] : [];
      });
    },
    createMigInstance: (gpuUuid, profile, start) => backend.createMigInstance(gpuUuid, profile, start),
    destroyMigInstance: (gpuUuid, gpuInstanceId) => backend.destroyMigInstance(gpuUuid, gpuInstanceId),
  };
}
