import { describe, expect, it } from 'vitest';
import { ClusterState, createGeometryPlanner, schedule } from '../../../src/scheduler/core/index.js';
import { DEFAULT_POLICY, POLICIES, policyByName, tesseraPolicy } from '../../../src/scheduler/policies/index.js';
import { node, pod } from '../core/builders.js';

describe('the default policy', () => {
  it('is tessera, reachable by name through the policy table', () => {
    expect(DEFAULT_POLICY).toBe('tessera');
    const found = policyByName(DEFAULT_POLICY);
    expect(found.ok && found.value).toBe(tesseraPolicy);
    expect(Object.keys(POLICIES)).toContain(DEFAULT_POLICY);
  });

  it('ranks a mixed MIG + HAMi-core cluster through schedule()', () => {
    const state = new ClusterState([node('share').gpus(2).spec(), node('mig', 'mig').gpus(1).spec(), node('cpu').resources(2000, 4096).spec()], {
      migPlanner: createGeometryPlanner(),
    });
    const found = policyByName(DEFAULT_POLICY);
    if (!found.ok) throw new Error('default policy missing');
    const request = pod().container({ 'nvidia.com/gpu': 1, 'nvidia.com/gpumem': 10_000 }).request();
    const { ranked, failed } = schedule(state, request, found.value);
    expect(ranked.map((r) => r.node).sort()).toEqual(['mig', 'share']);
    expect(failed.map((f) => f.node)).toEqual(['cpu']);
  });
});
