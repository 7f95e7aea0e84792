/**
 * The driver's scheduling queue, after kube-scheduler's: pods wait in arrival order; a pod that failed waits out
 * an exponential backoff (1s doubling to 10s by default); a pod found unschedulable is parked until the cluster
 * changes (a pod leaves, a node changes) and then still waits out its backoff. Pure: the caller passes the time.
 */

export interface BackoffSettings {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { initialMs: 1000, maxMs: 10_000 };

interface Entry {
  attempts: number;
  /** Not tried before this time. */
  readyAt: number;
  /** Unschedulable: waits for a cluster change. */
  parked: boolean;
  /** Being scheduled now. */
  inFlight: boolean;
  /** The cluster changed while it was in flight, so a failure must not park it (kube-scheduler's moveRequestCycle). */
  changedInFlight: boolean;
}

export type NextPod = { key: string } | { waitMs: number } | null;

export class SchedulingQueue {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly backoff: BackoffSettings = DEFAULT_BACKOFF) {}

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** A pending pod was added or changed: a change may make it schedulable, so a parked pod is woken. */
  add(key: string, now: number): void {
    const entry = this.entries.get(key);
    if (!entry) this.entries.set(key, { attempts: 0, readyAt: now, parked: false, inFlight: false, changedInFlight: false });
    else this.wake(entry);
  }

  remove(key: string): void {
    this.entries.delete(key);
  }

  /** The cluster changed in a way that may free capacity: every parked pod becomes eligible after its backoff. */
  wakeAll(): void {
    for (const entry of this.entries.values()) this.wake(entry);
  }

  private wake(entry: Entry): void {
    entry.parked = false;
    if (entry.inFlight) entry.changedInFlight = true;
  }

  /** The next pod to try (marked in flight), or how long until one is ready, or null when none is waiting. */
  next(now: number): NextPod {
    let soonest = Infinity;
    for (const [key, entry] of this.entries) {
      if (entry.parked || entry.inFlight) continue;
      if (entry.readyAt <= now) {
        entry.inFlight = true;
        entry.changedInFlight = false;
        return { key };
      }
      soonest = Math.min(soonest, entry.readyAt);
    }
    return soonest === Infinity ? null : { waitMs: soonest - now };
  }

  /** The attempt ended without a binding: `unschedulable` parks the pod, an error only backs it off. */
  retryLater(key: string, now: number, unschedulable: boolean): void {
    const entry = this.entries.get(key);
    if (!entry) return;
    entry.attempts++;
    entry.readyAt = now + Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** (entry.attempts - 1));
    entry.parked = unschedulable && !entry.changedInFlight;
    entry.inFlight = false;
  }

  attemptsOf(key: string): number {
    return this.entries.get(key)?.attempts ?? 0;
  }
}
