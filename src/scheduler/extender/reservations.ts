/**
 * The book of granted capacity, by pod. An entry is made when bind decides (reserved), confirmed when the device
 * plugin reports the pod's devices allocated or the pod runs, and dropped when the pod goes away, fails, or stays
 * unconfirmed past the TTL. There is no node lock: any number of entries may be reserved on one node at once.
 * Time is passed in, so the book stays deterministic; `apply`/`release` keep the allocator's view in step.
 */
import type { Decision } from '../../api/decision.js';

export type ReservationPhase = 'reserved' | 'confirmed';

export interface Reservation<A> {
  podUid: string;
  node: string;
  decision: Decision;
  /** The allocator's record of the same grant. */
  allocation: A;
  phase: ReservationPhase;
  /** Milliseconds (caller's clock) when the entry was made. */
  since: number;
}

export interface CapacityHooks<A> {
  apply(reservation: Reservation<A>): void;
  release(reservation: Reservation<A>): void;
}

export class Reservations<A> {
  private readonly byUid = new Map<string, Reservation<A>>();
  private readonly byNode = new Map<string, Set<Reservation<A>>>();

  constructor(private readonly hooks: CapacityHooks<A>) {}

  get(podUid: string): Reservation<A> | undefined {
    return this.byUid.get(podUid);
  }

  onNode(node: string): ReadonlySet<Reservation<A>> {
    return this.byNode.get(node) ?? new Set();
  }

  get size(): number {
    return this.byUid.size;
  }

  /** Records a grant and takes its capacity. A pod holds at most one grant: a second hold is refused (false). */
  hold(reservation: Reservation<A>): boolean {
    if (this.byUid.has(reservation.podUid)) return false;
    this.hooks.apply(reservation);
    this.byUid.set(reservation.podUid, reservation);
    let onNode = this.byNode.get(reservation.node);
    if (!onNode) this.byNode.set(reservation.node, (onNode = new Set()));
    onNode.add(reservation);
    return true;
  }

  confirm(podUid: string): void {
    const reservation = this.byUid.get(podUid);
    if (reservation) reservation.phase = 'confirmed';
  }

  /** Frees the pod's capacity; a pod without a grant is a no-op, so release is idempotent. */
  release(podUid: string): Reservation<A> | undefined {
    const reservation = this.byUid.get(podUid);
    if (!reservation) return undefined;
    this.byUid.delete(podUid);
    const onNode = this.byNode.get(reservation.node);
    onNode?.delete(reservation);
    if (onNode?.size === 0) this.byNode.delete(reservation.node);
    this.hooks.release(reservation);
    return reservation;
  }

  /** Pods whose grant is still unconfirmed `ttlMs` after it was made. */
  expired(now: number, ttlMs: number): string[] {
    const out: string[] = [];
    for (const r of this.byUid.values()) if (r.phase === 'reserved' && now - r.since > ttlMs) out.push(r.podUid);
    return out;
  }

  all(): IterableIterator<Reservation<A>> {
    return this.byUid.values();
  }
}
