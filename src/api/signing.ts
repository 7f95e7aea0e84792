/**
 * Decisions are signed so that the device plugin can refuse one nobody granted: a user who writes the decision
 * annotations on their own pod has no key and gets nothing. The MAC is HMAC-SHA256 over a canonical encoding of
 * what the scheduler grants (pod UID, node, mode and every device with its share and MIG placement), not over the
 * fields the device plugin fills in later (MIG device UUID, GPU-instance ID).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { TesseraError } from '../errors.js';
import type { Decision } from './decision.js';

/** Key material: at least 32 bytes, so that the MAC is as strong as SHA-256 allows. */
export const MIN_KEY_BYTES = 32;

/** The key of a Kubernetes Secret that holds the signing key. */
export const SIGNING_SECRET_KEY = 'signing-key';

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
  ]);
}

function checkKey(key: Buffer): void {
  if (key.length < MIN_KEY_BYTES) throw new TesseraError('INVALID_CONFIG', `signing key must be at least ${MIN_KEY_BYTES} bytes, got ${key.length}`, { field: 'signingKey' });
}

function mac(decision: Decision, key: Buffer): Buffer {
  checkKey(key);
  return createHmac('sha256', key).update(canonicalDecision(decision)).digest();
}

/** The decision with its signature set (any previous signature is replaced). */
export function signDecision(decision: Decision, key: Buffer): Decision {
  return { ...decision, signature: mac(decision, key).toString('base64url') };
}

/** True when the decision carries a signature made with `key` over exactly what it grants. */
export function verifyDecision(decision: Decision, key: Buffer): boolean {
  if (decision.signature === undefined) return false;
  const given = Buffer.from(decision.signature, 'base64url');
  const expected = mac(decision, key);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The signing key from a Secret's `data` (base64, as the API returns it) under `signing-key`. Plain data in, so
 * callers pass `secret.data` from whichever client they use.
 */
export function signingKeyFromSecretData(data: Record<string, string> | undefined, secretName: string): Buffer {
  const encoded = data?.[SIGNING_SECRET_KEY];
  if (encoded === undefined) throw new TesseraError('INVALID_CONFIG', `has no '${SIGNING_SECRET_KEY}' entry`, { field: `secret ${secretName}` });
  const key = Buffer.from(encoded, 'base64');
  checkKey(key);
  return key;
}

/** The signing key from a key file's bytes, a trailing newline (as editors add) ignored. */
export function signingKeyFromFileContent(content: Buffer): Buffer {
  let end = content.length;
  while (end > 0 && (content[end - 1] === 0x0a || content[end - 1] === 0x0d)) end -= 1;
  const key = content.subarray(0, end);
  checkKey(key);
  return key;
}
