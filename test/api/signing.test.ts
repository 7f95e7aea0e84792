import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/api/decision.js';
import { loadOrCreateKeyFile } from '../../src/api/key-file.js';
import {
  generateSigningKey,
  nodeKeyAnnotation,
  nodeKeyFromAnnotation,
  privateKeyFromPem,
  privateKeyPem,
  publicKeyFromConfigMapData,
  publicKeyOf,
  publicKeyPem,
  signingKeyFromSecretData,
} from '../../src/api/signing.js';
import { signDecision, verifyDecision } from '../../src/api/decision.js';
import { TesseraError } from '../../src/errors.js';
import { decisionArb } from './arbitraries.js';

const key = generateSigningKey();
const otherKey = generateSigningKey();

/** Every way a user could rewrite what a decision grants. */
const tamperings: Array<[string, (d: Decision) => Decision | undefined]> = [
  ['pod uid', (d) => ({ ...d, pod: { ...d.pod, uid: `${d.pod.uid}x` } })],
  ['node', (d) => ({ ...d, node: `${d.node}x` })],
  ['mode', (d) => ({ ...d, mode: d.mode === 'mig' ? 'hami-core' : 'mig' })],
  ['memory', (d) => mapFirstDevice(d, (dev) => ({ ...dev, memoryMiB: dev.memoryMiB + 1 }))],
  ['cores', (d) => mapFirstDevice(d, (dev) => ({ ...dev, cores: (dev.cores + 1) % 101 }))],
  ['gpu', (d) => mapFirstDevice(d, (dev) => ({ ...dev, uuid: `${dev.uuid}x` }))],
  [
    'an added device',
    (d) =>
      d.containers[0]
        ? { ...d, containers: [{ ...d.containers[0], devices: [...d.containers[0].devices, { uuid: 'GPU-x', index: 9, memoryMiB: 1, cores: 1 }] }, ...d.containers.slice(1)] }
        : undefined,
  ],
];

function mapFirstDevice(decision: Decision, change: (d: Decision['containers'][number]['devices'][number]) => Decision['containers'][number]['devices'][number]): Decision | undefined {
  const c = decision.containers.findIndex((container) => container.devices.length > 0);
  const container = decision.containers[c];
  const first = container?.devices[0];
  if (!container || !first) return undefined;
  const containers = [...decision.containers];
  containers[c] = { ...container, devices: [change(first), ...container.devices.slice(1)] };
  return { ...decision, containers };
}

describe('decision signing', () => {
  it('verifies what it signed, with the same key only', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const signed = signDecision(decision, key);
        expect(verifyDecision(signed, key)).toBe(true);
        expect(verifyDecision(signed, otherKey)).toBe(false);
        expect(verifyDecision(decision, key)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it.each(tamperings)('rejects a decision whose %s was changed after signing', (_label, tamper) => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const tampered = tamper(signDecision(decision, key));
        if (tampered) expect(verifyDecision(tampered, key)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });

  it('still verifies after the device plugin fills in the MIG instance it created', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const signed = signDecision(decision, key);
        const filled = {
          ...signed,
          containers: signed.containers.map((c) => ({ ...c, devices: c.devices.map((d) => (d.mig ? { ...d, mig: { ...d.mig, migDeviceUuid: 'MIG-filled', gpuInstanceId: 3 } } : d)) })),
        };
        expect(verifyDecision(filled, key)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('verifies with the public key alone, which cannot sign', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        expect(verifyDecision(signDecision(decision, key), publicKeyOf(key))).toBe(true);
        expect(() => signDecision(decision, publicKeyOf(key))).toThrow(TesseraError);
      }),
      { numRuns: 20 },
    );
  });

  it('reads keys from a Secret (base64 PEM), a ConfigMap and a Node annotation, refusing anything else', () => {
    const pem = privateKeyPem(key);
    expect(privateKeyPem(signingKeyFromSecretData({ 'signing-key': Buffer.from(pem).toString('base64') }, 'ns/s'))).toBe(pem);
    expect(publicKeyPem(publicKeyFromConfigMapData({ 'public-key': publicKeyPem(key) }, 'ns/c'))).toBe(publicKeyPem(key));
    expect(publicKeyPem(nodeKeyFromAnnotation(nodeKeyAnnotation(key)) ?? otherKey)).toBe(publicKeyPem(key));
    expect(() => signingKeyFromSecretData({}, 'ns/s')).toThrow(TesseraError);
    expect(() => signingKeyFromSecretData({ 'signing-key': Buffer.from('x'.repeat(40)).toString('base64') }, 'ns/s')).toThrow(/PEM private key/);
    expect(() => privateKeyFromPem(publicKeyPem(key), 'f')).toThrow(TesseraError);
    expect(nodeKeyFromAnnotation('garbage')).toBeUndefined();
    expect(nodeKeyFromAnnotation(undefined)).toBeUndefined();
  });

  it('keeps a key file once created: 0600, the same key on every load, never replaced when unreadable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-key-'));
    const path = join(dir, 'sub', 'k.pem');
    const first = loadOrCreateKeyFile(path, '--state');
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = loadOrCreateKeyFile(path, '--state');
    expect(again.created).toBe(false);
    expect(privateKeyPem(again.key)).toBe(privateKeyPem(first.key));
    chmodSync(path, 0o644);
    loadOrCreateKeyFile(path, '--state');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const before = readFileSync(path);
    writeFileSync(path, 'not a key');
    expect(() => loadOrCreateKeyFile(path, '--state')).toThrow(/--state|PEM/);
    expect(readFileSync(path).toString()).toBe('not a key');
    expect(before.length).toBeGreaterThan(0);
  });
});
