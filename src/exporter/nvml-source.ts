/**
 * The exporter on a real GPU node (`tessera exporter --source nvml`): what the driver reports through
 * `nvidia-smi --query-gpu`, as dcgm-exporter's series (the counters nvidia-smi can give: utilization, memory,
 * temperature, power, clocks) and HAMi monitor's host series. A value the driver answers `[N/A]` or
 * `[Not Supported]` for (utilization of a MIG-enabled GPU, say) gets no series. A GPU held by exactly one container
 * (by the decisions of the node's pods) carries that container's labels, as dcgm-exporter's pod mapping does; each
 * MIG instance a container was handed gets HAMi monitor's `hami_mig_device_info`.
 * Nothing here is modelled: the fake GPU model (`dcgm.ts`) is for the fake operator's nodes only.
 */
import type { Logger } from 'pino';
import type { Executor } from '../deviceplugin/nvml/index.js';
import { TesseraError } from '../errors.js';
import { DCGM_FAMILIES, labelsOf } from './dcgm.js';
import { HAMI_MONITOR_FAMILIES } from './hami-monitor.js';
import { SampleSet, type Samples } from './samples.js';
import type { ViewPod } from './scheduler-view.js';

const MIB = 1024 * 1024;

/** The `--query-gpu` fields, in the order the parser reads them. */
export const NVML_QUERY_FIELDS = [
  'index',
  'uuid',
  'name',
  'pci.bus_id',
  'driver_version',
  'utilization.gpu',
  'utilization.memory',
  'memory.used',
  'memory.free',
  'temperature.gpu',
  'power.draw',
  'clocks.sm',
  'clocks.mem',
] as const;
export const NVML_QUERY_ARGS = [`--query-gpu=${NVML_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];

/** One GPU as nvidia-smi reported it; null where the driver gave no number. */
export interface GpuReading {
  index: number;
  uuid: string;
  name: string;
  pciBusId: string;
  driverVersion: string;
  gpuUtil: number | null;
  memUtil: number | null;
  fbUsedMiB: number | null;
  fbFreeMiB: number | null;
  gpuTempC: number | null;
  powerW: number | null;
  smClockMHz: number | null;
  memClockMHz: number | null;
}

const number = (text: string): number | null => {
  const value = Number(text);
  return text === '' || text.startsWith('[') || !Number.isFinite(value) ? null : value;
};

/** Parses `nvidia-smi --query-gpu=<NVML_QUERY_FIELDS> --format=csv,noheader,nounits`; a malformed line is an error. */
export function parseGpuQuery(stdout: string): GpuReading[] {
  return stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line, n) => {
      const cells = line.split(',').map((c) => c.trim());
      const [index = '', uuid = '', name = '', pciBusId = '', driverVersion = '', ...values] = cells;
      if (cells.length !== NVML_QUERY_FIELDS.length || !/^\d+$/.test(index) || uuid === '') {
        throw new TesseraError('INVALID_INPUT', `line ${n + 1} is not ${NVML_QUERY_FIELDS.length} fields (${NVML_QUERY_FIELDS.join(', ')}): '${line}'`, { field: 'nvidia-smi --query-gpu' });
      }
      const [gpuUtil, memUtil, fbUsedMiB, fbFreeMiB, gpuTempC, powerW, smClockMHz, memClockMHz] = values.map(number);
      return {
        index: Number(index),
        uuid,
        name,
        pciBusId,
        driverVersion,
        gpuUtil: gpuUtil ?? null,
        memUtil: memUtil ?? null,
        fbUsedMiB: fbUsedMiB ?? null,
        fbFreeMiB: fbFreeMiB ?? null,
        gpuTempC: gpuTempC ?? null,
        powerW: powerW ?? null,
        smClockMHz: smClockMHz ?? null,
        memClockMHz: memClockMHz ?? null,
      };
    });
}

export interface NvmlInputs {
  node: string;
  readings: readonly GpuReading[];
  pods: readonly ViewPod[];
}

/**
 * The one container holding GPU `uuid` on `node`, by the pods' decisions; null when none or several do. A MIG
 * instance is not the GPU: the GPU's series stay device-wide, as dcgm-exporter keeps them.
 */
function ownerOf(pods: readonly ViewPod[], node: string, uuid: string): { namespace: string; pod: string; container: string } | null {
  const holders = pods
    .filter((p) => p.decision.node === node)
    .flatMap((p) =>
      p.decision.containers.filter((c) => c.devices.some((d) => d.uuid === uuid && !d.mig)).map((c) => ({ namespace: p.decision.pod.namespace, pod: p.decision.pod.name, container: c.name })),
    );
  return holders.length === 1 ? (holders[0] ?? null) : null;
}

export function collectNvml(inputs: NvmlInputs): Samples {
  const F = DCGM_FAMILIES;
  const set = new SampleSet();
  for (const gpu of inputs.readings) {
    const owner = ownerOf(inputs.pods, inputs.node, gpu.uuid);
    const identity = {
      gpu: String(gpu.index),
      UUID: gpu.uuid,
      pci_bus_id: gpu.pciBusId,
      device: `nvidia${gpu.index}`,
      modelName: gpu.name,
      Hostname: inputs.node,
      DCGM_FI_DRIVER_VERSION: gpu.driverVersion,
    };
    const labels = { ...labelsOf(identity, owner), GPU_I_PROFILE: '', GPU_I_ID: '' };
    const add = (family: (typeof F)[keyof typeof F], value: number | null): void => {
      if (value !== null) set.add(family, labels, value);
    };
    add(F.gpuUtil, gpu.gpuUtil);
    add(F.memCopyUtil, gpu.memUtil);
    add(F.fbUsed, gpu.fbUsedMiB);
    add(F.fbFree, gpu.fbFreeMiB);
    add(F.gpuTemp, gpu.gpuTempC);
    add(F.power, gpu.powerW);
    add(F.smClock, gpu.smClockMHz);
    add(F.memClock, gpu.memClockMHz);
    const host = { zone: 'vGPU', node: inputs.node, device_index: String(gpu.index), device_uuid: gpu.uuid, device_type: gpu.name.startsWith('NVIDIA') ? gpu.name : `NVIDIA-${gpu.name}` };
    if (gpu.fbUsedMiB !== null) set.add(HAMI_MONITOR_FAMILIES.hostMemory, host, gpu.fbUsedMiB * MIB);
    if (gpu.gpuUtil !== null) set.add(HAMI_MONITOR_FAMILIES.hostUtilization, host, gpu.gpuUtil);
  }
  addMigIdentities(set, inputs);
  return set.samples();
}

/**
 * `hami_mig_device_info` for each MIG instance a container on this node was handed: the identity the device plugin
 * recorded in the decision when it created or found the instance (one compute instance per GPU instance, ID 0).
 */
function addMigIdentities(set: SampleSet, inputs: NvmlInputs): void {
  for (const pod of inputs.pods) {
    if (pod.decision.node !== inputs.node) continue;
    for (const container of pod.decision.containers) {
      container.devices.forEach((device, index) => {
        const mig = device.mig;
        if (mig?.migDeviceUuid === undefined || mig.gpuInstanceId === undefined) return;
        const labels = { zone: 'vGPU', namespace: pod.decision.pod.namespace, pod: pod.decision.pod.name, container: container.name, vdevice_index: String(index), device_uuid: device.uuid };
        set.add(HAMI_MONITOR_FAMILIES.migInfo, { ...labels, mig_uuid: mig.migDeviceUuid, profile: mig.profile, gpu_instance_id: String(mig.gpuInstanceId), compute_instance_id: '0' }, 1);
      });
    }
  }
}

/** The families `collectNvml` fills. */
export const NVML_FAMILIES = [
  ...[DCGM_FAMILIES.gpuUtil, DCGM_FAMILIES.memCopyUtil, DCGM_FAMILIES.fbUsed, DCGM_FAMILIES.fbFree, DCGM_FAMILIES.gpuTemp, DCGM_FAMILIES.power, DCGM_FAMILIES.smClock, DCGM_FAMILIES.memClock],
  HAMI_MONITOR_FAMILIES.hostMemory,
  HAMI_MONITOR_FAMILIES.hostUtilization,
  HAMI_MONITOR_FAMILIES.migInfo,
];

export interface NvmlPoller {
  /** The last reading (empty until the first one). */
  readings(): readonly GpuReading[];
  /** Resolves after the first reading was attempted. */
  readonly first: Promise<void>;
  stop(): void;
}

/**
 * Reads the GPUs every `intervalMs` (a scrape is answered from the last reading, so it never waits for the
 * driver). A failed read keeps the previous reading and is logged.
 */
export function pollNvml(executor: Executor, intervalMs: number, log: Logger): NvmlPoller {
  let last: GpuReading[] = [];
  const read = async (): Promise<void> => {
    try {
      last = parseGpuQuery((await executor.run('nvidia-smi', NVML_QUERY_ARGS)).stdout);
    } catch (error) {
      log.warn({ err: error }, 'nvidia-smi query failed; keeping the previous reading');
    }
  };
  const first = read();
  const timer = setInterval(() => void read(), intervalMs);
  return { readings: () => last, first, stop: () => clearInterval(timer) };
}
