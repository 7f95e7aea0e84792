/**
 * The node inventory the device plugin publishes on its Node (`tessera.io/node-inventory`): the GPUs as the
 * driver reports them, their health, and for MIG GPUs the instances that exist now. The extender rebuilds the
 * allocator's view of each node from it.
 */
import { TesseraError } from '../errors.js';
import { NODE_MODES, TESSERA_API_VERSION, TESSERA_NODE, type NodeMode } from './annotations.js';
import { compileChecker, parseJson } from './validate.js';

export const INVENTORY_KIND = 'NodeInventory';

export interface InventoryMigInstance {
  profile: string;
  /** Placement start (first memory slice). */
  start: number;
  gpuInstanceId: number;
  migDeviceUuid: string;
}

export interface InventoryGpu {
  uuid: string;
  index: number;
  /** Product name exactly as the driver reports it (`NVIDIA A100-SXM4-80GB`); resolve it with the GPU catalog. */
  model: string;
  memoryMiB: number;
  /** Core units the GPU offers (100 = the whole GPU, before deviceCoreScaling). */
  coreUnits: number;
  /** NUMA node, or null when the platform reports none. */
  numa: number | null;
  health: 'Healthy' | 'Unhealthy';
  mig: { enabled: boolean; instances: InventoryMigInstance[] };
}

export interface NodeInventory {
  apiVersion: typeof TESSERA_API_VERSION;
  kind: typeof INVENTORY_KIND;
  node: string;
  mode: NodeMode;
  /** Most tasks one GPU may hold (HAMi's deviceSplitCount after nodeconfig). */
  splitCount: number;
  gpus: InventoryGpu[];
  /** RFC 3339 time the device plugin read the GPUs. */
  observedAt: string;
}

const name = { type: 'string', minLength: 1, maxLength: 253 } as const;
const count = { type: 'integer', minimum: 0 } as const;

export const inventorySchema = {
  $id: 'https://tessera.io/schemas/v1/node-inventory.json',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'node', 'mode', 'splitCount', 'gpus', 'observedAt'],
  properties: {
    apiVersion: { const: TESSERA_API_VERSION },
    kind: { const: INVENTORY_KIND },
    node: name,
    mode: { enum: NODE_MODES },
    splitCount: { type: 'integer', minimum: 1, maximum: 1024 },
    gpus: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['uuid', 'index', 'model', 'memoryMiB', 'coreUnits', 'numa', 'health', 'mig'],
        properties: {
          uuid: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^,:;\\s]+$' },
          index: count,
          model: name,
          memoryMiB: { type: 'integer', minimum: 1 },
          coreUnits: { type: 'integer', minimum: 1 },
          numa: { type: ['integer', 'null'], minimum: 0 },
          health: { enum: ['Healthy', 'Unhealthy'] },
          mig: {
            type: 'object',
            additionalProperties: false,
            required: ['enabled', 'instances'],
            properties: {
              enabled: { type: 'boolean' },
              instances: {
                type: 'array',
                maxItems: 64,
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['profile', 'start', 'gpuInstanceId', 'migDeviceUuid'],
                  properties: { profile: name, start: count, gpuInstanceId: count, migDeviceUuid: name },
                },
              },
            },
          },
        },
      },
    },
    observedAt: { type: 'string', format: 'date-time' },
  },
} as const;

const checkInventory = compileChecker<NodeInventory>(inventorySchema, TESSERA_NODE.inventory);

export function validateInventory(value: unknown): NodeInventory {
  const inventory = checkInventory(value);
  const seen = new Set<string>();
  inventory.gpus.forEach((gpu, i) => {
    if (seen.has(gpu.uuid)) throw new TesseraError('INVALID_INPUT', `repeats GPU ${gpu.uuid}`, { field: `${TESSERA_NODE.inventory}.gpus.${i}.uuid` });
    seen.add(gpu.uuid);
  });
  return inventory;
}

export function encodeInventory(inventory: NodeInventory): string {
  return JSON.stringify(validateInventory(inventory));
}

/** Parses and validates a `tessera.io/node-inventory` annotation; a malformed one is an error naming the field. */
export function decodeInventory(text: string): NodeInventory {
  if (text.length > 1024 * 1024) throw new TesseraError('INVALID_INPUT', 'is larger than 1 MiB', { field: TESSERA_NODE.inventory });
  return validateInventory(parseJson(text, TESSERA_NODE.inventory));
}
