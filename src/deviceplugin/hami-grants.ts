/**
 * Grants made by HAMi's own scheduler are refused, with an Event that says why (docs/security.md, "Grants from
 * HAMi's scheduler"). HAMi's grant is a set of unsigned pod annotations, and nothing on a pod tells who bound it:
 * `schedulerName` and `spec.nodeName` are the pod author's to write, and the webhook leaves pods for another
 * scheduler alone. Honouring them, even behind a per-node switch, would let anyone who can create a pod take a GPU
 * share Tessera's scheduler gave to another pod. Pure, apart from remembering whom it told.
 */
import { HAMI_POD, TESSERA_POD } from '../api/index.js';

export const HAMI_GRANT_REFUSED = 'TesseraHamiGrantRefused';

/** The pod fields read here (a client-node V1Pod fits). */
export interface HamiGrantPodLike {
  metadata?: { uid?: string; name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { nodeName?: string; schedulerName?: string };
  status?: { phase?: string };
}

/** Why this node's plugin gives `pod` nothing although HAMi's scheduler granted it devices; undefined otherwise. */
export function hamiGrantRefusal(pod: HamiGrantPodLike, node: string): string | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations[TESSERA_POD.decision] !== undefined || pod.spec?.nodeName !== node) return undefined;
  if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return undefined;
  const key = [HAMI_POD.devicesToAllocate, HAMI_POD.devicesAllocated].find((k) => (annotations[k] ?? '') !== '');
  if (key === undefined) return undefined;
  const scheduler = pod.spec.schedulerName ?? 'default-scheduler';
  return (
    `tessera: ${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? '?'} carries a grant from another scheduler (${key}, schedulerName ${scheduler}) ` +
    `and no decision signed by Tessera's scheduler; the device plugin on ${node} gives it no GPU, because HAMi's grants are unsigned and ` +
    `anyone who can create a pod can write them. Schedule the pod with Tessera's scheduler, or keep HAMi's device plugin on this node until its HAMi pods are gone`
  );
}

/** Tells each pod once. */
export class HamiGrantRefusals {
  private readonly told = new Set<string>();

  /**
   * The refusal to report for `pod` the first time it is seen with a HAMi grant; undefined after, or without one.
   * `removed`: the pod is gone (forgotten).
   */
  next(pod: HamiGrantPodLike, node: string, removed = false): string | undefined {
    const uid = pod.metadata?.uid;
    if (uid === undefined) return undefined;
    if (removed) {
      this.told.delete(uid);
      return undefined;
    }
    const refusal = this.told.has(uid) ? undefined : hamiGrantRefusal(pod, node);
    if (refusal !== undefined) this.told.add(uid);
    return refusal;
  }
}
