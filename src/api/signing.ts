/**
 * Decisions are signed so that the device plugin can refuse one nobody granted: a user who writes the decision
 * annotations on their own pod has no key and gets nothing. Signatures are Ed25519: the scheduler alone holds the
 * private key that signs decisions; device plugins hold its public key, so a compromised node learns nothing that
 * signs for another node. Each device plugin also has its own key pair (its public key published on its Node) for
 * what only it may write about its own node: a grant it exchanged between interchangeable pods, and the release of
 * a grant it could not honour.
 *
 * A signature covers a canonical encoding of what is granted (pod UID, node, mode and every device with its share
 * and MIG placement), not the fields the device plugin fills in later (MIG device UUID, GPU-instance ID).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { TesseraError } from '../errors.js';
import type { Decision } from './decision.js';

/** The key of the Secret entry that holds the scheduler's private key (PEM). */
export const SIGNING_SECRET_KEY = 'signing-key';
/** The key of the ConfigMap entry that holds the scheduler's public key (PEM). */
export const PUBLIC_KEY_ENTRY = 'public-key';

/** Who signed a release mark: the scheduler, or the device plugin of the decision's node. */
export type Signer = 'scheduler' | 'node';

/**
 * The keys a verifier trusts: the scheduler's public key, and per node the public key its device plugin
 * published (undefined while unknown).
 */
export interface TrustedKeys {
  scheduler: KeyObject;
  node(name: string): KeyObject | undefined;
}

/** The canonical bytes a signature covers: a JSON array with a fixed field order, so no key order can shift it. */
export function canonicalDecision(decision: Decision): string {
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

function checkPrivate(key: KeyObject, field: string): KeyObject {
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519')
    throw new TesseraError('INVALID_CONFIG', `must be an Ed25519 private key, got a ${key.asymmetricKeyType ?? key.type} ${key.type} key`, { field });
  return key;
}

function checkPublic(key: KeyObject, field: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') throw new TesseraError('INVALID_CONFIG', `must be an Ed25519 public key, got ${key.asymmetricKeyType ?? key.type}`, { field });
  return key.type === 'private' ? createPublicKey(key) : key;
}

function signature(bytes: string, key: KeyObject): string {
  return sign(null, Buffer.from(bytes), checkPrivate(key, 'signingKey')).toString('base64url');
}

function verifies(bytes: string, signed: string, key: KeyObject): boolean {
  const given = Buffer.from(signed, 'base64url');
  return given.length === 64 && verify(null, Buffer.from(bytes), key, given);
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

/** A fresh Ed25519 key pair's private key (the public one is `publicKeyOf` it). */
export function generateSigningKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

export const publicKeyOf = (key: KeyObject): KeyObject => checkPublic(key, 'signingKey');

/** PKCS#8 PEM of a private key (what `openssl genpkey -algorithm ed25519` writes). */
export const privateKeyPem = (key: KeyObject): string => checkPrivate(key, 'signingKey').export({ type: 'pkcs8', format: 'pem' }).toString();

/** SPKI PEM of a public key (what `openssl pkey -pubout` writes). */
export const publicKeyPem = (key: KeyObject): string => publicKeyOf(key).export({ type: 'spki', format: 'pem' }).toString();

/** An Ed25519 private key from PEM text; anything else is an INVALID_CONFIG error naming `field`. */
export function privateKeyFromPem(pem: string | Buffer, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `is not a PEM private key (${(cause as Error).message}); create one with 'openssl genpkey -algorithm ed25519'`, { field, cause });
  }
  return checkPrivate(key, field);
}

/** An Ed25519 public key from PEM text; anything else is an INVALID_CONFIG error naming `field`. */
export function publicKeyFromPem(pem: string | Buffer, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `is not a PEM public key (${(cause as Error).message}); derive it with 'openssl pkey -pubout'`, { field, cause });
  }
  return checkPublic(key, field);
}

/** The scheduler's private key from a Secret's `data` (base64, as the API returns it) under `signing-key`. */
export function signingKeyFromSecretData(data: Record<string, string> | undefined, secretName: string): KeyObject {
  const encoded = data?.[SIGNING_SECRET_KEY];
  if (encoded === undefined) throw new TesseraError('INVALID_CONFIG', `has no '${SIGNING_SECRET_KEY}' entry`, { field: `secret ${secretName}` });
  return privateKeyFromPem(Buffer.from(encoded, 'base64'), `secret ${secretName} '${SIGNING_SECRET_KEY}'`);
}

/** The scheduler's public key from a ConfigMap's `data` under `public-key`. */
export function publicKeyFromConfigMapData(data: Record<string, string> | undefined, name: string): KeyObject {
  const pem = data?.[PUBLIC_KEY_ENTRY];
  if (pem === undefined) throw new TesseraError('INVALID_CONFIG', `has no '${PUBLIC_KEY_ENTRY}' entry`, { field: `configmap ${name}` });
  return publicKeyFromPem(pem, `configmap ${name} '${PUBLIC_KEY_ENTRY}'`);
}

/** A node's published public key (base64 DER SPKI, the Node annotation's format), or undefined when malformed. */
export function nodeKeyFromAnnotation(text: string | undefined): KeyObject | undefined {
  if (text === undefined || text.length > 256) return undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** The Node annotation value that publishes a node's public key. */
export const nodeKeyAnnotation = (key: KeyObject): string => publicKeyOf(key).export({ type: 'spki', format: 'der' }).toString('base64');
