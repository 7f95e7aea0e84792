/**
 * dcgm-exporter's default counters (etc/default-counters.csv), computed from the fake operator's topology, so
 * dashboards and alerts built on real dcgm-exporter work on fake nodes (seed 001 for whole GPUs, seed 000 and
 * mig.md for MIG instances). Each series carries dcgm-exporter's labels: `gpu`, `UUID`, `pci_bus_id`, `device`,
 * `modelName`, `Hostname`, `DCGM_FI_DRIVER_VERSION` (the counter file's one label field), `container`,
 * `namespace`, `pod`, and on MIG instances `GPU_I_PROFILE` and `GPU_I_ID`.
 *
 * - One series per GPU, also on a shared GPU: utilization is the GPU's (its users' utilizations added, at most
 *   100), memory the sum of its users'; the pod labels name the user when exactly one container uses the GPU,
 *   and stay empty when several do (HAMi's monitor series give each container's share).
 * - Utilization drives the rest (gpu-physics.ts): power, SM clock, temperatures, engine/tensor/DRAM activity,
 *   PCIe traffic; total energy integrates power over the time between scrapes (a counter, in mJ).
 * - What the fake model has no source for reads as an idle healthy GPU does: encoder/decoder 0, NVLink traffic 0,
 *   XID 0, no PCIe replays, no remapped rows, no reserved framebuffer.
 * - A GPU with MIG instances: device-wide series (clocks, power, temperature, errors) once for the GPU; memory
 *   and profiling series per instance, with GPU_I_PROFILE and GPU_I_ID (the driver's GPU instance ID); no
 *   GPU_UTIL or MEM_COPY_UTIL, which DCGM does not support on MIG. A dynamic-MIG node (seed 000) reports neither
 *   even for a GPU without instances.
 * `pickUtilization` chooses a value in a usage's [min, max] (random at the edge, fixed in tests); `energy`
 * accumulates each GPU's energy (stateful, owned by the caller).
 */
import type { ContainerRef, GpuTopology, GpuUsage, NodeTopology, Topology, UtilizationRange } from '../topology/index.js';
import { resolveGpuModel, type MigProfileLookup } from '../geometry/index.js';
import { physicsOf, readingsAt } from './gpu-physics.js';
import { SampleSet, type MetricFamily, type Samples } from './samples.js';

const LABELS = ['gpu', 'UUID', 'pci_bus_id', 'device', 'modelName', 'Hostname', 'DCGM_FI_DRIVER_VERSION', 'container', 'namespace', 'pod', 'GPU_I_PROFILE', 'GPU_I_ID'] as const;

const family = (name: string, help: string, type: 'gauge' | 'counter' = 'gauge'): MetricFamily => ({ name, help, labelNames: LABELS, type });

/** Every counter of dcgm-exporter's default-counters.csv, with its type and help as the file gives them. */
export const DCGM_FAMILIES = {
  smClock: family('DCGM_FI_DEV_SM_CLOCK', 'SM clock frequency (in MHz).'),
  memClock: family('DCGM_FI_DEV_MEM_CLOCK', 'Memory clock frequency (in MHz).'),
  memoryTemp: family('DCGM_FI_DEV_MEMORY_TEMP', 'Memory temperature (in C).'),
  gpuTemp: family('DCGM_FI_DEV_GPU_TEMP', 'GPU temperature (in C).'),
  power: family('DCGM_FI_DEV_POWER_USAGE', 'Power draw (in W).'),
  energy: family('DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'Total energy consumption since boot (in mJ).', 'counter'),
  pcieReplay: family('DCGM_FI_DEV_PCIE_REPLAY_COUNTER', 'Total number of PCIe retries.', 'counter'),
  gpuUtil: family('DCGM_FI_DEV_GPU_UTIL', 'GPU utilization (in %).'),
  memCopyUtil: family('DCGM_FI_DEV_MEM_COPY_UTIL', 'Memory utilization (in %).'),
  encUtil: family('DCGM_FI_DEV_ENC_UTIL', 'Encoder utilization (in %).'),
  decUtil: family('DCGM_FI_DEV_DEC_UTIL', 'Decoder utilization (in %).'),
  xid: family('DCGM_FI_DEV_XID_ERRORS', 'Value of the last XID error encountered.'),
  fbFree: family('DCGM_FI_DEV_FB_FREE', 'Framebuffer memory free (in MiB).'),
  fbUsed: family('DCGM_FI_DEV_FB_USED', 'Framebuffer memory used (in MiB).'),
  fbReserved: family('DCGM_FI_DEV_FB_RESERVED', 'Framebuffer memory reserved (in MiB).'),
  nvlinkBandwidth: family('DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL', 'Total number of NVLink bandwidth counters for all lanes.', 'counter'),
  vgpuLicense: family('DCGM_FI_DEV_VGPU_LICENSE_STATUS', 'vGPU License status'),
  uncorrectableRemapped: family('DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS', 'Number of remapped rows for uncorrectable errors', 'counter'),
  correctableRemapped: family('DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS', 'Number of remapped rows for correctable errors', 'counter'),
  rowRemapFailure: family('DCGM_FI_DEV_ROW_REMAP_FAILURE', 'Whether remapping of rows has failed'),
  grEngineActive: family('DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'Ratio of time the graphics engine is active.'),
  tensorActive: family('DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', 'Ratio of cycles the tensor (HMMA) pipe is active.'),
  dramActive: family('DCGM_FI_PROF_DRAM_ACTIVE', 'Ratio of cycles the device memory interface is active sending or receiving data.'),
  pcieTx: family('DCGM_FI_PROF_PCIE_TX_BYTES', 'The rate of data transmitted over the PCIe bus - including both protocol headers and data payloads - in bytes per second.'),
  pcieRx: family('DCGM_FI_PROF_PCIE_RX_BYTES', 'The rate of data received over the PCIe bus - including both protocol headers and data payloads - in bytes per second.'),
  nvlinkTx: family('DCGM_FI_PROF_NVLINK_TX_BYTES', 'The rate of data transmitted over NVLink - including both protocol headers and data payloads - in bytes per second.'),
  nvlinkRx: family('DCGM_FI_PROF_NVLINK_RX_BYTES', 'The rate of data received over NVLink - including both protocol headers and data payloads - in bytes per second.'),
} as const satisfies Record<string, MetricFamily>;

/** Accumulates a GPU's energy: `add(key, watts)` adds watts x the time since its last call, answers the total (mJ). */
export interface EnergyMeter {
  add(key: string, watts: number): number;
}

/** An energy meter over a clock (ms): the first reading of a GPU starts its count at 0. */
export function energyMeter(now: () => number): EnergyMeter {
  const meters = new Map<string, { at: number; mJ: number; watts: number }>();
  return {
    add(key, watts) {
      const t = now();
      const meter = meters.get(key);
      // W x ms = mJ; the power held since the last reading is the one read then.
      const mJ = meter ? meter.mJ + meter.watts * Math.max(0, t - meter.at) : 0;
      meters.set(key, { at: t, mJ, watts });
      return Math.round(mJ);
    },
  };
}

export interface DcgmInputs {
  topology: Pick<Topology, 'nodes'>;
  profiles: MigProfileLookup;
  pickUtilization: (range: UtilizationRange) => number;
  energy: EnergyMeter;
}

/** The midpoint of a range, rounded: the deterministic choice. */
export const midpoint = (range: UtilizationRange): number => Math.round((range.min + range.max) / 2);

/** Share of the GPU's activity that runs on tensor cores: training keeps them busier than inference. */
const TENSOR_SHARE = { training: 0.6, inference: 0.35 } as const;
const DRAM_SHARE = 0.5;
/** PCIe bytes per second at full utilization (host to device and back). */
const PCIE_RX_AT_FULL = 2_000_000_000;
const PCIE_TX_AT_FULL = 500_000_000;

/** A fake GPU's PCI bus ID, stable per index, in DCGM's `00000000:BB:00.0` form. */
export function pciBusId(index: number): string {
  return `00000000:${(0x07 + index * 0x08).toString(16).toUpperCase().padStart(2, '0')}:00.0`;
}

interface Activity {
  util: number;
  tensor: number;
  usedMiB: number;
}

/** The activity of a set of users: utilization added (at most 100), tensor share weighted by each user's kind. */
function activityOf(users: readonly GpuUsage[], pick: DcgmInputs['pickUtilization']): Activity {
  let util = 0;
  let tensor = 0;
  let usedMiB = 0;
  for (const usage of users) {
    const u = pick(usage.utilization);
    util += u;
    tensor += u * (usage.isInferencePod ? TENSOR_SHARE.inference : TENSOR_SHARE.training);
    usedMiB += usage.fbUsedMiB;
  }
  const scale = util > 100 ? 100 / util : 1;
  return { util: Math.min(100, util), tensor: tensor * scale, usedMiB };
}

function ownerOf(gpu: GpuTopology, users: readonly GpuUsage[]): ContainerRef | null {
  if (users.length !== 1) return null;
  return users[0]?.allocatedBy ?? gpu.status.allocatedBy;
}

const ratio = (percent: number): number => Math.round(percent * 10) / 1000;

function addActivity(set: SampleSet, labels: Record<string, string>, activity: Activity, withUtil: boolean): void {
  const F = DCGM_FAMILIES;
  if (withUtil) {
    set.add(F.gpuUtil, labels, Math.round(activity.util));
    set.add(F.memCopyUtil, labels, Math.round(activity.util * 0.4));
  }
  set.add(F.grEngineActive, labels, ratio(activity.util));
  set.add(F.tensorActive, labels, ratio(activity.tensor));
  set.add(F.dramActive, labels, ratio(activity.util * DRAM_SHARE));
  set.add(F.pcieTx, labels, Math.round((PCIE_TX_AT_FULL * activity.util) / 100));
  set.add(F.pcieRx, labels, Math.round((PCIE_RX_AT_FULL * activity.util) / 100));
  set.add(F.nvlinkTx, labels, 0);
  set.add(F.nvlinkRx, labels, 0);
}

function addMemory(set: SampleSet, labels: Record<string, string>, usedMiB: number, sizeMiB: number): void {
  set.add(DCGM_FAMILIES.fbUsed, labels, usedMiB);
  set.add(DCGM_FAMILIES.fbFree, labels, Math.max(0, sizeMiB - usedMiB));
  set.add(DCGM_FAMILIES.fbReserved, labels, 0);
}

/** Device-wide series: clocks, temperatures, power, energy, errors, licence. */
function addDevice(set: SampleSet, inputs: DcgmInputs, labels: Record<string, string>, product: string, util: number, withCodecs: boolean): void {
  const F = DCGM_FAMILIES;
  const readings = readingsAt(physicsOf(product), util);
  set.add(F.smClock, labels, readings.smClockMHz);
  set.add(F.memClock, labels, readings.memClockMHz);
  set.add(F.gpuTemp, labels, readings.gpuTempC);
  set.add(F.memoryTemp, labels, readings.memoryTempC);
  set.add(F.power, labels, readings.powerW);
  set.add(F.energy, labels, inputs.energy.add(`${labels.Hostname}/${labels.UUID}`, readings.powerW));
  set.add(F.pcieReplay, labels, 0);
  if (withCodecs) {
    set.add(F.encUtil, labels, 0);
    set.add(F.decUtil, labels, 0);
  }
  set.add(F.xid, labels, 0);
  set.add(F.nvlinkBandwidth, labels, 0);
  set.add(F.vgpuLicense, labels, 0);
  set.add(F.uncorrectableRemapped, labels, 0);
  set.add(F.correctableRemapped, labels, 0);
  set.add(F.rowRemapFailure, labels, 0);
}

export interface GpuIdentity {
  gpu: string;
  UUID: string;
  pci_bus_id: string;
  device: string;
  modelName: string;
  Hostname: string;
  DCGM_FI_DRIVER_VERSION: string;
}

// Labels are built as literals: spreading a shared object into each one cost V8 several times more.
export function labelsOf(id: GpuIdentity, owner: ContainerRef | null): Record<string, string> {
  return {
    gpu: id.gpu,
    UUID: id.UUID,
    pci_bus_id: id.pci_bus_id,
    device: id.device,
    modelName: id.modelName,
    Hostname: id.Hostname,
    DCGM_FI_DRIVER_VERSION: id.DCGM_FI_DRIVER_VERSION,
    container: owner?.container ?? '',
    namespace: owner?.namespace ?? '',
    pod: owner?.pod ?? '',
  };
}

function addWholeGpu(set: SampleSet, inputs: DcgmInputs, id: GpuIdentity, node: NodeTopology, gpu: GpuTopology): void {
  const users = Object.values(gpu.status.usage);
  const activity = activityOf(users, inputs.pickUtilization);
  const labels = labelsOf(id, ownerOf(gpu, users));
  addDevice(set, inputs, labels, node.gpuProduct, activity.util, true);
  addMemory(set, labels, activity.usedMiB, node.gpuMemoryMiB);
  addActivity(set, labels, activity, !node.dynamicMig);
}

function addMigGpu(set: SampleSet, inputs: DcgmInputs, id: GpuIdentity, node: NodeTopology, gpu: GpuTopology): void {
  let deviceUtil = 0;
  const model = resolveGpuModel(node.gpuProduct);
  const slices = model.ok && model.value.mig ? model.value.mig.totalComputeSlices : 7;
  for (const mig of gpu.migDevices) {
    const labels = labelsOf(id, null);
    labels.GPU_I_PROFILE = mig.profile;
    labels.GPU_I_ID = mig.gpuInstanceId === null ? '' : String(mig.gpuInstanceId);
    const activity = activityOf(Object.values(mig.status.usage), inputs.pickUtilization);
    const facts = inputs.profiles(node.gpuProduct, mig.profile);
    const size = facts?.memoryMiB ?? activity.usedMiB;
    addMemory(set, labels, activity.usedMiB, size);
    addActivity(set, labels, activity, false);
    // The GPU's activity: each instance's, weighted by its share of the GPU's compute slices.
    deviceUtil += (activity.util * (facts?.giSlices ?? 0)) / slices;
  }
  addDevice(set, inputs, labelsOf(id, null), node.gpuProduct, Math.min(100, deviceUtil), true);
}

/** Every DCGM series of every node in the topology. */
export function collectDcgm(inputs: DcgmInputs): Samples {
  const set = new SampleSet();
  for (const [hostname, node] of Object.entries(inputs.topology.nodes)) {
    node.gpus.forEach((gpu, index) => {
      const id = {
        gpu: String(index),
        UUID: gpu.id,
        pci_bus_id: pciBusId(index),
        device: `nvidia${index}`,
        modelName: node.gpuProduct,
        Hostname: hostname,
        DCGM_FI_DRIVER_VERSION: node.driverVersion,
      };
      if (gpu.migDevices.length > 0) addMigGpu(set, inputs, id, node, gpu);
      else addWholeGpu(set, inputs, id, node, gpu);
    });
  }
  return set.samples();
}
