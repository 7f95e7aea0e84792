/**
 * The fake GPU operator's topology: which fake GPUs each node has, their health, their MIG instances, and who uses
 * them. It is read from ConfigMaps in either of two formats (the seeds' single `topology` ConfigMap, or the newer
 * cluster `topology` + per-node `topology-<node>` ConfigMaps) into one model, and written in the newer format.
 * Pure: YAML text in, model or a field-naming error out. The fake device-plugin backend, the status updater, the
 * exporter and the GFD labels all read this model.
 */
import { createHash } from 'node:crypto';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';
import { TesseraError, err, ok, type Result } from '../errors.js';
import { ajv, type MigStrategy, validationError } from '../api/index.js';
import { clusterTopologySchema, legacyTopologySchema, nodeTopologySchema, type HEALTH } from './topology-schema.js';

export type Health = (typeof HEALTH)[number];

/** The ConfigMap key both formats use. */
export const TOPOLOGY_KEY = 'topology.yml';
/** The cluster ConfigMap's name; per-node ConfigMaps are `topology-<node>`. */
export const TOPOLOGY_CONFIGMAP = 'topology';
export const nodeTopologyConfigMapName = (node: string): string => `${TOPOLOGY_CONFIGMAP}-${node}`;
/** Labels the status updater puts on per-node ConfigMaps so they can be listed with one selector. */
export const NODE_TOPOLOGY_LABEL = 'tessera.io/node-topology';
/** The driver version the seed reports on dynamic-MIG series when the topology names none. */
export const DEFAULT_DRIVER_VERSION = '520.56.06';
/** The fake GPU operator's default node label that puts a node in a pool. */
export const DEFAULT_NODE_POOL_LABEL_KEY = 'run.ai/simulated-gpu-node-pool';

export interface ContainerRef {
  namespace: string;
  pod: string;
  container: string;
}

/** Utilization in percent; the exporter reports a value within the range. */
export interface UtilizationRange {
  min: number;
  max: number;
}

export interface GpuUsage {
  utilization: UtilizationRange;
  fbUsedMiB: number;
  isInferencePod: boolean;
  /** The container this usage belongs to (Tessera: one entry per container, so multi-container pods split). */
  allocatedBy: ContainerRef | null;
}

export interface DeviceStatus {
  /** The container holding the device (for a shared GPU, the first of its users). */
  allocatedBy: ContainerRef | null;
  /** Usage by key: the pod UID, or `<podUID>/<container>` when several containers of a pod use the device. */
  usage: Record<string, GpuUsage>;
}

export interface MigDeviceTopology {
  /** MIG device UUID; null until the MIG manager (or run:ai's `run.ai/mig-mapping`) names it. */
  id: string | null;
  /** Profile name as NVIDIA spells it (`1g.10gb`). */
  profile: string;
  /** First memory slice (placement start); null when the source did not say. */
  position: number | null;
  /** GPU instance ID as the driver gave it (opaque); null until known. */
  gpuInstanceId: number | null;
  status: DeviceStatus;
}

export interface GpuTopology {
  /** GPU UUID (`GPU-...`). */
  id: string;
  health: Health;
  /** When true, creating or destroying MIG instances on this GPU fails (to test failure paths). */
  failMigOperations: boolean;
  status: DeviceStatus;
  migDevices: MigDeviceTopology[];
}

export interface NodeTopology {
  /** Product name as GFD labels it (`NVIDIA-A100-SXM4-40GB`). */
  gpuProduct: string;
  gpuMemoryMiB: number;
  driverVersion: string;
  migStrategy: MigStrategy;
  /** Seed 000: MIG geometry is changed on demand (run:ai dynamic MIG, or Tessera's MIG mode). */
  dynamicMig: boolean;
  /** A whole node marked Unhealthy makes every GPU on it unhealthy. */
  health: Health;
  failMigOperations: boolean;
  /** GPUs in index order. */
  gpus: GpuTopology[];
}

export interface NodePool {
  gpuProduct: string;
  gpuCount: number;
  gpuMemoryMiB: number;
  driverVersion: string;
  migStrategy: MigStrategy;
  dynamicMig: boolean;
}

export interface Topology {
  migStrategy: MigStrategy;
  nodePoolLabelKey: string;
  nodePools: Record<string, NodePool>;
  nodes: Record<string, NodeTopology>;
}

/** A ConfigMap's `data`. */
export type ConfigMapData = Record<string, string>;

/** The newer format as ConfigMap data: the cluster ConfigMap, and per node name its `topology-<node>` data. */
export interface TopologyConfigMaps {
  cluster: ConfigMapData;
  nodes: Record<string, ConfigMapData>;
}

/** A GPU's effective health: unhealthy when it or its node is marked so. */
export function gpuHealth(node: NodeTopology, gpu: GpuTopology): Health {
  return node.health === 'Unhealthy' || gpu.health === 'Unhealthy' ? 'Unhealthy' : 'Healthy';
}

/** Whether MIG operations on this GPU must fail (marked on the GPU or its node). */
export function migOperationsFail(node: NodeTopology, gpu: GpuTopology): boolean {
  return node.failMigOperations || gpu.failMigOperations;
}

export const emptyStatus = (): DeviceStatus => ({ allocatedBy: null, usage: {} });

/**
 * A stable GPU UUID for GPU `index` of `node`, for GPUs the topology counts but does not list: the same node
 * always gets the same UUIDs, so reloading a topology never renames a GPU that pods hold.
 */
export function syntheticGpuUuid(node: string, index: number): string {
  const hex = createHash('sha256').update(`${node}/${index}`).digest('hex');
  return `GPU-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** GPU `index` of `node` as a pool or a bare count describes it: healthy, idle, with a stable UUID. */
function idleGpu(node: string, index: number): GpuTopology {
  return { id: syntheticGpuUuid(node, index), health: 'Healthy', failMigOperations: false, status: emptyStatus(), migDevices: [] };
}

/** A node's topology as its pool describes it: `gpuCount` idle GPUs with stable UUIDs. */
export function nodeFromPool(node: string, pool: NodePool): NodeTopology {
  return {
    gpuProduct: pool.gpuProduct,
    gpuMemoryMiB: pool.gpuMemoryMiB,
    driverVersion: pool.driverVersion,
    migStrategy: pool.migStrategy,
    dynamicMig: pool.dynamicMig,
    health: 'Healthy',
    failMigOperations: false,
    gpus: Array.from({ length: pool.gpuCount }, (_, i) => idleGpu(node, i)),
  };
}

// ------------------------------------------------------------------------------------------------------------
// Raw shapes, as the schemas admit them.

type Raw = Record<string, unknown>;
interface RawContainerRef {
  namespace: string;
  pod: string;
  container: string;
}
interface RawLegacyNode {
  'gpu-count': number;
  'gpu-memory': number;
  'gpu-product': string;
  'is-dynamic-mig-enabled'?: boolean;
  'mig-strategy'?: MigStrategy;
  'driver-version'?: string;
  health?: Health;
  'fail-mig-operations'?: boolean;
  gpus?: Raw[] | null;
}
interface RawLegacy {
  'mig-strategy'?: MigStrategy;
  nodes: Record<string, RawLegacyNode>;
}
interface RawPool {
  gpuProduct: string;
  gpuCount: number;
  gpuMemory: number;
  driverVersion?: string;
  migStrategy?: MigStrategy;
  dynamicMig?: boolean;
}
interface RawCluster {
  migStrategy?: MigStrategy;
  nodePoolLabelKey?: string;
  nodePools?: Record<string, RawPool> | null;
}
interface RawNode {
  gpuProduct: string;
  gpuMemory: number;
  driverVersion?: string;
  migStrategy?: MigStrategy;
  dynamicMig?: boolean;
  health?: Health;
  failMigOperations?: boolean;
  gpus?: Raw[] | null;
}

/** Key names of one format's status objects. */
interface StatusKeys {
  allocatedBy: string;
  usage: string;
  fbUsed: string;
  inference: string;
  migDevices: string;
  gpuInstanceId: string;
  failMig: string;
}
const KEBAB: StatusKeys = {
  allocatedBy: 'allocated-by',
  usage: 'pod-gpu-usage-status',
  fbUsed: 'fb-used',
  inference: 'is-inference-pod',
  migDevices: 'mig-devices',
  gpuInstanceId: 'gpu-instance-id',
  failMig: 'fail-mig-operations',
};
const CAMEL: StatusKeys = {
  allocatedBy: 'allocatedBy',
  usage: 'podGpuUsageStatus',
  fbUsed: 'fbUsed',
  inference: 'isInferencePod',
  migDevices: 'migDevices',
  gpuInstanceId: 'gpuInstanceId',
  failMig: 'failMigOperations',
};

const checkLegacy = ajv.compile(legacyTopologySchema);
const checkCluster = ajv.compile(clusterTopologySchema);
const checkNode = ajv.compile(nodeTopologySchema);

const MAX_TEXT = 1024 * 1024;

function configError(message: string, field: string): TesseraError {
  return new TesseraError('INVALID_CONFIG', message, { field });
}

function readYaml(text: string | undefined, field: string): unknown {
  if (text === undefined) throw configError(`is missing (the topology lives under the key '${TOPOLOGY_KEY}')`, field);
  if (text.length > MAX_TEXT) throw configError('is larger than 1 MiB', field);
  try {
    return parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, logLevel: 'error' }) as unknown;
  } catch (cause) {
    throw yamlError(cause, field);
  }
}

function yamlError(cause: unknown, field: string): TesseraError {
  return new TesseraError('INVALID_CONFIG', `is not valid YAML (${String((cause as Error | undefined)?.message).split('\n')[0]})`, { field, cause });
}

function check<T>(validate: ReturnType<typeof ajv.compile>, value: unknown, field: string): T {
  if (validate(value)) return value as T;
  throw validationError(validate.errors, field, 'INVALID_CONFIG');
}

function toRef(raw: unknown): ContainerRef | null {
  if (raw === null || raw === undefined) return null;
  const ref = raw as RawContainerRef;
  return { namespace: ref.namespace, pod: ref.pod, container: ref.container };
}

function toStatus(raw: unknown, keys: StatusKeys): DeviceStatus {
  if (raw === null || raw === undefined) return emptyStatus();
  const status = raw as Raw;
  const usage: Record<string, GpuUsage> = {};
  for (const [key, value] of Object.entries((status[keys.usage] as Record<string, Raw> | null | undefined) ?? {})) {
    const range = value.utilization as UtilizationRange;
    usage[key] = {
      utilization: { min: range.min, max: range.max },
      fbUsedMiB: value[keys.fbUsed] as number,
      isInferencePod: (value[keys.inference] as boolean | undefined) ?? false,
      allocatedBy: toRef(value[keys.allocatedBy]),
    };
  }
  return { allocatedBy: toRef(status[keys.allocatedBy]), usage };
}

function toGpu(raw: Raw, keys: StatusKeys): GpuTopology {
  const metrics = raw.metrics as { metadata: RawContainerRef; utilization: number; 'fb-used': number } | undefined;
  // Seed 001's `metrics` shape carries no pod UID: key its single usage entry by namespace/pod.
  const status = metrics
    ? {
        allocatedBy: toRef(metrics.metadata),
        usage: {
          [`${metrics.metadata.namespace}/${metrics.metadata.pod}`]: {
            utilization: { min: metrics.utilization, max: metrics.utilization },
            fbUsedMiB: metrics['fb-used'],
            isInferencePod: false,
            allocatedBy: toRef(metrics.metadata),
          },
        },
      }
    : toStatus(raw.status, keys);
  return {
    id: raw.id as string,
    health: (raw.health as Health | undefined) ?? 'Healthy',
    failMigOperations: (raw[keys.failMig] as boolean | undefined) ?? false,
    status,
    migDevices: ((raw[keys.migDevices] as Raw[] | null | undefined) ?? []).map((m) => ({
      id: (m.id as string | undefined) ?? null,
      profile: m.name as string,
      position: (m.position as number | undefined) ?? null,
      gpuInstanceId: (m[keys.gpuInstanceId] as number | undefined) ?? null,
      status: toStatus(m.status, keys),
    })),
  };
}

/** Checks what the schema cannot: unique IDs, MIG only where a strategy allows it, memory within the GPU. */
function checkNodeRules(node: NodeTopology, field: string, keys: StatusKeys): void {
  const gpuIds = new Set<string>();
  const migIds = new Set<string>();
  node.gpus.forEach((gpu, g) => {
    const gpuField = `${field}.gpus.${g}`;
    if (gpuIds.has(gpu.id)) throw configError(`repeats GPU ${gpu.id}`, `${gpuField}.id`);
    gpuIds.add(gpu.id);
    if (gpu.migDevices.length > 0 && node.migStrategy === 'none') {
      throw configError("lists MIG devices but the node's migStrategy is 'none'", `${gpuField}.${keys.migDevices}`);
    }
    const instanceIds = new Set<number>();
    const positions = new Set<number>();
    let usedMiB = 0;
    const devices: Array<[DeviceStatus, string]> = [[gpu.status, `${gpuField}.status`]];
    gpu.migDevices.forEach((mig, m) => {
      const migField = `${gpuField}.${keys.migDevices}.${m}`;
      devices.push([mig.status, `${migField}.status`]);
      if (mig.id !== null) {
        if (migIds.has(mig.id) || gpuIds.has(mig.id)) throw configError(`repeats device ${mig.id}`, `${migField}.id`);
        migIds.add(mig.id);
      }
      if (mig.gpuInstanceId !== null) {
        if (instanceIds.has(mig.gpuInstanceId)) throw configError(`repeats GPU instance ID ${mig.gpuInstanceId} on this GPU`, `${migField}.${keys.gpuInstanceId}`);
        instanceIds.add(mig.gpuInstanceId);
      }
      if (mig.position !== null) {
        if (positions.has(mig.position)) throw configError(`repeats position ${mig.position} on this GPU`, `${migField}.position`);
        positions.add(mig.position);
      }
    });
    for (const [status, statusField] of devices) {
      for (const [key, usage] of Object.entries(status.usage)) {
        if (usage.utilization.min > usage.utilization.max) throw configError('min exceeds max', `${statusField}.${keys.usage}.${key}.utilization`);
        usedMiB += usage.fbUsedMiB;
      }
    }
    if (usedMiB > node.gpuMemoryMiB) throw configError(`uses ${usedMiB} MiB of a ${node.gpuMemoryMiB} MiB GPU`, `${gpuField}.status`);
  });
}

function fromLegacy(raw: RawLegacy, field: string): Topology {
  const migStrategy = raw['mig-strategy'] ?? 'none';
  const nodes: Record<string, NodeTopology> = {};
  for (const [name, n] of Object.entries(raw.nodes)) {
    const nodeField = `${field}.nodes.${name}`;
    const listed = (n.gpus ?? []).map((g) => toGpu(g, KEBAB));
    if (listed.length > n['gpu-count']) throw configError(`lists ${listed.length} GPUs but gpu-count is ${n['gpu-count']}`, `${nodeField}.gpus`);
    const node: NodeTopology = {
      gpuProduct: n['gpu-product'],
      gpuMemoryMiB: n['gpu-memory'],
      driverVersion: n['driver-version'] ?? DEFAULT_DRIVER_VERSION,
      migStrategy: n['mig-strategy'] ?? migStrategy,
      dynamicMig: n['is-dynamic-mig-enabled'] ?? false,
      health: n.health ?? 'Healthy',
      failMigOperations: n['fail-mig-operations'] ?? false,
      gpus: Array.from({ length: n['gpu-count'] }, (_, i) => listed[i] ?? idleGpu(name, i)),
    };
    checkNodeRules(node, nodeField, KEBAB);
    nodes[name] = node;
  }
  return { migStrategy, nodePoolLabelKey: DEFAULT_NODE_POOL_LABEL_KEY, nodePools: {}, nodes };
}

function fromCluster(raw: RawCluster): Omit<Topology, 'nodes'> {
  const migStrategy = raw.migStrategy ?? 'none';
  const nodePools: Record<string, NodePool> = {};
  for (const [name, p] of Object.entries(raw.nodePools ?? {})) {
    nodePools[name] = {
      gpuProduct: p.gpuProduct,
      gpuCount: p.gpuCount,
      gpuMemoryMiB: p.gpuMemory,
      driverVersion: p.driverVersion ?? DEFAULT_DRIVER_VERSION,
      migStrategy: p.migStrategy ?? migStrategy,
      dynamicMig: p.dynamicMig ?? false,
    };
  }
  return { migStrategy, nodePoolLabelKey: raw.nodePoolLabelKey ?? DEFAULT_NODE_POOL_LABEL_KEY, nodePools };
}

function fromNode(raw: RawNode, clusterStrategy: MigStrategy, field: string): NodeTopology {
  const node: NodeTopology = {
    gpuProduct: raw.gpuProduct,
    gpuMemoryMiB: raw.gpuMemory,
    driverVersion: raw.driverVersion ?? DEFAULT_DRIVER_VERSION,
    migStrategy: raw.migStrategy ?? clusterStrategy,
    dynamicMig: raw.dynamicMig ?? false,
    health: raw.health ?? 'Healthy',
    failMigOperations: raw.failMigOperations ?? false,
    gpus: (raw.gpus ?? []).map((g) => toGpu(g, CAMEL)),
  };
  checkNodeRules(node, field, CAMEL);
  return node;
}

/** Runs `parse`, turning a thrown TesseraError into a Result (anything else is a bug and propagates). */
function attempt<T>(parse: () => T): Result<T> {
  try {
    return ok(parse());
  } catch (error) {
    if (error instanceof TesseraError) return err(error);
    throw error;
  }
}

function isLegacy(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && ('nodes' in value || 'mig-strategy' in value);
}

/**
 * Reads one node's ConfigMap (`topology-<node>`), as the fake device-plugin backend on that node does.
 * `clusterStrategy` is the cluster ConfigMap's migStrategy, used when the node's own is absent.
 */
export function parseNodeTopology(node: string, data: ConfigMapData, clusterStrategy: MigStrategy = 'none'): Result<NodeTopology> {
  return attempt(() => {
    const field = `${nodeTopologyConfigMapName(node)}.${TOPOLOGY_KEY}`;
    return fromNode(check<RawNode>(checkNode, readYaml(data[TOPOLOGY_KEY], field), field), clusterStrategy, field);
  });
}

/**
 * Reads a topology in either format. The seeds' format has every node inside `cluster`; the newer one has pools
 * there and each node in `nodes[<node>]` (the data of ConfigMap `topology-<node>`). Never throws on bad input:
 * the error names the ConfigMap, the key and the field.
 */
export function parseTopology(cluster: ConfigMapData, nodes: Record<string, ConfigMapData> = {}): Result<Topology> {
  return attempt(() => {
    const field = `${TOPOLOGY_CONFIGMAP}.${TOPOLOGY_KEY}`;
    const raw = readYaml(cluster[TOPOLOGY_KEY], field);
    if (isLegacy(raw)) {
      if (Object.keys(nodes).length > 0) throw configError("uses the seeds' format (nodes inline), so per-node ConfigMaps are not expected", field);
      return fromLegacy(check<RawLegacy>(checkLegacy, raw, field), field);
    }
    // An empty cluster ConfigMap (YAML null) is a cluster without pools.
    const base = fromCluster(check<RawCluster>(checkCluster, raw ?? {}, field));
    const parsed: Record<string, NodeTopology> = {};
    for (const [name, data] of Object.entries(nodes)) {
      const result = parseNodeTopology(name, data, base.migStrategy);
      if (!result.ok) throw result.error;
      parsed[name] = result.value;
    }
    return { ...base, nodes: parsed };
  });
}

// ------------------------------------------------------------------------------------------------------------
// Writing the newer format.

function renderStatus(status: DeviceStatus): Raw | undefined {
  const usage = Object.entries(status.usage);
  if (status.allocatedBy === null && usage.length === 0) return undefined;
  return {
    ...(status.allocatedBy ? { allocatedBy: { ...status.allocatedBy } } : {}),
    ...(usage.length > 0
      ? {
          podGpuUsageStatus: Object.fromEntries(
            usage.map(([key, u]) => [
              key,
              {
                utilization: { ...u.utilization },
                fbUsed: u.fbUsedMiB,
                ...(u.isInferencePod ? { isInferencePod: true } : {}),
                ...(u.allocatedBy ? { allocatedBy: { ...u.allocatedBy } } : {}),
              },
            ]),
          ),
        }
      : {}),
  };
}

/** Drops undefined values so the YAML carries only what is set. */
function compact(value: Raw): Raw {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

/** One node's ConfigMap data in the newer format. */
export function renderNodeTopology(node: NodeTopology): ConfigMapData {
  const doc = compact({
    gpuProduct: node.gpuProduct,
    gpuMemory: node.gpuMemoryMiB,
    driverVersion: node.driverVersion,
    migStrategy: node.migStrategy,
    dynamicMig: node.dynamicMig || undefined,
    health: node.health === 'Unhealthy' ? node.health : undefined,
    failMigOperations: node.failMigOperations || undefined,
    gpus: node.gpus.map((gpu) =>
      compact({
        id: gpu.id,
        health: gpu.health === 'Unhealthy' ? gpu.health : undefined,
        failMigOperations: gpu.failMigOperations || undefined,
        status: renderStatus(gpu.status),
        migDevices:
          gpu.migDevices.length > 0
            ? gpu.migDevices.map((m) =>
                compact({
                  id: m.id ?? undefined,
                  name: m.profile,
                  position: m.position ?? undefined,
                  gpuInstanceId: m.gpuInstanceId ?? undefined,
                  status: renderStatus(m.status),
                }),
              )
            : undefined,
      }),
    ),
  });
  return { [TOPOLOGY_KEY]: stringify(doc) };
}

/** The cluster ConfigMap's data in the newer format (pools only; nodes go to their own ConfigMaps). */
export function renderClusterTopology(topology: Omit<Topology, 'nodes'>): ConfigMapData {
  const doc = {
    migStrategy: topology.migStrategy,
    nodePoolLabelKey: topology.nodePoolLabelKey,
    nodePools: Object.fromEntries(
      Object.entries(topology.nodePools).map(([name, p]) => [
        name,
        compact({
          gpuProduct: p.gpuProduct,
          gpuCount: p.gpuCount,
          gpuMemory: p.gpuMemoryMiB,
          driverVersion: p.driverVersion,
          migStrategy: p.migStrategy,
          dynamicMig: p.dynamicMig || undefined,
        }),
      ]),
    ),
  };
  return { [TOPOLOGY_KEY]: stringify(doc) };
}

/** The whole topology in the newer format: the cluster ConfigMap's data and each node's. */
export function renderTopology(topology: Topology): TopologyConfigMaps {
  return {
    cluster: renderClusterTopology(topology),
    nodes: Object.fromEntries(Object.entries(topology.nodes).map(([name, node]) => [name, renderNodeTopology(node)])),
  };
}

// ------------------------------------------------------------------------------------------------------------
// Files: a multi-document YAML of ConfigMaps (what `kubectl apply -f` takes), or a bare topology document.

interface RawConfigMap {
  kind?: unknown;
  metadata?: { name?: unknown };
  data?: unknown;
}

/**
 * Reads a topology file: either ConfigMap manifests (`topology` and `topology-<node>`, as `renderManifests`
 * writes and kubectl applies), or one bare document in either format (the content of `topology.yml`).
 */
export function parseTopologyFile(text: string, file = 'topology file'): Result<Topology> {
  return attempt(() => {
    if (text.length > 16 * MAX_TEXT) throw configError('is larger than 16 MiB', file);
    const docs = parseAllDocuments(text, { uniqueKeys: true, logLevel: 'error' });
    if (!Array.isArray(docs)) throw configError('is empty', file);
    const values = docs.map((doc, i) => {
      const field = `${file}.documents.${i}`;
      if (doc.errors.length > 0) throw yamlError(doc.errors[0], field);
      try {
        return doc.toJS({ maxAliasCount: 100 }) as unknown;
      } catch (cause) {
        throw yamlError(cause, field);
      }
    });
    const configMaps = values.filter((v): v is RawConfigMap => typeof v === 'object' && v !== null && (v as RawConfigMap).kind === 'ConfigMap');
    if (configMaps.length === 0) {
      if (values.length !== 1) throw configError('must hold ConfigMaps or exactly one topology document', file);
      const result = parseTopology({ [TOPOLOGY_KEY]: text });
      if (!result.ok) throw result.error;
      return result.value;
    }
    let cluster: ConfigMapData | undefined;
    const nodes: Record<string, ConfigMapData> = {};
    configMaps.forEach((cm, i) => {
      const name = cm.metadata?.name;
      const data = cm.data;
      if (typeof name !== 'string') throw configError('is required', `${file}.documents.${i}.metadata.name`);
      if (typeof data !== 'object' || data === null || typeof (data as Raw)[TOPOLOGY_KEY] !== 'string') {
        throw configError(`must hold the key '${TOPOLOGY_KEY}' as a string`, `${file}.documents.${i}.data`);
      }
      if (name === TOPOLOGY_CONFIGMAP) cluster = data as ConfigMapData;
      else if (name.startsWith(`${TOPOLOGY_CONFIGMAP}-`)) nodes[name.slice(TOPOLOGY_CONFIGMAP.length + 1)] = data as ConfigMapData;
      else throw configError(`must be '${TOPOLOGY_CONFIGMAP}' or '${TOPOLOGY_CONFIGMAP}-<node>', got '${name}'`, `${file}.documents.${i}.metadata.name`);
    });
    const result = parseTopology(cluster ?? { [TOPOLOGY_KEY]: '{}' }, nodes);
    if (!result.ok) throw result.error;
    return result.value;
  });
}

/** The topology as ConfigMap manifests in the newer format (multi-document YAML), for files and kubectl. */
export function renderManifests(topology: Topology, namespace: string): string {
  const { cluster, nodes } = renderTopology(topology);
  const manifest = (name: string, data: ConfigMapData, labels?: Record<string, string>): string =>
    stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace, ...(labels ? { labels } : {}) }, data });
  return [manifest(TOPOLOGY_CONFIGMAP, cluster), ...Object.entries(nodes).map(([node, data]) => manifest(nodeTopologyConfigMapName(node), data, { [NODE_TOPOLOGY_LABEL]: node }))].join('---\n');
}
