/**
 * A pod's GPU request with HAMi's semantics (docs/requests.md): per app container `nvidia.com/gpu`, `gpumem`,
 * `gpumem-percentage`, `gpucores`, `priority` (names from the device config), HAMi's defaults, the steering
 * annotations, and the pod's peak CPU and memory. Any JSON goes in; a `PodRequest` or a reason naming the field
 * comes out, never an exception.
 */
import { NODE_MODES, USER_POD } from '../api/index.js';
import { err, ok, type Result } from '../errors.js';
import { BYTES_PER_MIB, parseQuantity, quantityCeil, quantityInteger } from './quantity.js';
import { PACKING_DIRECTIONS, type ContainerRequest, type GpuDemand, type PackingDirection, type PodRequest, type Reason, type RequestMode } from './types.js';

/** The part of HAMi's device config (`nvidia:` section) requests are read with; field names are HAMi's. */
export interface RequestConfig {
  readonly resourceCountName: string;
  readonly resourceMemoryName: string;
  readonly resourceMemoryPercentageName: string;
  readonly resourceCoreName: string;
  readonly resourcePriorityName: string;
  /** MiB per vGPU when the container names none; 0 means the whole GPU. */
  readonly defaultMemory: number;
  readonly defaultCores: number;
  /** vGPUs a container gets when it sets only memory or cores. */
  readonly defaultGPUNum: number;
}

export const DEFAULT_REQUEST_CONFIG: RequestConfig = {
  resourceCountName: 'nvidia.com/gpu',
  resourceMemoryName: 'nvidia.com/gpumem',
  resourceMemoryPercentageName: 'nvidia.com/gpumem-percentage',
  resourceCoreName: 'nvidia.com/gpucores',
  resourcePriorityName: 'nvidia.com/priority',
  defaultMemory: 0,
  defaultCores: 0,
  defaultGPUNum: 1,
};

const MAX_CORES = 100;
const MAX_PERCENT = 100;
const PRIORITIES = [0, 1];
const MODES: readonly RequestMode[] = NODE_MODES;
/** HAMi's `hami.io/gpu-scheduler-policy` values: a packing direction, or one of its two GPU-choice rules. */
const GPU_POLICIES = [...PACKING_DIRECTIONS, 'topology-aware', 'mutex'] as const;

class InvalidField {
  constructor(
    readonly field: string,
    readonly message: string,
  ) {}
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function recordAt(parent: Record<string, unknown>, key: string, field: string): Record<string, unknown> {
  const value = parent[key];
  if (value === undefined || value === null) return {};
  if (!isRecord(value)) throw new InvalidField(field, 'must be an object');
  return value;
}

function stringAt(parent: Record<string, unknown>, key: string, field: string, fallback?: string): string {
  const value = parent[key];
  if ((value === undefined || value === '') && fallback !== undefined) return fallback;
  if (typeof value !== 'string' || value === '') throw new InvalidField(field, 'must be a non-empty string');
  return value;
}

/** A quantity as a non-negative integer (GPU counts, MiB, percentages); absent: null. */
function integerQuantity(resources: Record<string, unknown>, name: string, field: string): number | null {
  const raw = resources[name];
  if (raw === undefined || raw === null) return null;
  const text = typeof raw === 'number' ? String(raw) : raw;
  const q = typeof text === 'string' ? parseQuantity(text) : null;
  if (!q) throw new InvalidField(field, `is not a Kubernetes quantity: ${JSON.stringify(raw)}`);
  const value = quantityInteger(q);
  if (value === null) throw new InvalidField(field, `must be a whole number, got '${text}'`);
  if (value < 0) throw new InvalidField(field, `must not be negative, got '${text}'`);
  if (!Number.isSafeInteger(value)) throw new InvalidField(field, `is too large: '${text}'`);
  return value;
}

/** CPU (milli) and memory (MiB) a container asks for: requests, else limits (Kubernetes defaults one to the other). */
function cpuAndMemory(resources: Record<string, unknown>, field: string): { cpuMilli: number; memoryMiB: number } {
  const requests = recordAt(resources, 'requests', `${field}.requests`);
  const limits = recordAt(resources, 'limits', `${field}.limits`);
  const read = (name: string, scale: bigint, per: bigint): number => {
    const fromRequests = requests[name] !== undefined && requests[name] !== null;
    const raw = fromRequests ? requests[name] : limits[name];
    if (raw === undefined || raw === null) return 0;
    const where = `${field}.${fromRequests ? 'requests' : 'limits'}.${name}`;
    const q = typeof raw === 'string' || typeof raw === 'number' ? parseQuantity(String(raw)) : null;
    if (!q) throw new InvalidField(where, `is not a Kubernetes quantity: ${JSON.stringify(raw)}`);
    const value = quantityCeil(q, scale, per);
    if (value < 0) throw new InvalidField(where, `must not be negative, got '${String(raw)}'`);
    if (!Number.isSafeInteger(value)) throw new InvalidField(where, `is too large: '${String(raw)}'`);
    return value;
  };
  return { cpuMilli: read('cpu', 1000n, 1n), memoryMiB: read('memory', 1n, BYTES_PER_MIB) };
}

interface GpuQuantity {
  readonly value: number | null;
  /** Where the value was read (limits, else requests): errors name it. */
  readonly field: string;
}

/** A GPU resource, read from limits, then requests (extended resources must have both equal anyway). */
function gpuQuantity(resources: Record<string, unknown>, name: string, field: string): GpuQuantity {
  const limits = recordAt(resources, 'limits', `${field}.limits`);
  const inLimits = limits[name] !== undefined && limits[name] !== null;
  const source = inLimits ? limits : recordAt(resources, 'requests', `${field}.requests`);
  const where = `${field}.${inLimits ? 'limits' : 'requests'}.${name}`;
  return { value: integerQuantity(source, name, where), field: where };
}

/**
 * `gpumem` is a count of MiB, as in HAMi: `10Gi` is the quantity 10,737,418,240, which would ask that many MiB
 * and then fail everywhere as merely "insufficient". Such a unit is refused, saying what to write instead.
 */
function refuseMemoryUnit(resources: Record<string, unknown>, name: string, mib: GpuQuantity): void {
  const limits = recordAt(resources, 'limits', 'limits');
  const raw = limits[name] ?? recordAt(resources, 'requests', 'requests')[name];
  // `k` stays a plain multiplier (1k = 1000 MiB); the byte-sized units can only be a size in bytes by mistake.
  const unit = typeof raw === 'string' ? /^\s*\d+\s*(Ki|Mi|Gi|Ti|Pi|Ei|M|G|T|P|E)\s*$/.exec(raw)?.[1] : undefined;
  if (unit === undefined || mib.value === null) return;
  const inMiB = unit.endsWith('i') ? mib.value / 1024 ** 2 : mib.value / 1e6;
  const hint = Number.isInteger(inMiB) && inMiB >= 1 ? `write ${inMiB} for ${raw}` : 'write a plain number of MiB';
  throw new InvalidField(mib.field, `is in MiB, as in HAMi: ${hint} (as given, '${raw}' asks for ${mib.value.toLocaleString('en-US')} MiB)`);
}

/**
 * One container's GPU demand, read as HAMi v2.10 reads it (pkg/device/nvidia/device.go GenerateResourceRequests and
 * Fit): `gpumem-percentage: 0` counts as unset; gpumem (above 0) wins over a percentage; `gpucores` above 100 is
 * taken as 100. A percentage above 100 is refused with the text of HAMi's webhook (validateMemoryPercentage).
 */
function gpuDemand(resources: Record<string, unknown>, field: string, container: string, config: RequestConfig): GpuDemand | null {
  const count = gpuQuantity(resources, config.resourceCountName, field);
  const mib = gpuQuantity(resources, config.resourceMemoryName, field);
  const percentGiven = gpuQuantity(resources, config.resourceMemoryPercentageName, field);
  const cores = gpuQuantity(resources, config.resourceCoreName, field);
  if (percentGiven.value !== null && percentGiven.value > MAX_PERCENT) {
    throw new InvalidField(percentGiven.field, `invalid ${config.resourceMemoryPercentageName} value ${percentGiven.value} in container ${container}: must be an integer between 0 and ${MAX_PERCENT}`);
  }
  if (mib.value !== null) refuseMemoryUnit(resources, config.resourceMemoryName, mib);
  const mibSet = mib.value !== null && mib.value > 0;
  const percent = mibSet || percentGiven.value === 0 ? null : percentGiven.value;
  const memorySet = mibSet || percent !== null;
  const anyShare = mib.value !== null || percentGiven.value !== null || cores.value !== null;
  const vgpus = count.value ?? (anyShare ? config.defaultGPUNum : 0);
  if (vgpus === 0) return null;
  const memory = mibSet && mib.value !== null ? { mib: mib.value } : percent !== null ? { percent } : config.defaultMemory > 0 ? { mib: config.defaultMemory } : { percent: MAX_PERCENT };
  // HAMi: a vGPU that names neither memory nor cores takes the GPU alone.
  const asked = cores.value === null ? null : Math.min(cores.value, MAX_CORES);
  return { count: vgpus, memory, cores: asked ?? (memorySet ? config.defaultCores : MAX_CORES) };
}

function list(annotations: Record<string, unknown>, key: string, lower: boolean): string[] {
  const value = annotations[key];
  if (value === undefined) return [];
  if (typeof value !== 'string') throw new InvalidField(`metadata.annotations.${key}`, 'must be a string');
  return value
    .split(',')
    .map((s) => (lower ? s.trim().toLowerCase() : s.trim()))
    .filter((s) => s !== '');
}

function choice<T extends string>(annotations: Record<string, unknown>, key: string, allowed: readonly T[]): T | null {
  const value = annotations[key];
  if (value === undefined) return null;
  const text = typeof value === 'string' ? value.trim() : value;
  if (!allowed.includes(text as T)) throw new InvalidField(`metadata.annotations.${key}`, `must be one of ${allowed.join(', ')}, got ${JSON.stringify(value)}`);
  return text as T;
}

function containersAt(spec: Record<string, unknown>, key: string): Record<string, unknown>[] {
  const value = spec[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new InvalidField(`spec.${key}`, 'must be a list');
  return value.map((c, i) => {
    if (!isRecord(c)) throw new InvalidField(`spec.${key}[${i}]`, 'must be an object');
    return c;
  });
}

function parse(pod: unknown, config: RequestConfig): PodRequest {
  if (!isRecord(pod)) throw new InvalidField('pod', 'must be an object');
  const metadata = recordAt(pod, 'metadata', 'metadata');
  const spec = recordAt(pod, 'spec', 'spec');
  const annotations = recordAt(metadata, 'annotations', 'metadata.annotations');
  const apps = containersAt(spec, 'containers');
  if (apps.length === 0) throw new InvalidField('spec.containers', 'must list at least one container');

  let appCpu = 0;
  let appMemory = 0;
  const containers: ContainerRequest[] = apps.map((c, i) => {
    const field = `spec.containers[${i}]`;
    const resources = recordAt(c, 'resources', `${field}.resources`);
    const { cpuMilli, memoryMiB } = cpuAndMemory(resources, `${field}.resources`);
    appCpu += cpuMilli;
    appMemory += memoryMiB;
    const name = stringAt(c, 'name', `${field}.name`);
    return { name, gpu: gpuDemand(resources, `${field}.resources`, name, config) };
  });
  let initCpu = 0;
  let initMemory = 0;
  // As HAMi: init containers come first and may hold GPUs; their shares are counted as if they ran beside the
  // app containers (never less than the pod uses, so nothing is over-committed).
  const inits: ContainerRequest[] = containersAt(spec, 'initContainers').map((c, i) => {
    const field = `spec.initContainers[${i}]`;
    const resources = recordAt(c, 'resources', `${field}.resources`);
    const { cpuMilli, memoryMiB } = cpuAndMemory(resources, `${field}.resources`);
    initCpu = Math.max(initCpu, cpuMilli);
    initMemory = Math.max(initMemory, memoryMiB);
    const name = stringAt(c, 'name', `${field}.name`);
    return { name, gpu: gpuDemand(resources, `${field}.resources`, name, config) };
  });

  let priority: number | null = null;
  apps.forEach((c, i) => {
    const resources = recordAt(c, 'resources', `spec.containers[${i}].resources`);
    const { value, field } = gpuQuantity(resources, config.resourcePriorityName, `spec.containers[${i}].resources`);
    if (value === null) return;
    if (!PRIORITIES.includes(value)) throw new InvalidField(field, `must be 0 (high) or 1 (low), got ${value}`);
    priority = priority === null ? value : Math.min(priority, value);
  });

  return {
    pod: {
      uid: stringAt(metadata, 'uid', 'metadata.uid'),
      namespace: stringAt(metadata, 'namespace', 'metadata.namespace', 'default'),
      name: stringAt(metadata, 'name', 'metadata.name'),
    },
    containers: [...inits, ...containers],
    cpuMilli: Math.max(initCpu, appCpu),
    memoryMiB: Math.max(initMemory, appMemory),
    priority,
    mode: choice(annotations, USER_POD.vgpuMode, MODES),
    useGpuTypes: list(annotations, USER_POD.useGpuType, true),
    noUseGpuTypes: list(annotations, USER_POD.noUseGpuType, true),
    gpuTypeMatch: 'substring',
    useGpuUuids: list(annotations, USER_POD.useGpuUuid, false),
    noUseGpuUuids: list(annotations, USER_POD.noUseGpuUuid, false),
    nodePolicy: choice<PackingDirection>(annotations, USER_POD.nodeSchedulerPolicy, PACKING_DIRECTIONS),
    ...gpuPolicyOf(annotations),
  };
}

/**
 * `hami.io/gpu-scheduler-policy`. `mutex` keeps each vGPU off GPUs other tasks use; `topology-aware` ranks GPU sets
 * by the NVLink pair scores a HAMi device plugin publishes, which Tessera nodes do not, so the cluster's GPU
 * direction decides (as HAMi with every pair scoring alike).
 */
function gpuPolicyOf(annotations: Record<string, unknown>): { gpuPolicy: PackingDirection | null; gpuMutex?: boolean } {
  const policy = choice(annotations, USER_POD.gpuSchedulerPolicy, GPU_POLICIES);
  if (policy === 'mutex') return { gpuPolicy: null, gpuMutex: true };
  return { gpuPolicy: policy === 'topology-aware' ? null : policy };
}

/** Reads a pod (plain Pod JSON) into a `PodRequest`; an invalid request is an `InvalidRequest` reason naming the field. */
export function parsePodRequest(pod: unknown, config: RequestConfig = DEFAULT_REQUEST_CONFIG): Result<PodRequest, Reason> {
  try {
    return ok(parse(pod, config));
  } catch (e) {
    if (e instanceof InvalidField) return err({ kind: 'InvalidRequest', field: e.field, message: e.message });
    throw e;
  }
}

/** Whether the pod asks for any GPU. */
export const wantsGpu = (request: PodRequest): boolean => request.containers.some((c) => c.gpu !== null);
