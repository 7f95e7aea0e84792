/**
 * The scheduling decision recorded on a pod, and its one owner: which GPUs each container gets, how much memory and
 * how many cores, and for MIG the instance to use and the plan that creates it. The extender builds it from the
 * allocator's grant, signs and encodes it here in one call (`signedDecision`); the device plugin decodes and
 * verifies it here, and fills in what it learns while creating MIG instances.
 *
 * Decisions are signed so that the device plugin can refuse one nobody granted: a user who writes the decision
 * annotation on their own pod has no key and gets nothing. Signatures are Ed25519 (the keys: `signing.ts`): the
 * scheduler alone holds the private key that signs decisions; device plugins hold its public key. Each device
 * plugin also has its own key pair for what only it may write about its own node: a grant it exchanged between
 * interchangeable pods, and the release of a grant it could not honour. A signature covers a canonical encoding of
 * what is granted (pod UID, node, mode and every device with its share and MIG placement), not the fields the
 * device plugin fills in later (MIG device UUID, GPU-instance ID).
 */
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { TesseraError } from '../errors.js';
import { NODE_MODES, TESSERA_API_VERSION, TESSERA_POD, type NodeMode } from './annotations.js';
import { compileChecker, parseJson } from './validate.js';

export const DECISION_KIND = 'GpuDecision';

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

/**
 * What the allocator grants one pod (its `Allocation`): the decision's content without the wire's envelope and
 * without what the device plugin fills in later.
 */
export interface Grant {
  readonly pod: { readonly uid: string; readonly namespace: string; readonly name: string };
  readonly node: string;
  readonly mode: NodeMode;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  /** Init containers, then app containers, in pod spec order. */
  readonly containers: readonly GrantedContainer[];
}

export interface GrantedContainer {
  readonly name: string;
  /** Empty for containers without GPUs. */
  readonly devices: readonly GrantedDevice[];
}

export interface GrantedDevice {
  readonly uuid: string;
  readonly index: number;
  readonly memoryMiB: number;
  /** Core units taken (MIG: the instance's share of the GPU's units). */
  readonly cores: number;
  readonly mig?: GrantedMig;
}

export interface GrantedMig {
  readonly profile: string;
  readonly start: number;
  /** Changes this GPU needs before the instance exists, in order (empty when it exists and is free). */
  readonly plan: readonly MigOp[];
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
  /** Ed25519 signature (base64url) over the granted part of the decision (`canonicalDecision`). */
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

// --- the grant ------------------------------------------------------------------------------------------------

/**
 * The granted part of a device, the same in a grant and in a decision (the device plugin's MIG UUID and GPU-instance
 * ID are left behind: they are not part of the grant).
 */
function grantedDevice(d: GrantedDevice | DecisionDevice): GrantedDevice & DecisionDevice {
  return {
    uuid: d.uuid,
    index: d.index,
    memoryMiB: d.memoryMiB,
    cores: d.cores,
    ...(d.mig ? { mig: { profile: d.mig.profile, start: d.mig.start, plan: d.mig.plan.map((op) => ({ ...op })) } } : {}),
  };
}

/** The unsigned decision for a grant made at `decidedAt` (RFC 3339). */
export function decisionOf(grant: Grant, decidedAt: string): Decision {
  return {
    apiVersion: TESSERA_API_VERSION,
    kind: DECISION_KIND,
    pod: { ...grant.pod },
    node: grant.node,
    mode: grant.mode,
    containers: grant.containers.map((c) => ({ name: c.name, devices: c.devices.map(grantedDevice) })),
    resources: { cpuMilli: grant.cpuMilli, memoryMiB: grant.memoryMiB },
    decidedAt,
  };
}

/** The grant a decision carries, as the allocator applies it when rebuilding its state. */
export function grantOf(decision: Decision): Grant {
  return {
    pod: { ...decision.pod },
    node: decision.node,
    mode: decision.mode,
    cpuMilli: decision.resources?.cpuMilli ?? 0,
    memoryMiB: decision.resources?.memoryMiB ?? 0,
    containers: decision.containers.map((c) => ({ name: c.name, devices: c.devices.map(grantedDevice) })),
  };
}

/** The decision for a grant, signed with the scheduler's key, and its annotation text: what bind writes. */
export function signedDecision(grant: Grant, decidedAt: string, key: KeyObject): { decision: Decision; text: string } {
  const decision = signDecision(decisionOf(grant, decidedAt), key);
  return { decision, text: encodeDecision(decision) };
}

// --- signatures -----------------------------------------------------------------------------------------------

/** Who signed a decision or a release mark: the scheduler, or the device plugin of the decision's node. */
export type Signer = 'scheduler' | 'node';

/**
 * The keys a verifier trusts: the scheduler's public key, and per node the public key its device plugin
 * published (undefined while unknown).
 */
export interface TrustedKeys {
  scheduler: KeyObject;
  node(name: string): KeyObject | undefined;
}

/** `key` as an Ed25519 private key; anything else is an INVALID_CONFIG error naming `field`. */
export function ed25519Private(key: KeyObject, field: string): KeyObject {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
    throw new TesseraError('INVALID_CONFIG', `must be an Ed25519 private key, got a ${key.asymmetricKeyType ?? key.type} ${key.type} key`, { field });
  return key;
}

/** The Ed25519 public key of `key` (a private key gives its public half); anything else is an INVALID_CONFIG error. */
export function ed25519Public(key: KeyObject, field: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') throw new TesseraError('INVALID_CONFIG', `must be an Ed25519 public key, got ${key.asymmetricKeyType ?? key.type}`, { field });
  return key.type === 'private' ? createPublicKey(key) : key;
}

function signature(bytes: string, key: KeyObject): string {
  return sign(null, Buffer.from(bytes), ed25519Private(key, 'signingKey')).toString('base64url');
}

function verifies(bytes: string, signed: string, key: KeyObject): boolean {
  const given = Buffer.from(signed, 'base64url');
  return given.length === 64 && verify(null, Buffer.from(bytes), key, given);
}

/** The canonical bytes a signature covers: a JSON array with a fixed field order, so no key order can shift it. */
function canonicalDecision(decision: Decision): string {
  return JSON.stringify([
    decision.apiVersion,
    decision.pod.uid,
    decision.pod.namespace,
    decision.pod.name,
    decision.node,
    decision.mode,
    decision.decidedAt,
    decision.containers.map((c) => [
      c.name,
      c.devices.map((d) => [d.uuid, d.index, d.memoryMiB, d.cores, d.mig ? [d.mig.profile, d.mig.start, d.mig.plan.map((op) => [op.action, op.profile, op.start])] : null]),
    ]),
    // Only when present, so that decisions signed before the field existed still verify.
    ...(decision.exchangedWith === undefined ? [] : [decision.exchangedWith]),
  ]);
}

/** The decision with its signature set (any previous signature is replaced). */
export function signDecision(decision: Decision, key: KeyObject): Decision {
  return { ...decision, signature: signature(canonicalDecision(decision), key) };
}

/** True when the decision carries a signature made with the private half of `key` over exactly what it grants. */
export function verifyDecision(decision: Decision, key: KeyObject): boolean {
  return decision.signature !== undefined && verifies(canonicalDecision(decision), decision.signature, key);
}

/**
 * Who signed the decision: the scheduler, or the device plugin of the node the decision is for (a grant it
 * exchanged between two of its pods). Undefined: nobody trusted, so it grants nothing.
 */
export function decisionSigner(decision: Decision, keys: TrustedKeys): Signer | undefined {
  if (verifyDecision(decision, keys.scheduler)) return 'scheduler';
  const nodeKey = keys.node(decision.node);
  return nodeKey && verifyDecision(decision, nodeKey) ? 'node' : undefined;
}

const releaseBytes = (podUid: string, decisionSignature: string, signer: Signer): string => JSON.stringify(['tessera.io/release/v1', podUid, decisionSignature, signer]);

/**
 * The value of `tessera.io/release`: the signer's statement that the pod's grant (the decision with this
 * signature) is over. Bound to the pod UID and that very decision, so it cannot be moved to another pod or kept
 * for a later grant.
 */
export function signRelease(podUid: string, decisionSignature: string, signer: Signer, key: KeyObject): string {
  return `${signer}:${signature(releaseBytes(podUid, decisionSignature, signer), key)}`;
}

/** True when `mark` releases this decision of this pod, signed by the scheduler or by the decision's node. */
export function verifyRelease(mark: string | undefined, podUid: string, decision: Decision, keys: TrustedKeys): boolean {
  if (mark === undefined || decision.signature === undefined) return false;
  const colon = mark.indexOf(':');
  const signer = mark.slice(0, colon);
  if (signer !== 'scheduler' && signer !== 'node') return false;
  const key = signer === 'scheduler' ? keys.scheduler : keys.node(decision.node);
  return key !== undefined && verifies(releaseBytes(podUid, decision.signature, signer), mark.slice(colon + 1), key);
}
