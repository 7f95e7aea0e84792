/**
 * Which grant a kubelet Allocate call is for, without the pod's identity (docs/allocate-design.md). Pure: the
 * daemon feeds it the pods in flight on the node and kubelet's calls, and applies what it answers.
 *
 * kubelet admits one pod at a time and calls once per GPU container, in order. So a call either continues the pod
 * being admitted (the cursor: same grant, next container, matching count) or starts a new pod, whose first call
 * carries only its lead count. A new pod's call is answered only when every grant not yet handed out with that
 * lead count has the same shape (the extender's `mayJoinInFlight` keeps it so); then any of them is right, and the
 * pod that really received it is learned afterwards (kubelet's pod-resources API) and recorded, swapping grants
 * between interchangeable pods when kubelet's order differed from the ledger's pick.
 */
import { type Decision, type DecisionDevice, leadCount, type PodShape } from '../api/index.js';
import { gpuOfReplica } from './devices.js';

export interface PodRef {
  uid: string;
  namespace: string;
  name: string;
}

/** A pod bound to this node with a verified decision, not yet allocated. */
export interface PendingGrant {
  pod: PodRef;
  decision: Decision;
  shape: PodShape;
  /** Decision creation order, for a stable pick among interchangeable grants. */
  order: number;
}

/** One answered Allocate call. */
export interface Handout {
  deviceIds: string[];
  /** The pod whose grant was handed out (its decision at the time). */
  grantOf: string;
  /** The grant's content, for matching after swaps: canonical text of what it grants. */
  content: string;
  /** Index among the pod's GPU containers. */
  position: number;
  /** What the container was given (MIG device UUID and instance ID filled in). */
  devices: DecisionDevice[];
}

export type Resolution =
  | {
      ok: true;
      grant: PendingGrant;
      position: number;
      devices: DecisionDevice[];
      last: boolean;
      /** The pod being admitted, when only one pod could be (else learned later from kubelet). */
      known: PodRef | undefined;
    }
  | { ok: false; reason: 'no-grant' | 'ambiguous'; message: string };

/** The containers kubelet calls for: those with devices. */
export const gpuContainersOf = (decision: Decision): DecisionDevice[][] => decision.containers.filter((c) => c.devices.length > 0).map((c) => c.devices);

/** Canonical text of what a decision grants (GPUs, shares, MIG placements), independent of the pod. */
export function contentOf(decision: Decision): string {
  return JSON.stringify([decision.mode, gpuContainersOf(decision).map((devices) => devices.map((d) => [d.uuid, d.memoryMiB, d.cores, d.mig?.profile ?? null, d.mig?.start ?? null]))]);
}

function matchesDeviceIds(devices: DecisionDevice[], deviceIds: readonly string[]): boolean {
  const gpus = deviceIds.map(gpuOfReplica).sort();
  return JSON.stringify(devices.map((d) => d.uuid).sort()) === JSON.stringify(gpus);
}

interface Cursor {
  grantOf: string;
  content: string;
  next: number;
  known: PodRef | undefined;
}

/**
 * `target` granted `devices`: its GPU containers (in order) take them, the rest of target (pod, container names,
 * mode) stays. Unsigned: the caller signs the result.
 */
export function withGrant(target: Decision, devices: readonly DecisionDevice[][]): Decision {
  let next = 0;
  const { signature: _dropped, ...unsigned } = target;
  return {
    ...unsigned,
    containers: target.containers.map((c) => (c.devices.length > 0 ? { ...c, devices: devices[next++] ?? [] } : c)),
  };
}

export class Ledger {
  private pending = new Map<string, PendingGrant>();
  private handouts: Handout[] = [];
  private cursor: Cursor | undefined;
  /**
   * What the ledger knows ahead of the API: pods it settled (still `allocating` there until the record lands) and
   * grants it moved (the old decision still there). Kept until the API shows the same, so that a stale read never
   * offers a grant twice.
   */
  private readonly settled = new Set<string>();
  private readonly moved = new Map<string, PendingGrant>();

  /** Replaces the pods in flight (from the API). Handouts of pods no longer in flight are dropped. */
  setPending(grants: Iterable<PendingGrant>): void {
    const incoming = new Map([...grants].map((g) => [g.pod.uid, g]));
    for (const uid of this.settled) if (!incoming.has(uid)) this.settled.delete(uid);
    for (const [uid, grant] of this.moved) {
      const now = incoming.get(uid);
      if (!now || contentOf(now.decision) === contentOf(grant.decision)) this.moved.delete(uid);
    }
    this.pending = new Map();
    for (const [uid, grant] of incoming) if (!this.settled.has(uid)) this.pending.set(uid, this.moved.get(uid) ?? grant);
    const contents = new Set([...this.pending.values()].map((g) => contentOf(g.decision)));
    this.handouts = this.handouts.filter((h) => contents.has(h.content));
    if (this.cursor && !contents.has(this.cursor.content)) this.cursor = undefined;
  }

  pendingGrants(): PendingGrant[] {
    return [...this.pending.values()];
  }

  unresolvedHandouts(): readonly Handout[] {
    return this.handouts;
  }

  /** Takes back handouts saved before a restart, those whose grant is still in flight. */
  restoreHandouts(saved: readonly Handout[]): void {
    const contents = new Set([...this.pending.values()].map((g) => contentOf(g.decision)));
    for (const h of saved) if (contents.has(h.content) && !this.handouts.some((mine) => mine.deviceIds.join() === h.deviceIds.join())) this.handouts.push(h);
  }

  /** Forgets the pod being admitted: kubelet restarted, or it gave up on the pod after a refused call. */
  resetCursor(): void {
    this.cursor = undefined;
  }

  /** How many pods' worth of each content has been handed out from position 0. */
  private startedByContent(): Map<string, number> {
    const started = new Map<string, number>();
    for (const h of this.handouts) if (h.position === 0) started.set(h.content, (started.get(h.content) ?? 0) + 1);
    return started;
  }

  /** Grants not yet handed out, the oldest first (a content held by k pods and started j times leaves k - j). */
  private available(): PendingGrant[] {
    const started = this.startedByContent();
    const out: PendingGrant[] = [];
    for (const grant of [...this.pending.values()].sort((a, b) => a.order - b.order || (a.pod.uid < b.pod.uid ? -1 : 1))) {
      const content = contentOf(grant.decision);
      const left = started.get(content) ?? 0;
      if (left > 0) started.set(content, left - 1);
      else out.push(grant);
    }
    return out;
  }

  /** Which grant and container a call of `deviceIds` answers; changes nothing. */
  resolve(deviceIds: readonly string[]): Resolution {
    const count = deviceIds.length;
    const cursor = this.cursor;
    if (cursor) {
      const grant =
        [...this.pending.values()].find((g) => g.pod.uid === cursor.grantOf && contentOf(g.decision) === cursor.content) ??
        [...this.pending.values()].find((g) => contentOf(g.decision) === cursor.content);
      const devices = grant ? gpuContainersOf(grant.decision)[cursor.next] : undefined;
      if (grant && devices && devices.length === count) {
        return { ok: true, grant, position: cursor.next, devices, last: cursor.next === gpuContainersOf(grant.decision).length - 1, known: cursor.known };
      }
    }
    const candidates = this.available().filter((g) => leadCount(g.shape) === count);
    if (candidates.length === 0) return { ok: false, reason: 'no-grant', message: `no pod in flight on this node has a first GPU container of ${count} device(s)` };
    const shapes = new Set(candidates.map((g) => g.shape.key));
    if (shapes.size > 1) {
      return { ok: false, reason: 'ambiguous', message: `${candidates.length} pods of ${shapes.size} different shapes could be this call (${count} device(s)); refusing rather than guessing` };
    }
    // Prefer the grant on the GPUs kubelet picked (GetPreferredAllocation steers it there), so its records match.
    const grant = candidates.find((g) => matchesDeviceIds(gpuContainersOf(g.decision)[0] ?? [], deviceIds)) ?? candidates[0];
    if (!grant) return { ok: false, reason: 'no-grant', message: 'no candidate' };
    const containers = gpuContainersOf(grant.decision);
    // The pod is known only when it is the one pod of its shape in flight: once a grant of a shape went to a pod
    // not yet identified, any pod of that shape may be the one still to come.
    const sameShape = [...this.pending.values()].filter((g) => g.shape.key === grant.shape.key);
    return { ok: true, grant, position: 0, devices: containers[0] ?? [], last: containers.length === 1, known: sameShape.length === 1 ? grant.pod : undefined };
  }

  /** Records an answered call and moves the cursor. */
  commit(resolution: Extract<Resolution, { ok: true }>, deviceIds: readonly string[], given: DecisionDevice[]): Handout {
    const content = contentOf(resolution.grant.decision);
    const handout = { deviceIds: [...deviceIds], grantOf: resolution.grant.pod.uid, content, position: resolution.position, devices: given };
    this.handouts.push(handout);
    this.cursor = resolution.last ? undefined : { grantOf: resolution.grant.pod.uid, content, next: resolution.position + 1, known: resolution.known };
    return handout;
  }

  /**
   * kubelet says pod `pod` holds `deviceIds` per GPU container (in order; null for an init container, which
   * kubelet's record does not list). When they are all handouts of one
   * grant, returns the grant it really received and, when that grant was another pod's, that pod (it takes the
   * receiver's grant in exchange). The handouts are settled and the pods leave the pending set; undefined while
   * kubelet's record is incomplete.
   */
  learn(pod: PodRef, deviceIds: readonly (readonly string[] | null)[]): { received: PendingGrant; swappedWith: PendingGrant | undefined } | undefined {
    const own = this.pending.get(pod.uid);
    if (!own) return undefined;
    if (deviceIds.length !== gpuContainersOf(own.decision).length) return undefined;
    const matched = matchHandouts(this.handouts, own, deviceIds, [...this.pending.values()].filter((g) => g.shape.key === own.shape.key).length === 1);
    const first = matched?.[0];
    if (!matched || !first) return undefined;
    this.handouts = this.handouts.filter((h) => !matched.includes(h));
    if (this.cursor?.content === first.content && this.cursor.grantOf === first.grantOf) this.cursor = undefined;
    const ownContent = contentOf(own.decision);
    this.pending.delete(pod.uid);
    this.settled.add(pod.uid);
    // Another pending pod holding the content received takes this pod's original grant.
    const received = {
      ...own,
      decision: withGrant(
        own.decision,
        matched.map((h) => h.devices),
      ),
    };
    if (ownContent === first.content) return { received, swappedWith: undefined };
    const holder = [...this.pending.values()].find((g) => contentOf(g.decision) === first.content);
    if (!holder) return { received, swappedWith: undefined };
    received.decision.exchangedWith = holder.pod.uid;
    const swapped = { ...holder, decision: { ...withGrant(holder.decision, gpuContainersOf(own.decision)), exchangedWith: pod.uid } };
    this.pending.set(holder.pod.uid, swapped);
    this.moved.set(holder.pod.uid, swapped);
    return { received, swappedWith: swapped };
  }

  /**
   * kubelet lists `deviceIds` for a pod that holds no valid grant here (placed by hand, say, while the webhook was
   * down): the handouts it took are taken back, so the grants they were made from are available to their owners
   * again. Returns how many were taken back.
   */
  revoke(deviceIds: readonly string[]): number {
    const taken = this.handouts.filter((h) => h.deviceIds.every((id) => deviceIds.includes(id)));
    if (taken.length === 0) return 0;
    this.handouts = this.handouts.filter((h) => !taken.includes(h));
    if (this.cursor && taken.some((h) => h.content === this.cursor?.content)) this.cursor = undefined;
    return taken.length;
  }
}

/**
 * The handouts a pod holds, one per GPU container, or undefined when kubelet's record does not settle it. A listed
 * container is the handout of its position with exactly its IDs (kubelet may give an app container the IDs an init
 * container had). An init container, which kubelet does not list, is the handout of its position in the same
 * chain as the listed ones. A pod whose GPU containers are all init containers shows nothing to match: its chain
 * is taken only when it is the one pod of its shape in flight (`alone`) and the ledger handed its own grant out.
 */
function matchHandouts(handouts: readonly Handout[], own: PendingGrant, deviceIds: readonly (readonly string[] | null)[], alone: boolean): Handout[] | undefined {
  const listed = deviceIds.map((ids, position) =>
    ids === null ? null : handouts.find((h) => h.position === position && h.deviceIds.length === ids.length && h.deviceIds.every((id) => ids.includes(id))),
  );
  if (listed.some((h) => h === undefined)) return undefined;
  const anchor = listed.find((h) => h) ?? (alone ? handouts.find((h) => h.position === 0 && h.grantOf === own.pod.uid && h.content === contentOf(own.decision)) : undefined);
  if (!anchor) return undefined;
  const chain = listed.map((h, position) => h ?? handouts.find((x) => x.position === position && x.grantOf === anchor.grantOf && x.content === anchor.content));
  if (chain.some((h) => !h || h.content !== anchor.content)) return undefined;
  return chain as Handout[];
}
