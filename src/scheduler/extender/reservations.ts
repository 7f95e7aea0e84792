/**
 * The book of granted capacity, by pod. An entry is made when bind decides (reserved), confirmed when the device
 * plugin reports the pod's devices allocated or the pod runs, and dropped when the pod goes away, fails, or stays
 * unconfirmed past the TTL. There is no node lock: any number of entries may be reserved on one node at once.
 * Time is passed in, so the book stays deterministic; `apply`/`release` keep the allocator's view in step.
 */
import type { Decision } from '../../api/index.js';

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
  /** Unconfirmed grants per node, so filter can skip the in-flight check on the many nodes that have none. */
  private readonly reservedByNode = new Map<string, number>();
  /** Per node, a stamp that moves on every change to its entries (never repeats: one clock for all nodes). */
  private readonly stamps = new Map<string, number>();
  private clock = 0;

  constructor(private readonly hooks: CapacityHooks<A>) {}

  get(podUid: string): Reservation<A> | undefined {
    return this.byUid.get(podUid);
  }

  onNode(node: string): ReadonlySet<Reservation<A>> {
    return this.byNode.get(node) ?? new Set();
  }

  /** How many grants on `node` still await the device plugin. */
  reservedOn(node: string): number {
    return this.reservedByNode.get(node) ?? 0;
  }

  private countReserved(node: string, delta: number): void {
    const count = (this.reservedByNode.get(node) ?? 0) + delta;
    if (count === 0) this.reservedByNode.delete(node);
    else this.reservedByNode.set(node, count);
  }

  /** Moves whenever a grant on `node` is made, confirmed, replaced or dropped: equal stamps, same entries. */
  stampOf(node: string): number {
    return this.stamps.get(node) ?? 0;
  }

  private touch(node: string): void {
    this.stamps.set(node, ++this.clock);
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
    if (reservation.phase === 'reserved') this.countReserved(reservation.node, 1);
    this.touch(reservation.node);
    return true;
  }

  confirm(podUid: string): void {
    const reservation = this.byUid.get(podUid);
    if (reservation?.phase !== 'reserved') return;
    reservation.phase = 'confirmed';
    this.countReserved(reservation.node, -1);
    this.touch(reservation.node);
  }

  /**
   * Replaces what a pod was granted on the same node (the device plugin exchanged it for an interchangeable grant)
   * without touching capacity: the caller has already moved the allocator's state from the old grant to the new.
   */
  replace(podUid: string, decision: Decision, allocation: A): void {
    const reservation = this.byUid.get(podUid);
    if (!reservation) return;
    reservation.decision = decision;
    reservation.allocation = allocation;
    this.touch(reservation.node);
  }

  /** Frees the pod's capacity; a pod without a grant is a no-op, so release is idempotent. */
  release(podUid: string): Reservation<A> | undefined {
    const reservation = this.byUid.get(podUid);
    if (!reservation) return undefined;
    this.byUid.delete(podUid);
    const onNode = this.byNode.get(reservation.node);
    onNode?.delete(reservation);
    if (onNode?.size === 0) this.byNode.delete(reservation.node);
    if (reservation.phase === 'reserved') this.countReserved(reservation.node, -1);
    this.touch(reservation.node);
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
