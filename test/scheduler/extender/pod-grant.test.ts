import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeDecision, type Decision, signDecision, signRelease, type TrustedKeys } from '../../../src/api/decision.js';
import { generateSigningKey, publicKeyOf } from '../../../src/api/signing.js';
import { podGrant, type PodLike } from '../../../src/scheduler/extender/pod-grant.js';
import { decisionArb } from '../../api/arbitraries.js';

const key = generateSigningKey();
const nodeKey = generateSigningKey();
/** The scheduler's key, and `nodeKey` as every node's published key. */
const keys: TrustedKeys = { scheduler: publicKeyOf(key), node: () => publicKeyOf(nodeKey) };

function podFor(decision: Decision, extra: { phase?: string; bindPhase?: string; nodeName?: string; uid?: string; release?: string } = {}): PodLike {
  return {
    metadata: {
      uid: extra.uid ?? decision.pod.uid,
      annotations: {
        'tessera.io/decision': encodeDecision(decision),
        ...(extra.bindPhase ? { 'hami.io/bind-phase': extra.bindPhase } : {}),
        ...(extra.release ? { 'tessera.io/release': extra.release } : {}),
      },
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
        expect(podGrant(podFor(signed), keys)).toEqual({ kind: 'granted', decision: signed, confirmed: false, bound: false });
        expect(podGrant(podFor(signed, { bindPhase: 'success', nodeName: signed.node }), keys)).toMatchObject({ kind: 'granted', confirmed: true, bound: true });
        expect(podGrant(podFor(signed, { phase: 'Running', nodeName: signed.node }), keys)).toMatchObject({ confirmed: true });
      }),
      { numRuns: 50 },
    );
  });

  it('refuses unsigned, foreign-key, copied and mis-placed decisions', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        expect(podGrant(podFor(decision), keys).kind).toBe('refused');
        expect(podGrant(podFor(signDecision(decision, generateSigningKey())), keys).kind).toBe('refused');
        const signed = signDecision(decision, key);
        expect(podGrant(podFor(signed, { uid: `${decision.pod.uid}-other` }), keys).kind).toBe('refused');
        expect(podGrant(podFor(signed, { nodeName: `${decision.node}-other` }), keys).kind).toBe('refused');
      }),
      { numRuns: 50 },
    );
    expect(podGrant({ metadata: { uid: 'u', annotations: { 'tessera.io/decision': '{not json' } } }, keys)).toMatchObject({ kind: 'refused', reason: expect.stringContaining('tessera.io/decision') });
  });

  it('answers the same with a cache of verified decisions, and caches only what verified', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const cache = new Map<string, Decision>();
        const signed = signDecision(decision, key);
        expect(podGrant(podFor(decision), keys, cache).kind).toBe('refused');
        expect(cache.size).toBe(0);
        const first = podGrant(podFor(signed), keys, cache);
        expect(cache.size).toBe(1);
        expect(podGrant(podFor(signed), keys, cache)).toEqual(first);
        // A cached decision copied onto another pod is still refused.
        expect(podGrant(podFor(signed, { uid: `${decision.pod.uid}-other` }), keys, cache).kind).toBe('refused');
      }),
      { numRuns: 50 },
    );
  });

  it('frees the capacity of finished, failed and given-up pods', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const signed = signDecision(decision, key);
        expect(podGrant(podFor(signed, { phase: 'Succeeded' }), keys).kind).toBe('over');
        expect(podGrant(podFor(signed, { phase: 'Failed' }), keys).kind).toBe('over');
      }),
      { numRuns: 20 },
    );
    expect(podGrant({ metadata: { uid: 'u' } }, keys)).toEqual({ kind: 'none' });
  });

  it('ends a grant on bind-phase=failed only with a release signed for this very decision and pod', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const signed = signDecision(decision, key);
        const sig = signed.signature ?? '';
        const uid = decision.pod.uid;
        expect(podGrant(podFor(signed, { bindPhase: 'failed', release: signRelease(uid, sig, 'scheduler', key) }), keys).kind).toBe('over');
        expect(podGrant(podFor(signed, { bindPhase: 'failed', release: signRelease(uid, sig, 'node', nodeKey) }), keys).kind).toBe('over');
        // A user's own bind-phase, a mark for another pod or decision, a mark by an unknown key: nothing is freed.
        expect(podGrant(podFor(signed, { bindPhase: 'failed' }), keys).kind).toBe('granted');
        expect(podGrant(podFor(signed, { bindPhase: 'failed', release: signRelease(`${uid}-x`, sig, 'scheduler', key) }), keys).kind).toBe('granted');
        expect(podGrant(podFor(signed, { bindPhase: 'failed', release: signRelease(uid, `${sig.slice(1)}A`, 'scheduler', key) }), keys).kind).toBe('granted');
        expect(podGrant(podFor(signed, { bindPhase: 'failed', release: signRelease(uid, sig, 'scheduler', generateSigningKey()) }), keys).kind).toBe('granted');
        expect(podGrant(podFor(signed, { bindPhase: 'failed', release: signRelease(uid, sig, 'node', key).replace('node:', 'scheduler:') }), keys).kind).toBe('granted');
      }),
      { numRuns: 20 },
    );
  });

  it('counts a grant its node signed (an exchange) only for that node', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const byNode = signDecision(decision, nodeKey);
        expect(podGrant(podFor(byNode), keys).kind).toBe('granted');
        const only = { scheduler: publicKeyOf(key), node: (name: string) => (name === decision.node ? undefined : publicKeyOf(nodeKey)) };
        expect(podGrant(podFor(byNode), only).kind).toBe('refused');
      }),
      { numRuns: 20 },
    );
  });
});
