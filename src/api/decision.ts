/**
 * The scheduling decision recorded on a pod: which GPUs each container gets, how much memory and how many cores,
 * and for MIG the instance to use and the plan that creates it. The extender writes it at bind (signed, see
 * `signing.ts`); the device plugin reads it at Allocate and fills in what it learns while creating MIG instances.
 */
import { TesseraError } from '../errors.js';
import { NODE_MODES, TESSERA_API_VERSION, TESSERA_POD, type NodeMode } from './annotations.js';
import { compileChecker, parseJson } from './validate.js';

export const DECISION_KIND = 'GpuDecision';

/** One step of a MIG reconfiguration on one GPU, in the order the device plugin must apply them. */
/** One step of a MIG plan, in order (destroys, then creates): what the engine plans and `nvidia-smi mig` runs. */
export interface MigOp {
  action: 'create' | 'destroy';
  /** Profile name as NVIDIA spells it (`1g.10gb`, `3g.40gb`). */
  profile: string;
  /** First memory slice of the instance (its placement start). */
  start: number;
}

export interface MigAssignment {
  profile: string;
  start: number;
  /** Every change this GPU needs before the instance exists (empty when the instance is already there). */
  plan: MigOp[];
  /** Filled by the device plugin once the instance exists. */
  migDeviceUuid?: string;
  /** Filled by the device plugin once the instance exists. */
  gpuInstanceId?: number;
}

export interface DecisionDevice {
  /** Physical GPU UUID (`GPU-...`). */
  uuid: string;
  /** GPU index on the node (nvidia-smi order). */
  index: number;
  memoryMiB: number;
  /** Share of the GPU's SMs in percent (100 = exclusive). */
  cores: number;
  mig?: MigAssignment;
}

export interface DecisionContainer {
  name: string;
  /** Empty for containers that ask for no GPU. */
  devices: DecisionDevice[];
}

export interface Decision {
  apiVersion: typeof TESSERA_API_VERSION;
  kind: typeof DECISION_KIND;
  pod: { uid: string; namespace: string; name: string };
  node: string;
  mode: NodeMode;
  /** Init containers, then app containers, in pod spec order (HAMi's order). */
  containers: DecisionContainer[];
  /** The pod's peak CPU (milli) and memory (MiB) as the allocator counted them, so a restart counts them again. */
  resources?: { cpuMilli: number; memoryMiB: number };
  /** RFC 3339 time of the decision. */
  decidedAt: string;
  /**
   * Set by the device plugin when this grant was exchanged with another pod's (uid): the exchange lands as one
   * write per pod, and the scheduler applies it only once both have arrived.
   */
  exchangedWith?: string;
  /** Ed25519 signature (base64url) over the granted part of the decision; see `signing.ts`. */
  signature?: string;
}

const nonEmpty = { type: 'string', minLength: 1, maxLength: 253 } as const;
const count = { type: 'integer', minimum: 0 } as const;

const migPlanOpSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['action', 'profile', 'start'],
  properties: { action: { enum: ['create', 'destroy'] }, profile: nonEmpty, start: count },
} as const;

const deviceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['uuid', 'index', 'memoryMiB', 'cores'],
  properties: {
    uuid: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[^,:;\\s]+$' },
    index: count,
    memoryMiB: count,
    cores: { type: 'integer', minimum: 0, maximum: 100 },
    mig: {
      type: 'object',
      additionalProperties: false,
      required: ['profile', 'start', 'plan'],
      properties: {
        profile: nonEmpty,
        start: count,
        plan: { type: 'array', items: migPlanOpSchema, maxItems: 64 },
        migDeviceUuid: nonEmpty,
        gpuInstanceId: count,
      },
    },
  },
} as const;

export const decisionSchema = {
  $id: 'https://tessera.io/schemas/v1/decision.json',
  type: 'object',
  additionalProperties: false,
  required: ['apiVersion', 'kind', 'pod', 'node', 'mode', 'containers', 'decidedAt'],
  properties: {
    apiVersion: { const: TESSERA_API_VERSION },
    kind: { const: DECISION_KIND },
    pod: {
      type: 'object',
      additionalProperties: false,
      required: ['uid', 'namespace', 'name'],
      properties: { uid: nonEmpty, namespace: nonEmpty, name: nonEmpty },
    },
    node: nonEmpty,
    mode: { enum: NODE_MODES },
    containers: {
      type: 'array',
      maxItems: 256,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'devices'],
        properties: { name: nonEmpty, devices: { type: 'array', items: deviceSchema, maxItems: 64 } },
      },
    },
    resources: {
      type: 'object',
      additionalProperties: false,
      required: ['cpuMilli', 'memoryMiB'],
      properties: { cpuMilli: count, memoryMiB: count },
    },
    decidedAt: { type: 'string', format: 'date-time' },
    exchangedWith: nonEmpty,
    signature: { type: 'string', pattern: '^[A-Za-z0-9_-]{86}$' },
  },
} as const;

const checkDecision = compileChecker<Decision>(decisionSchema, TESSERA_POD.decision);

/** Checks an already-parsed value against the decision schema. */
export function validateDecision(value: unknown): Decision {
  return checkDecision(value);
}

/** The annotation value for a decision (compact JSON). */
export function encodeDecision(decision: Decision): string {
  return JSON.stringify(validateDecision(decision));
}

/** Parses and validates a `tessera.io/decision` annotation; a malformed one is an error naming the field. */
export function decodeDecision(text: string): Decision {
  if (text.length > 256 * 1024) throw new TesseraError('INVALID_INPUT', 'is larger than 256 KiB', { field: TESSERA_POD.decision });
  return validateDecision(parseJson(text, TESSERA_POD.decision));
}
