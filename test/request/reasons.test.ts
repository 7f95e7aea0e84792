import { describe, expect, it } from 'vitest';
import { policyByName } from '../../src/scheduler/policies/index.js';
import { reasonText, type Reason } from '../../src/request/index.js';

describe('reasonText', () => {
  it.each<[Reason, string]>([
    [
      { kind: 'InvalidRequest', field: 'spec.containers[0].resources.limits.nvidia.com/gpu', message: 'must be a whole number' },
      'spec.containers[0].resources.limits.nvidia.com/gpu: must be a whole number',
    ],
    [{ kind: 'InsufficientResource', resource: 'gpumem', requested: 8000, used: 36_000, capacity: 40_960 }, 'Insufficient gpumem: requested 8000, used 36000 of 40960'],
    [{ kind: 'TooFewGpus', requested: 4, usable: 2 }, 'too few GPUs: requested 4, the node has 2 usable'],
    [{ kind: 'ModeMismatch', requested: 'mig', node: 'hami-core' }, 'pod asks for vgpu-mode mig, the node runs hami-core'],
    [{ kind: 'NoEligibleGpu', filter: 'health' }, 'no healthy GPU'],
    [{ kind: 'NoEligibleGpu', filter: 'type' }, "no GPU passes the pod's type filter"],
    [{ kind: 'NoMigProfile', model: 'A30', memoryMiB: 30_000 }, 'no MIG profile of A30 holds 30000 MiB'],
    [{ kind: 'UnknownNode', node: 'n9' }, 'unknown node n9'],
    [{ kind: 'Inconsistent', message: 'x' }, 'inconsistent state: x'],
  ])('%j', (reason, text) => {
    expect(reasonText(reason)).toBe(text);
  });
});

describe('policyByName', () => {
  it('finds the known policies and names the field for an unknown one', () => {
    expect(policyByName('hami')).toMatchObject({ ok: true, value: { name: 'hami' } });
    const unknown = policyByName('fastest', 'scheduler.policy');
    expect(unknown.ok).toBe(false);
    if (!unknown.ok) expect(unknown.error).toMatchObject({ code: 'INVALID_CONFIG', field: 'scheduler.policy' });
  });
});
