import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/api/decision.js';
import { signDecision, signingKeyFromFileContent, signingKeyFromSecretData, verifyDecision } from '../../src/api/signing.js';
import { TesseraError } from '../../src/errors.js';
import { decisionArb } from './arbitraries.js';

const key = randomBytes(32);
const otherKey = randomBytes(32);

/** Every way a user could rewrite what a decision grants. */
const tamperings: Array<[string, (d: Decision) => Decision | undefined]> = [
  ['pod uid', (d) => ({ ...d, pod: { ...d.pod, uid: `${d.pod.uid}x` } })],
  ['node', (d) => ({ ...d, node: `${d.node}x` })],
  ['mode', (d) => ({ ...d, mode: d.mode === 'mig' ? 'hami-core' : 'mig' })],
  ['memory', (d) => mapFirstDevice(d, (dev) => ({ ...dev, memoryMiB: dev.memoryMiB + 1 }))],
  ['cores', (d) => mapFirstDevice(d, (dev) => ({ ...dev, cores: (dev.cores + 1) % 101 }))],
  ['gpu', (d) => mapFirstDevice(d, (dev) => ({ ...dev, uuid: `${dev.uuid}x` }))],
  ['an added device', (d) => (d.containers[0] ? { ...d, containers: [{ ...d.containers[0], devices: [...d.containers[0].devices, { uuid: 'GPU-x', index: 9, memoryMiB: 1, cores: 1 }] }, ...d.containers.slice(1)] } : undefined)],
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
        const filled = { ...signed, containers: signed.containers.map((c) => ({ ...c, devices: c.devices.map((d) => (d.mig ? { ...d, mig: { ...d.mig, migDeviceUuid: 'MIG-filled', gpuInstanceId: 3 } } : d)) })) };
        expect(verifyDecision(filled, key)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('reads keys from a Secret (base64) and a file (trailing newline ignored), refusing short ones', () => {
    expect(signingKeyFromSecretData({ 'signing-key': key.toString('base64') }, 'tessera-signing')).toEqual(key);
    expect(signingKeyFromFileContent(Buffer.concat([key, Buffer.from('\n')]))).toEqual(key);
    expect(() => signingKeyFromSecretData({}, 'tessera-signing')).toThrow(TesseraError);
    expect(() => signingKeyFromFileContent(Buffer.from('short\n'))).toThrow(/at least 32 bytes/);
  });
});
