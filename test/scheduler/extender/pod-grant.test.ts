import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeDecision, type Decision } from '../../../src/api/decision.js';
import { signDecision } from '../../../src/api/signing.js';
import { podGrant, type PodLike } from '../../../src/scheduler/extender/pod-grant.js';
import { decisionArb } from '../../api/arbitraries.js';

const key = randomBytes(32);

function podFor(decision: Decision, extra: { phase?: string; bindPhase?: string; nodeName?: string; uid?: string } = {}): PodLike {
  return {
    metadata: {
      uid: extra.uid ?? decision.pod.uid,
      annotations: { 'tessera.io/decision': encodeDecision(decision), ...(extra.bindPhase ? { 'hami.io/bind-phase': extra.bindPhase } : {}) },
    },
    spec: extra.nodeName ? { nodeName: extra.nodeName } : {},
    status: extra.phase ? { phase: extra.phase } : {},
  };
}

describe('pod grant', () => {
  it('counts a decision we signed for this pod, confirmed once the device plugin or the kubelet says so', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const signed = signDecision(decision, key);
        expect(podGrant(podFor(signed), key)).toEqual({ kind: 'granted', decision: signed, confirmed: false, bound: false });
        expect(podGrant(podFor(signed, { bindPhase: 'success', nodeName: signed.node }), key)).toMatchObject({ kind: 'granted', confirmed: true, bound: true });
        expect(podGrant(podFor(signed, { phase: 'Running', nodeName: signed.node }), key)).toMatchObject({ confirmed: true });
      }),
      { numRuns: 50 },
    );
  });

  it('refuses unsigned, foreign-key, copied and mis-placed decisions', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        expect(podGrant(podFor(decision), key).kind).toBe('refused');
        expect(podGrant(podFor(signDecision(decision, randomBytes(32))), key).kind).toBe('refused');
        const signed = signDecision(decision, key);
        expect(podGrant(podFor(signed, { uid: `${decision.pod.uid}-other` }), key).kind).toBe('refused');
        expect(podGrant(podFor(signed, { nodeName: `${decision.node}-other` }), key).kind).toBe('refused');
      }),
      { numRuns: 50 },
    );
    expect(podGrant({ metadata: { uid: 'u', annotations: { 'tessera.io/decision': '{not json' } } }, key)).toMatchObject({ kind: 'refused', reason: expect.stringContaining('tessera.io/decision') });
  });

  it('answers the same with a cache of verified decisions, and caches only what verified', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const cache = new Map<string, Decision>();
        const signed = signDecision(decision, key);
        expect(podGrant(podFor(decision), key, cache).kind).toBe('refused');
        expect(cache.size).toBe(0);
        const first = podGrant(podFor(signed), key, cache);
        expect(cache.size).toBe(1);
        expect(podGrant(podFor(signed), key, cache)).toEqual(first);
        // A cached decision copied onto another pod is still refused.
        expect(podGrant(podFor(signed, { uid: `${decision.pod.uid}-other` }), key, cache).kind).toBe('refused');
      }),
      { numRuns: 50 },
    );
  });

  it('frees the capacity of finished, failed and given-up pods', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const signed = signDecision(decision, key);
        expect(podGrant(podFor(signed, { phase: 'Succeeded' }), key).kind).toBe('over');
        expect(podGrant(podFor(signed, { phase: 'Failed' }), key).kind).toBe('over');
        expect(podGrant(podFor(signed, { bindPhase: 'failed' }), key).kind).toBe('over');
      }),
      { numRuns: 20 },
    );
    expect(podGrant({ metadata: { uid: 'u' } }, key)).toEqual({ kind: 'none' });
  });
});
