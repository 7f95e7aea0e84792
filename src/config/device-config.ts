/**
 * HAMi's device config (`device-config.yaml`: the `nvidia:` section and `nodeconfig:`), validated by one JSON
 * schema (`additionalProperties: false`) with every default in DEFAULT_DEVICE_CONFIG. Each knownMigGeometries
 * geometry is also placed on each of its models, so a geometry the GPU cannot hold is rejected at load, naming the
 * model, the geometry's index and the profile. Bad input is a Result error naming the field, never an exception.
 */
import { parseDocument } from 'yaml';
import { ajv, validationError } from '../api/validate.js';
import { TesseraError, err, ok, type Result } from '../errors.js';
import { placeGeometry, resolveGpuModel, type GpuModel, type MigGeometry } from '../geometry/index.js';

/** One instance kind of a HAMi geometry: profile name, its memory (MiB, as HAMi matches requests), how many. */
export interface GeometryEntry {
  name: string;
  memory: number;
  count: number;
}

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
  deviceCoreScaling: number;
  knownMigGeometries: KnownMigGeometries[];
}

export interface NodeDeviceConfig {
  name: string;
  operatingmode: 'hami-core' | 'mig';
  devicesplitcount?: number;
  devicememoryscaling?: number;
  devicecorescaling?: number;
  filterdevices?: { uuid?: string[]; index?: number[] };
}

export interface DeviceConfig {
  nvidia: NvidiaDeviceConfig;
  nodeconfig: NodeDeviceConfig[];
}

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
    knownMigGeometries: [],
  },
  nodeconfig: [],
};

const resourceName = { type: 'string', minLength: 1, maxLength: 253, pattern: '^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?(/[-A-Za-z0-9_.]+)?$' };
const count = { type: 'integer', minimum: 0, maximum: 1_000_000 };
const scaling = { type: 'number', exclusiveMinimum: 0, maximum: 100 };

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
        knownMigGeometries: {
          type: 'array',
          maxItems: 256,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['models', 'allowedGeometries'],
            properties: {
              models: { type: 'array', minItems: 1, maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 256 } },
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
        required: ['name', 'operatingmode'],
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 253 },
          operatingmode: { enum: ['hami-core', 'mig'] },
          devicesplitcount: { type: 'integer', minimum: 1, maximum: 1024 },
          devicememoryscaling: scaling,
          devicecorescaling: scaling,
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
  },
} as const;

type DeviceConfigInput = { nvidia?: Partial<NvidiaDeviceConfig>; nodeconfig?: NodeDeviceConfig[] };

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
  const config: DeviceConfig = {
    nvidia: { ...DEFAULT_DEVICE_CONFIG.nvidia, ...value.nvidia },
    nodeconfig: value.nodeconfig ?? [],
  };
  const geometriesChecked = checkKnownGeometries(config.nvidia.knownMigGeometries);
  if (!geometriesChecked.ok) return geometriesChecked;
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

/**
 * The geometries the operator allows on `model` (in config order), or undefined when the config does not restrict
 * it. Config model names match the model after normalisation (`A100-40GB` restricts `A100-SXM4-40GB`).
 */
export function allowedGeometriesFor(config: DeviceConfig, model: GpuModel): MigGeometry[] | undefined {
  for (const entry of config.nvidia.knownMigGeometries) {
    const matches = entry.models.some((name) => {
      const resolved = resolveGpuModel(name);
      return resolved.ok && resolved.value.name === model.name;
    });
    if (matches) return entry.allowedGeometries.map(toMigGeometry);
  }
  return undefined;
}
