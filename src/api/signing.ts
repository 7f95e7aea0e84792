/**
 * The Ed25519 keys decisions are signed with (what is signed and how: `decision.ts`): the scheduler's private key
 * from a Secret or a PEM file, its public key from a ConfigMap, and each device plugin's own public key as its Node
 * publishes it.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { TesseraError } from '../errors.js';
import { ed25519Private, ed25519Public } from './decision.js';

/** The key of the Secret entry that holds the scheduler's private key (PEM). */
export const SIGNING_SECRET_KEY = 'signing-key';
/** The key of the ConfigMap entry that holds the scheduler's public key (PEM). */
export const PUBLIC_KEY_ENTRY = 'public-key';

/** A fresh Ed25519 key pair's private key (the public one is `publicKeyOf` it). */
export function generateSigningKey(): KeyObject {
  return generateKeyPairSync('ed25519').privateKey;
}

export const publicKeyOf = (key: KeyObject): KeyObject => ed25519Public(key, 'signingKey');

/** PKCS#8 PEM of a private key (what `openssl genpkey -algorithm ed25519` writes). */
export const privateKeyPem = (key: KeyObject): string => ed25519Private(key, 'signingKey').export({ type: 'pkcs8', format: 'pem' }).toString();

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
  return ed25519Private(key, field);
}

/** An Ed25519 public key from PEM text; anything else is an INVALID_CONFIG error naming `field`. */
export function publicKeyFromPem(pem: string | Buffer, field: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `is not a PEM public key (${(cause as Error).message}); derive it with 'openssl pkey -pubout'`, { field, cause });
  }
  return ed25519Public(key, field);
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
