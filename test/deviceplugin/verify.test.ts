import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../src/api/decision.js';
import { encodeDecision } from '../../src/api/decision.js';
import { generateSigningKey, publicKeyOf } from '../../src/api/signing.js';
import { signDecision, type TrustedKeys } from '../../src/api/decision.js';
import { verifyGrant, type PodLike } from '../../src/deviceplugin/verify.js';

const key = generateSigningKey();
const nodeKey = generateSigningKey();
/** What the plugin on n1 trusts: the scheduler's key, and its own for n1 only. */
const keys: TrustedKeys = { scheduler: publicKeyOf(key), node: (name) => (name === 'n1' ? publicKeyOf(nodeKey) : undefined) };

function pod(limits: Record<string, string>, annotations: Record<string, string> = {}): PodLike {
  return {
    metadata: { uid: 'uid-1', name: 'p', namespace: 'ns', annotations },
    spec: { nodeName: 'n1', containers: [{ name: 'main', resources: { limits } }, { name: 'sidecar' }] } as PodLike['spec'],
  };
}

const decision: Decision = {
  apiVersion: 'tessera.io/v1',
  kind: 'GpuDecision',
  pod: { uid: 'uid-1', namespace: 'ns', name: 'p' },
  node: 'n1',
  mode: 'hami-core',
  containers: [
    {
      name: 'main',
      devices: [
        { uuid: 'GPU-a', index: 0, memoryMiB: 4000, cores: 30 },
        { uuid: 'GPU-b', index: 1, memoryMiB: 4000, cores: 30 },
      ],
    },
    { name: 'sidecar', devices: [] },
  ],
  decidedAt: '2026-01-01T00:00:00Z',
};

const asks = { 'nvidia.com/gpu': '2', 'nvidia.com/gpumem': '4000', 'nvidia.com/gpucores': '30' };
const withDecision = (d: Decision, limits = asks, extra: Record<string, string> = {}): PodLike => pod(limits, { 'tessera.io/decision': encodeDecision(d), ...extra });

describe('verifyGrant', () => {
  it('accepts a signed decision that grants exactly what the pod asks', () => {
    expect(verifyGrant(withDecision(signDecision(decision, key)), 'n1', keys)).toEqual({ ok: true, value: signDecision(decision, key) });
  });

  it.each<[string, PodLike, string]>([
    ['no decision', pod(asks), 'no decision'],
    ['unsigned', withDecision(decision), 'signature'],
    ['signed with another key', withDecision(signDecision(decision, generateSigningKey())), 'signature'],
    ['for another pod', withDecision(signDecision({ ...decision, pod: { ...decision.pod, uid: 'uid-2' } }, key)), 'uid-2'],
    ['for another node', withDecision(signDecision({ ...decision, node: 'n2' }, key)), 'node n2'],
    ['signed by another node for itself', withDecision(signDecision({ ...decision, node: 'n2' }, generateSigningKey())), 'signature'],
    ['signed by this node for another node', withDecision(signDecision({ ...decision, node: 'n2' }, nodeKey)), 'signature'],
    ['fewer GPUs than asked', withDecision(signDecision(decision, key), { ...asks, 'nvidia.com/gpu': '3' }), 'asks 3 GPU'],
    ['other cores than asked', withDecision(signDecision(decision, key), { ...asks, 'nvidia.com/gpucores': '50' }), '50% of the cores'],
    ['other memory than asked', withDecision(signDecision(decision, key), { ...asks, 'nvidia.com/gpumem': '8000' }), '8000 MiB'],
    ['another mode than pinned', withDecision(signDecision(decision, key), asks, { 'nvidia.com/vgpu-mode': 'mig' }), 'asks for mig'],
    ['malformed JSON', pod(asks, { 'tessera.io/decision': '{' }), 'not valid JSON'],
  ])('refuses a decision %s, saying why', (_case, candidate, reason) => {
    const result = verifyGrant(candidate, 'n1', keys);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(reason);
  });

  it('never throws, whatever the annotation holds (fuzz)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        expect(verifyGrant(pod(asks, { 'tessera.io/decision': text }), 'n1', keys).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
