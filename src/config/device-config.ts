/**
 * HAMi's device config (`device-config.yaml` as HAMi v2.9 and v2.10 render it: the `nvidia:` section, `nodeconfig:`
 * and the other vendors' sections), validated by one JSON schema (`additionalProperties: false` on everything
 * NVIDIA) with every default in DEFAULT_DEVICE_CONFIG. Another vendor's section (cambricon, hygon, ...) is accepted
 * and reported once as a notice: Tessera schedules NVIDIA GPUs only. Each knownMigGeometries geometry is placed on
 * each of its models, so a geometry the GPU cannot hold is rejected at load, naming the model, the geometry's index
 * and the profile; v2.10's migProfileAllowlist restricts each model to its listed profiles (hami-allowlist.ts).
 * Bad input is a Result error naming the field, never an exception.
 */
import { parseDocument } from 'yaml';
import { ajv, validationError } from '../api/index.js';
import { TesseraError, err, ok, type Result } from '../errors.js';
import { placeGeometry, resolveGpuModel, type GpuModel, type MigGeometry, type MigRestriction } from '../geometry/index.js';
import { allowlistGeometries, allowlistNotices, allowlistProfileNames, type MigProfileAllowlistEntry } from './hami-allowlist.js';

export type { MigProfileAllowlistEntry } from './hami-allowlist.js';

/**
 * One instance kind of a HAMi geometry: profile name, its memory (MiB, as HAMi matches requests), how many, and
 * (v2.9) the core share HAMi records for such an instance.
 */
export interface GeometryEntry {
  name: string;
  memory: number;
  count: number;
  core?: number;
}

/** Something in the config Tessera accepts but does not apply, reported once where the config is loaded. */
export interface ConfigNotice {
  field: string;
  message: string;
}

/** HAMi-core's core-limit policy (`GPU_CORE_UTILIZATION_POLICY`). */
export const GPU_CORE_POLICIES = ['default', 'force', 'disable'] as const;
export type GpuCorePolicy = (typeof GPU_CORE_POLICIES)[number];
/** HAMi's node operating modes; `mps` shares GPUs through CUDA MPS. */
export const HAMI_OPERATING_MODES = ['hami-core', 'mig', 'mps'] as const;
export type HamiOperatingMode = (typeof HAMI_OPERATING_MODES)[number];
export const MIG_STRATEGIES = ['none', 'single', 'mixed'] as const;

export interface KnownMigGeometries {
  /** Model names as nodes report them (any spelling `resolveGpuModel` accepts). */
  models: string[];
  /** Allowed geometries in preference order (HAMi v2.9 picks the first that fits). */
  allowedGeometries: GeometryEntry[][];
}

export interface NvidiaDeviceConfig {
  resourceCountName: string;
  resourceMemoryName: string;
  resourceMemoryPercentageName: string;
  resourceCoreName: string;
  resourcePriorityName: string;
  /** HAMi: let the device plugin overwrite NVIDIA_VISIBLE_DEVICES even when the container sets it. */
  overwriteEnv: boolean;
  /** MiB per vGPU when a pod asks none; 0: the whole GPU's memory. */
  defaultMemory: number;
  defaultCores: number;
  defaultGPUNum: number;
  /** Most tasks sharing one GPU. */
  deviceSplitCount: number;
  deviceMemoryScaling: number;
  /** Cores each GPU registers: 100 x this (HAMi: sums of gpucores on one GPU may exceed 100 above 1). */
  deviceCoreScaling: number;
  /** Multiplier on the resourceMemoryName value a container asks (0 and 1: MiB as written). */
  memoryFactor: number;
  /** MiB registered for a GPU whose memory the driver cannot report (0: such a GPU is skipped). */
  preConfiguredDeviceMemory: number;
  gpuCorePolicy: GpuCorePolicy;
  /** HAMi-core's `LIBCUDA_LOG_LEVEL` (HAMi writes it as a number or a string). */
  libCudaLogLevel: number;
  /** RuntimeClass set on GPU pods that set none ('' sets none). */
  runtimeClassName: string;
  /** Advertise each GPU's NUMA node to kubelet's Topology Manager. */
  enableNumaTopology: boolean;
  /** HAMi's older switch to turn core limits off (gpuCorePolicy: disable replaces it). */
  disableCoreLimit: boolean;
  knownMigGeometries: KnownMigGeometries[];
  /** HAMi v2.10: per model, the only MIG profiles that may be created (the first entry naming a model decides). */
  migProfileAllowlist: MigProfileAllowlistEntry[];
}

/** One node's overrides (HAMi's device-plugin `nodeconfig`; keys are HAMi's lower-case JSON names). */
export interface NodeDeviceConfig {
  name: string;
  /** Default hami-core. */
  operatingmode?: HamiOperatingMode;
  devicesplitcount?: number;
  devicememoryscaling?: number;
  devicecorescaling?: number;
  preconfigureddevicememory?: number;
  libcudaloglevel?: number;
  enablenumatopology?: boolean;
  migstrategy?: (typeof MIG_STRATEGIES)[number];
  enablegetpreferredallocation?: boolean;
  filterdevices?: { uuid?: string[]; index?: number[] };
}

export interface DeviceConfig {
  nvidia: NvidiaDeviceConfig;
  nodeconfig: NodeDeviceConfig[];
  /** Accepted but not applied here (another vendor's section, an allowlist entry for a GPU Tessera lacks). */
  notices: ConfigNotice[];
}

/** The sections of HAMi's device config for other vendors' devices, as HAMi's chart renders them. */
export const OTHER_VENDOR_SECTIONS: Readonly<Record<string, string>> = {
  cambricon: 'Cambricon MLU',
  hygon: 'Hygon DCU',
  metax: 'MetaX GPU',
  enflame: 'Enflame GCU',
  mthreads: 'Moore Threads GPU',
  iluvatar: 'Iluvatar GPU',
  iluvatars: 'Iluvatar GPU',
  kunlun: 'Kunlunxin XPU',
  awsneuron: 'AWS Neuron',
  amd: 'AMD GPU',
  vastai: 'Vastai',
  biren: 'Biren GPU',
  vnpus: 'Huawei Ascend NPU',
};

/** Every default, HAMi's values. */
export const DEFAULT_DEVICE_CONFIG: DeviceConfig = {
  nvidia: {
    resourceCountName: 'nvidia.com/gpu',
    resourceMemoryName: 'nvidia.com/gpumem',
    resourceMemoryPercentageName: 'nvidia.com/gpumem-percentage',
    resourceCoreName: 'nvidia.com/gpucores',
    resourcePriorityName: 'nvidia.com/priority',
    overwriteEnv: false,
    defaultMemory: 0,
    defaultCores: 0,
    defaultGPUNum: 1,
    deviceSplitCount: 10,
    deviceMemoryScaling: 1,
    deviceCoreScaling: 1,
    memoryFactor: 1,
    preConfiguredDeviceMemory: 0,
    gpuCorePolicy: 'default',
    libCudaLogLevel: 1,
    runtimeClassName: '',
    enableNumaTopology: false,
    disableCoreLimit: false,
    knownMigGeometries: [],
    migProfileAllowlist: [],
  },
  nodeconfig: [],
  notices: [],
};

const resourceName = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(/[-A-Za-z0-9_.]+)?$' };
const count = { type: 'integer', minimum: 0, maximum: 1_000_000 };
const scaling = { type: 'number', exclusiveMinimum: 0, maximum: 100 };
const memoryMiB = { type: 'integer', minimum: 0, maximum: 16_777_216 };
// HAMi reads LIBCUDA_LOG_LEVEL into a string; its chart renders a number. HAMi-core knows 0 to 4.
const logLevel = {
  anyOf: [
    { type: 'integer', minimum: 0, maximum: 4 },
    { type: 'string', pattern: '^[0-4]$' },
  ],
};
const modelNames = { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } };

const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    nvidia: {
      type: 'object',
      additionalProperties: false,
      properties: {
        resourceCountName: resourceName,
        resourceMemoryName: resourceName,
        resourceMemoryPercentageName: resourceName,
        resourceCoreName: resourceName,
        resourcePriorityName: resourceName,
        overwriteEnv: { type: 'boolean' },
        defaultMemory: { type: 'integer', minimum: 0, maximum: 16_777_216 },
        defaultCores: { type: 'integer', minimum: 0, maximum: 100 },
        defaultGPUNum: { type: 'integer', minimum: 1, maximum: 1024 },
        deviceSplitCount: { type: 'integer', minimum: 1, maximum: 1024 },
        deviceMemoryScaling: scaling,
        deviceCoreScaling: scaling,
        memoryFactor: { type: 'integer', minimum: 0, maximum: 1_048_576 },
        preConfiguredDeviceMemory: memoryMiB,
        gpuCorePolicy: { enum: GPU_CORE_POLICIES },
        libCudaLogLevel: logLevel,
        runtimeClassName: { type: 'string', maxLength: 253, pattern: '^$|^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
        enableNumaTopology: { type: 'boolean' },
        disableCoreLimit: { type: 'boolean' },
        migProfileAllowlist: {
          type: 'array',
          maxItems: 256,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['models', 'profiles'],
            properties: {
              models: modelNames,
              // HAMi's rule: a '.', and before it at least two characters ending in 'g' (`1g.10gb`).
              profiles: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', maxLength: 64, pattern: '^[^.]+g\\.' } },
            },
          },
        },
        knownMigGeometries: {
          type: 'array',
          maxItems: 256,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['models', 'allowedGeometries'],
            properties: {
              models: modelNames,
              allowedGeometries: {
                type: 'array',
                minItems: 1,
                maxItems: 256,
                items: {
                  type: 'array',
                  minItems: 1,
                  maxItems: 16,
                  items: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['name', 'memory', 'count'],
                    properties: {
                      name: { type: 'string', minLength: 1, maxLength: 64 },
                      memory: { type: 'integer', minimum: 1, maximum: 16_777_216 },
                      count: { type: 'integer', minimum: 1, maximum: 8 },
                      core: { type: 'integer', minimum: 0, maximum: 100 },
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    nodeconfig: {
      type: 'array',
      maxItems: 100_000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 253 },
          operatingmode: { enum: HAMI_OPERATING_MODES },
          devicesplitcount: { type: 'integer', minimum: 1, maximum: 1024 },
          devicememoryscaling: scaling,
          devicecorescaling: scaling,
          preconfigureddevicememory: memoryMiB,
          libcudaloglevel: logLevel,
          enablenumatopology: { type: 'boolean' },
          migstrategy: { enum: MIG_STRATEGIES },
          enablegetpreferredallocation: { type: 'boolean' },
          filterdevices: {
            type: 'object',
            additionalProperties: false,
            properties: {
              uuid: { type: 'array', maxItems: 1024, items: { type: 'string', minLength: 1, maxLength: 128 } },
              index: { type: 'array', maxItems: 1024, items: count },
            },
          },
        },
      },
    },
    // Another vendor's section: any shape HAMi gives it; not read.
    ...Object.fromEntries(Object.keys(OTHER_VENDOR_SECTIONS).map((key) => [key, { anyOf: [{ type: 'object' }, { type: 'array' }, { type: 'null' }] }])),
  },
} as const;

type LogLevelInput = number | string;
type NodeInput = Omit<NodeDeviceConfig, 'libcudaloglevel'> & { libcudaloglevel?: LogLevelInput };
type DeviceConfigInput = {
  nvidia?: Partial<Omit<NvidiaDeviceConfig, 'libCudaLogLevel'>> & { libCudaLogLevel?: LogLevelInput };
  nodeconfig?: NodeInput[];
} & Record<string, unknown>;

const checkSchema = ajv.compile<DeviceConfigInput>(schema);

/** A HAMi geometry as the engine's MigGeometry. */
export function toMigGeometry(entries: readonly GeometryEntry[]): MigGeometry {
  return entries.map((e) => ({ profile: e.name, count: e.count }));
}

/** Validates a parsed device config (e.g. from a ConfigMap) and fills in the defaults. */
export function parseDeviceConfig(input: unknown): Result<DeviceConfig> {
  const value = input ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    return err(new TesseraError('INVALID_CONFIG', 'must be a mapping with nvidia: and nodeconfig:', { field: 'device-config' }));
  }
  if (!checkSchema(value)) {
    const error = validationError(checkSchema.errors, '', 'INVALID_CONFIG');
    // A key ajv cannot name (the empty key) still gets a field: the document itself.
    return err(error.field ? error : new TesseraError('INVALID_CONFIG', `${error.message} (a key is empty)`, { field: 'device-config' }));
  }
  const { libCudaLogLevel, ...nvidia } = value.nvidia ?? {};
  const config: DeviceConfig = {
    nvidia: { ...DEFAULT_DEVICE_CONFIG.nvidia, ...nvidia, ...(libCudaLogLevel === undefined ? {} : { libCudaLogLevel: Number(libCudaLogLevel) }) },
    nodeconfig: (value.nodeconfig ?? []).map(({ libcudaloglevel, ...node }) => ({ ...node, ...(libcudaloglevel === undefined ? {} : { libcudaloglevel: Number(libcudaloglevel) }) })),
    notices: [
      ...Object.keys(value)
        .filter((key) => key in OTHER_VENDOR_SECTIONS)
        .map((key) => ({ field: key, message: `${OTHER_VENDOR_SECTIONS[key] ?? key} section: not applicable to Tessera, which schedules NVIDIA GPUs only` })),
    ],
  };
  const geometriesChecked = checkKnownGeometries(config.nvidia.knownMigGeometries);
  if (!geometriesChecked.ok) return geometriesChecked;
  const seen = new Set<string>();
  for (const notice of allowlistNotices(config.nvidia.migProfileAllowlist)) {
    const key = `${notice.field}\n${notice.message}`;
    if (!seen.has(key)) config.notices.push(notice);
    seen.add(key);
  }
  const names = new Set<string>();
  for (const [i, node] of config.nodeconfig.entries()) {
    if (names.has(node.name)) return err(new TesseraError('INVALID_CONFIG', `node '${node.name}' is configured twice`, { field: `nodeconfig.${i}.name` }));
    names.add(node.name);
  }
  return ok(config);
}

/** Every model resolves to a MIG model, and every geometry can be placed on it. */
function checkKnownGeometries(known: readonly KnownMigGeometries[]): Result<void> {
  for (const [i, entry] of known.entries()) {
    for (const [j, name] of entry.models.entries()) {
      const field = `nvidia.knownMigGeometries.${i}.models.${j}`;
      const model = resolveGpuModel(name);
      if (!model.ok) return err(new TesseraError('INVALID_CONFIG', model.error.message.replace(/^model: /, ''), { field }));
      if (!model.value.mig) return err(new TesseraError('INVALID_CONFIG', `${model.value.name} has no MIG`, { field }));
      for (const [g, geometry] of entry.allowedGeometries.entries()) {
        const placed = placeGeometry(model.value, toMigGeometry(geometry));
        if (!placed.ok) {
          return err(
            new TesseraError('INVALID_CONFIG', `model ${model.value.name}, geometry ${g}: ${placed.error.message}`, {
              field: `nvidia.knownMigGeometries.${i}.allowedGeometries.${g}`,
            }),
          );
        }
      }
    }
  }
  return ok(undefined);
}

/** Logs each notice once, as a structured warning (`field`, `notice`), where a command loads the config. */
export function reportNotices(config: DeviceConfig, log: { warn(object: object, message: string): void }): void {
  for (const notice of config.notices) log.warn({ field: notice.field, notice: notice.message }, 'device config: accepted, not applied');
}

/** Parses and validates device-config YAML text. */
export function loadDeviceConfig(yamlText: string): Result<DeviceConfig> {
  if (typeof yamlText !== 'string') return err(new TesseraError('INVALID_CONFIG', 'must be YAML text', { field: 'device-config' }));
  const doc = parseDocument(yamlText, { uniqueKeys: true });
  const problem = doc.errors[0];
  if (problem) return err(new TesseraError('INVALID_CONFIG', `is not valid YAML (${problem.message.split('\n')[0] ?? ''})`, { field: 'device-config' }));
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    return err(new TesseraError('INVALID_CONFIG', `is not valid YAML (${(cause as Error).message})`, { field: 'device-config', cause }));
  }
  return parseDeviceConfig(value);
}

const names =
  (model: GpuModel) =>
  (name: string): boolean => {
    const resolved = resolveGpuModel(name);
    return resolved.ok && resolved.value.name === model.name;
  };

/**
 * The geometries the operator allows on `model`, or undefined when the config does not restrict it. Config model
 * names match the model after normalisation (`A100-40GB` restricts `A100-SXM4-40GB`). knownMigGeometries (v2.9)
 * gives whole geometries in config order; else the first migProfileAllowlist entry (v2.10) naming the model gives
 * every geometry made of its listed profiles, so any layout of those profiles, and only those, is allowed.
 */
export function allowedGeometriesFor(config: DeviceConfig, model: GpuModel): MigGeometry[] | undefined {
  const known = knownGeometriesFor(config, model);
  if (known) return known;
  const allowlisted = allowlistFor(config, model);
  return allowlisted ? allowlistGeometries(model, allowlisted.profiles) : undefined;
}

const knownGeometriesFor = (config: DeviceConfig, model: GpuModel): MigGeometry[] | undefined =>
  config.nvidia.knownMigGeometries.find((entry) => entry.models.some(names(model)))?.allowedGeometries.map(toMigGeometry);
const allowlistFor = (config: DeviceConfig, model: GpuModel): MigProfileAllowlistEntry | undefined => config.nvidia.migProfileAllowlist.find((entry) => entry.models.some(names(model)));

/**
 * How the config restricts MIG plans on `model`, as the planner takes it, or undefined when it does not: v2.9's
 * knownMigGeometries as whole geometries; v2.10's migProfileAllowlist as the set of profiles plans may use, so
 * the planner filters profiles instead of matching every layout of them against each plan. Any placeable layout of
 * listed profiles is allowed either way; as a profile set, no plan also creates instances beside its target.
 */
export function migRestrictionFor(config: DeviceConfig, model: GpuModel): MigRestriction | undefined {
  const known = knownGeometriesFor(config, model);
  if (known) return { allowedGeometries: known };
  const allowlisted = allowlistFor(config, model);
  return allowlisted ? { allowedProfiles: allowlistProfileNames(model, allowlisted.profiles) } : undefined;
}
