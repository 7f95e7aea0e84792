/**
 * What a pod, as the informer delivers it, says about capacity: it holds a grant (reserved or confirmed), it
 * holds none, or its grant is over. Only a decision signed by the scheduler (or by the device plugin of its node,
 * for a grant it exchanged), for this very pod, counts: a decision a user wrote, or copied from another pod, is
 * ignored. A grant ends only when the pod finishes or a signed release mark says so: `bind-phase: failed` written
 * by anyone else releases nothing. Pure: the caller applies the outcome to the book.
 */
import { type Decision, decisionSigner, decodeDecision, HAMI_POD, TESSERA_POD, type TrustedKeys, verifyRelease } from '../../api/index.js';
import { TesseraError } from '../../errors.js';

/** The pod fields this reads (a client-node V1Pod fits). */
export interface PodLike {
  metadata?: { uid?: string; name?: string; namespace?: string; annotations?: Record<string, string>; deletionTimestamp?: unknown };
  spec?: { nodeName?: string };
  status?: { phase?: string };
}

export type PodGrant =
  | { kind: 'none' }
  /** The pod's capacity is free again: it finished, failed, or its bind was given up. */
  | { kind: 'over' }
  | { kind: 'granted'; decision: Decision; confirmed: boolean; bound: boolean }
  /** A decision that is not ours: malformed, unsigned, signed with another key, or for another pod. */
  | { kind: 'refused'; reason: string };

const TERMINAL = new Set(['Succeeded', 'Failed']);

/** Decisions already decoded and verified, by annotation text: a pod's later events repeat the same text. */
export interface VerifiedDecisions {
  get(text: string): Decision | undefined;
  set(text: string, decision: Decision): unknown;
}

export function podGrant(pod: PodLike, keys: TrustedKeys, verified?: VerifiedDecisions): PodGrant {
  const annotations = pod.metadata?.annotations ?? {};
  if (TERMINAL.has(pod.status?.phase ?? '')) return { kind: 'over' };
  const text = annotations[TESSERA_POD.decision];
  // No decision says nothing: a grant already held stays held (removing the annotation releases nothing).
  if (text === undefined) return { kind: 'none' };
  let decision = verified?.get(text);
  if (!decision) {
    try {
      decision = decodeDecision(text);
    } catch (error) {
      if (error instanceof TesseraError) return { kind: 'refused', reason: error.message };
      throw error;
    }
    if (!decisionSigner(decision, keys)) return { kind: 'refused', reason: 'decision signature does not verify' };
    verified?.set(text, decision);
  }
  if (decision.pod.uid !== pod.metadata?.uid) return { kind: 'refused', reason: `decision is for pod ${decision.pod.uid}` };
  if (annotations[HAMI_POD.bindPhase] === 'failed' && verifyRelease(annotations[TESSERA_POD.release], decision.pod.uid, decision, keys)) return { kind: 'over' };
  const nodeName = pod.spec?.nodeName;
  if (nodeName && nodeName !== decision.node) return { kind: 'refused', reason: `decision is for node ${decision.node}, pod runs on ${nodeName}` };
  const confirmed = annotations[HAMI_POD.bindPhase] === 'success' || pod.status?.phase === 'Running';
  return { kind: 'granted', decision, confirmed, bound: Boolean(nodeName) };
}
