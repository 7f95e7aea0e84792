/**
 * JSON schemas of the two topology ConfigMap formats, as they appear in YAML. The seeds' format is kebab-case and
 * holds every node in one ConfigMap; the fake GPU operator's newer format is camelCase, with a cluster ConfigMap
 * (pools) and one ConfigMap per node. Tessera's additions (health, failMigOperations, driverVersion, dynamicMig,
 * MIG placement and instance IDs) are optional in both, so files written for either operator load unchanged.
 */
import { MIG_STRATEGIES } from '../api/index.js';

export const HEALTH = ['Healthy', 'Unhealthy'] as const;

const name = { type: 'string', minLength: 1, maxLength: 253 } as const;
const count = { type: 'integer', minimum: 0 } as const;
const memoryMiB = { type: 'integer', minimum: 1, maximum: 16 * 1024 * 1024 } as const;
const percent = { type: 'integer', minimum: 0, maximum: 100 } as const;
/** DNS-1123 subdomain, what Kubernetes accepts as a node name. */
const nodeName = { type: 'string', maxLength: 253, pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$' } as const;
const deviceId = { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^,:;\\s]+$' } as const;
/** Map keys (pool names, usage keys): no `__proto__`-like names can reach the plain objects the model is built in. */
const mapKey = { type: 'string', maxLength: 253, pattern: '^[A-Za-z0-9][A-Za-z0-9._/-]*$' } as const;

/** Builds the status schemas for one key style (`kebab`: `allocated-by`; `camel`: `allocatedBy`). */
function statusSchemas(keys: { allocatedBy: string; usage: string; fbUsed: string; inference: string }) {
  const containerRef = {
    type: 'object',
    additionalProperties: false,
    required: ['namespace', 'pod', 'container'],
    properties: { namespace: name, pod: name, container: name },
  } as const;
  const usage = {
    type: 'object',
    additionalProperties: false,
    required: ['utilization', keys.fbUsed],
    properties: {
      utilization: { type: 'object', additionalProperties: false, required: ['min', 'max'], properties: { min: percent, max: percent } },
      [keys.fbUsed]: count,
      [keys.inference]: { type: 'boolean' },
      [keys.allocatedBy]: containerRef,
    },
  } as const;
  const status = {
    type: 'object',
    additionalProperties: false,
    properties: {
      [keys.allocatedBy]: { anyOf: [containerRef, { type: 'null' }] },
      [keys.usage]: { type: ['object', 'null'], maxProperties: 1024, propertyNames: mapKey, additionalProperties: usage },
    },
  } as const;
  return { containerRef, status };
}

const kebab = statusSchemas({ allocatedBy: 'allocated-by', usage: 'pod-gpu-usage-status', fbUsed: 'fb-used', inference: 'is-inference-pod' });
const camel = statusSchemas({ allocatedBy: 'allocatedBy', usage: 'podGpuUsageStatus', fbUsed: 'fbUsed', inference: 'isInferencePod' });

// ------------------------------------------------------------------------------------------------------------
// The seeds' format: ConfigMap `topology`, key `topology.yml`, every node inline.

const legacyMigDevice = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    id: deviceId,
    name,
    position: count,
    'gpu-instance-id': count,
    status: { anyOf: [kebab.status, { type: 'null' }] },
  },
} as const;

const legacyGpu = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: {
    id: deviceId,
    health: { enum: HEALTH },
    'fail-mig-operations': { type: 'boolean' },
    // Seed 001's first shape: one container and a single utilization figure per GPU.
    metrics: {
      type: 'object',
      additionalProperties: false,
      required: ['metadata', 'utilization', 'fb-used'],
      properties: { metadata: kebab.containerRef, utilization: percent, 'fb-used': count },
    },
    status: { anyOf: [kebab.status, { type: 'null' }] },
    'mig-devices': { type: ['array', 'null'], maxItems: 64, items: legacyMigDevice },
  },
} as const;

export const legacyTopologySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['nodes'],
  properties: {
    'mig-strategy': { enum: MIG_STRATEGIES },
    nodes: {
      type: 'object',
      maxProperties: 10000,
      propertyNames: nodeName,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['gpu-count', 'gpu-memory', 'gpu-product'],
        properties: {
          'gpu-count': { type: 'integer', minimum: 0, maximum: 64 },
          'gpu-memory': memoryMiB,
          'gpu-product': name,
          'is-dynamic-mig-enabled': { type: 'boolean' },
          'mig-strategy': { enum: MIG_STRATEGIES },
          'driver-version': name,
          health: { enum: HEALTH },
          'fail-mig-operations': { type: 'boolean' },
          gpus: { type: ['array', 'null'], maxItems: 64, items: legacyGpu },
        },
      },
    },
  },
} as const;

// ------------------------------------------------------------------------------------------------------------
// The newer format: cluster ConfigMap `topology` and per node `topology-<node>`, both under key `topology.yml`.

export const clusterTopologySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    migStrategy: { enum: MIG_STRATEGIES },
    nodePoolLabelKey: name,
    nodePools: {
      type: ['object', 'null'],
      maxProperties: 1000,
      propertyNames: mapKey,
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['gpuProduct', 'gpuCount', 'gpuMemory'],
        properties: {
          gpuProduct: name,
          gpuCount: { type: 'integer', minimum: 0, maximum: 64 },
          gpuMemory: memoryMiB,
          driverVersion: name,
          migStrategy: { enum: MIG_STRATEGIES },
          dynamicMig: { type: 'boolean' },
        },
      },
    },
  },
} as const;

const migDevice = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: {
    id: deviceId,
    name,
    position: count,
    gpuInstanceId: count,
    status: { anyOf: [camel.status, { type: 'null' }] },
  },
} as const;

export const nodeTopologySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['gpuProduct', 'gpuMemory'],
  properties: {
    gpuProduct: name,
    gpuMemory: memoryMiB,
    driverVersion: name,
    migStrategy: { enum: MIG_STRATEGIES },
    dynamicMig: { type: 'boolean' },
    health: { enum: HEALTH },
    failMigOperations: { type: 'boolean' },
    gpus: {
      type: ['array', 'null'],
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id: deviceId,
          health: { enum: HEALTH },
          failMigOperations: { type: 'boolean' },
          status: { anyOf: [camel.status, { type: 'null' }] },
          migDevices: { type: ['array', 'null'], maxItems: 64, items: migDevice },
        },
      },
    },
  },
} as const;
