/**
 * run:ai's dynamic-MIG protocol (seed 000), so the fake operator works beside run:ai's scheduler: the node
 * annotation `run.ai/mig.config` (the mig-parted-style geometry asked for, with positions), the node annotation
 * `run.ai/mig-mapping` (device UUIDs and GPU instance IDs by GPU index and position, JSON or base64 JSON), and
 * the pod annotation `runai-mig-device` (the instance a pod holds). Pure parsers: text in, value or a
 * field-naming error out.
 */
import { parse as parseYaml } from 'yaml';
import { TesseraError } from '../errors.js';
import type { ValidateFunction } from 'ajv';
import { ajv, validationError } from '../api/index.js';

export const RUNAI = {
  migConfig: 'run.ai/mig.config',
  migMapping: 'run.ai/mig-mapping',
  podMigDevice: 'runai-mig-device',
  dynamicMigLabel: 'node-role.kubernetes.io/runai-dynamic-mig',
  migEnabledLabel: 'node-role.kubernetes.io/runai-mig-enabled',
} as const;

/** One instance the geometry asks for: profile at a memory-slice position on GPU `gpuIndex`. */
export interface RunaiMigInstance {
  gpuIndex: number;
  profile: string;
  position: number;
}

export interface RunaiMapping {
  gpuIndex: number;
  position: number;
  deviceUuid: string;
  /** Null when the mapping does not say (older run:ai versions). */
  gpuInstanceId: number | null;
}

export interface RunaiPodMigDevice {
  gpuIndex: number;
  position: number;
  profile: string;
  deviceUuid: string | null;
}

const index = {
  anyOf: [
    { type: 'integer', minimum: 0, maximum: 63 },
    { type: 'string', pattern: '^[0-9]{1,2}$' },
  ],
} as const;

const migConfigSchema = {
  type: 'object',
  required: ['mig-configs'],
  properties: {
    version: { type: 'string' },
    'mig-configs': {
      type: 'object',
      required: ['selected'],
      properties: {
        selected: {
          type: 'array',
          maxItems: 64,
          items: {
            type: 'object',
            required: ['devices', 'mig-enabled'],
            properties: {
              devices: { anyOf: [{ const: 'all' }, { type: 'array', maxItems: 64, items: index }] },
              'mig-enabled': { type: 'boolean' },
              'mig-devices': {
                type: ['array', 'null'],
                maxItems: 64,
                items: {
                  type: 'object',
                  required: ['name', 'position'],
                  properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, position: { type: 'integer', minimum: 0, maximum: 7 }, size: { type: 'integer', minimum: 1, maximum: 8 } },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

const migMappingSchema = {
  type: 'object',
  maxProperties: 64,
  propertyNames: { pattern: '^[0-9]{1,2}$' },
  additionalProperties: {
    type: 'array',
    maxItems: 64,
    items: {
      type: 'object',
      required: ['position', 'device_uuid'],
      properties: {
        position: { type: 'integer', minimum: 0, maximum: 7 },
        device_uuid: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^,:;\\s]+$' },
        gpu_instance_id: { type: 'integer', minimum: 0 },
      },
    },
  },
} as const;

const podMigDeviceSchema = {
  type: 'object',
  required: ['name', 'position', 'gpuindex'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    position: { type: 'integer', minimum: 0, maximum: 7 },
    gpuindex: index,
    deviceUUID: { type: 'string', minLength: 1, maxLength: 128 },
  },
} as const;

const checkMigConfig = ajv.compile(migConfigSchema);
const checkMigMapping = ajv.compile(migMappingSchema);
const checkPodMigDevice = ajv.compile(podMigDeviceSchema);

function invalid(message: string, field: string, cause?: unknown): TesseraError {
  return new TesseraError('INVALID_INPUT', message, { field, cause });
}

function validated<T>(check: ValidateFunction, value: unknown, field: string): T {
  if (check(value)) return value as T;
  throw validationError(check.errors, field);
}

/**
 * Parses `run.ai/mig.config` (YAML, mig-parted's `mig-configs.selected` list). `gpuCount` expands `devices: all`.
 * Instances come out in GPU order, then position order.
 */
export function parseMigConfig(text: string, gpuCount: number): RunaiMigInstance[] {
  let value: unknown;
  try {
    value = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100, logLevel: 'error' });
  } catch (cause) {
    throw invalid(`is not valid YAML (${(cause as Error).message.split('\n')[0]})`, RUNAI.migConfig, cause);
  }
  type Selected = { devices: 'all' | Array<number | string>; 'mig-enabled': boolean; 'mig-devices'?: Array<{ name: string; position: number }> | null };
  const config = validated<{ 'mig-configs': { selected: Selected[] } }>(checkMigConfig, value, RUNAI.migConfig);
  const instances: RunaiMigInstance[] = [];
  config['mig-configs'].selected.forEach((selected, s) => {
    const gpus = selected.devices === 'all' ? Array.from({ length: gpuCount }, (_, i) => i) : selected.devices.map(Number);
    gpus.forEach((gpuIndex, d) => {
      if (gpuIndex >= gpuCount) throw invalid(`names GPU ${gpuIndex} but the node has ${gpuCount}`, `${RUNAI.migConfig}.mig-configs.selected.${s}.devices.${d}`);
      if (!selected['mig-enabled']) return;
      for (const device of selected['mig-devices'] ?? []) instances.push({ gpuIndex, profile: device.name, position: device.position });
    });
  });
  return instances.sort((a, b) => a.gpuIndex - b.gpuIndex || a.position - b.position);
}

/** Parses `run.ai/mig-mapping`: JSON, or base64 of JSON (as run:ai's MIG provisioner writes it). */
export function parseMigMapping(text: string): RunaiMapping[] {
  const trimmed = text.trim();
  const json = trimmed.startsWith('{') ? trimmed : Buffer.from(trimmed, 'base64').toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(json) as unknown;
  } catch (cause) {
    throw invalid('is neither JSON nor base64 of JSON', RUNAI.migMapping, cause);
  }
  const mapping = validated<Record<string, Array<{ position: number; device_uuid: string; gpu_instance_id?: number }>>>(checkMigMapping, value, RUNAI.migMapping);
  return Object.entries(mapping).flatMap(([gpu, devices]) =>
    devices.map((d) => ({ gpuIndex: Number(gpu), position: d.position, deviceUuid: d.device_uuid, gpuInstanceId: d.gpu_instance_id ?? null })),
  );
}

/** Parses a pod's `runai-mig-device` annotation; the profile loses run:ai's `nvidia.com/mig-` resource prefix. */
export function parsePodMigDevice(text: string): RunaiPodMigDevice {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (cause) {
    throw invalid('is not valid JSON', RUNAI.podMigDevice, cause);
  }
  const device = validated<{ name: string; position: number; gpuindex: number | string; deviceUUID?: string }>(checkPodMigDevice, value, RUNAI.podMigDevice);
  return {
    gpuIndex: Number(device.gpuindex),
    position: device.position,
    profile: device.name.replace(/^nvidia\.com\/mig-/, ''),
    deviceUuid: device.deviceUUID ?? null,
  };
}
