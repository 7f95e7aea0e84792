import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeDecision, encodeDecision, type Decision } from '../../src/api/decision.js';
import { TesseraError } from '../../src/errors.js';
import { decisionArb } from './arbitraries.js';

const sample: Decision = {
  apiVersion: 'tessera.io/v1',
  kind: 'GpuDecision',
  pod: { uid: '2b1c6f0e-0000-4000-8000-000000000001', namespace: 'ml', name: 'train-0' },
  node: 'gpu-node-1',
  mode: 'mig',
  containers: [
    { name: 'main', devices: [{ uuid: 'GPU-aaaa', index: 0, memoryMiB: 10240, cores: 14, mig: { profile: '1g.10gb', start: 6, plan: [{ action: 'create', profile: '1g.10gb', start: 6 }] } }] },
    { name: 'sidecar', devices: [] },
  ],
  decidedAt: '2026-11-24T13:00:00.000Z',
};

function errorOf(run: () => unknown): TesseraError {
  try {
    run();
  } catch (error) {
    if (error instanceof TesseraError) return error;
    throw error;
  }
  throw new Error('expected a TesseraError');
}

describe('decision annotation', () => {
  it('round-trips every valid decision', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        expect(decodeDecision(encodeDecision(decision))).toEqual(decision);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ['apiVersion', { ...sample, apiVersion: 'tessera.io/v0' }, 'tessera.io/decision.apiVersion'],
    ['a missing node', { ...sample, node: undefined }, 'tessera.io/decision.node'],
    ['negative memory', { ...sample, containers: [{ name: 'main', devices: [{ uuid: 'GPU-a', index: 0, memoryMiB: -1, cores: 0 }] }] }, 'tessera.io/decision.containers.0.devices.0.memoryMiB'],
    ['cores above 100', { ...sample, containers: [{ name: 'main', devices: [{ uuid: 'GPU-a', index: 0, memoryMiB: 1, cores: 101 }] }] }, 'tessera.io/decision.containers.0.devices.0.cores'],
    ['an unknown field', { ...sample, extra: 1 }, 'tessera.io/decision.extra'],
    ['a bad mode', { ...sample, mode: 'timeslice' }, 'tessera.io/decision.mode'],
  ])('names the field for %s', (_label, value, field) => {
    const error = errorOf(() => decodeDecision(JSON.stringify(value)));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
  });

  it('reports text that is not JSON as INVALID_INPUT on the annotation', () => {
    expect(errorOf(() => decodeDecision('{"apiVersion":')).field).toBe('tessera.io/decision');
  });

  it('answers arbitrary text with a decision or a TesseraError, never anything else', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.constant(JSON.stringify(sample)).map((s) => s.slice(0, -3)),
        ),
        (text) => {
          try {
            decodeDecision(text);
          } catch (error) {
            expect(error).toBeInstanceOf(TesseraError);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
