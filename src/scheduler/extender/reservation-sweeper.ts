/**
 * Grants the device plugin never confirmed are taken back after the TTL; only the leader writes the marks, which
 * every replica then reads back through its pod informer. Every replica keeps the reservation gauges.
 */
import type { Logger } from 'pino';
import type { ClusterView } from './cluster-view.js';
import type { PodEffects } from './effects.js';
import type { ExtenderMetrics } from './metrics.js';

export interface ReservationSweeperOptions {
  view: ClusterView;
  effects: PodEffects;
  metrics: ExtenderMetrics;
  log: Logger;
  now: () => number;
  ttlSeconds: number;
  isLeader: () => boolean;
}

/** One sweep; returns the uids of the grants it took back. */
export function sweepReservations(options: ReservationSweeperOptions): string[] {
  const { view, effects, metrics, log, now, ttlSeconds } = options;
  metrics.reservations.set({ phase: 'reserved' }, [...view.book.all()].filter((r) => r.phase === 'reserved').length);
  metrics.reservations.set({ phase: 'confirmed' }, [...view.book.all()].filter((r) => r.phase === 'confirmed').length);
  if (!options.isLeader()) return [];
  const taken: string[] = [];
  for (const uid of view.book.expired(now(), ttlSeconds * 1000)) {
    if (view.isBinding(uid)) continue;
    const expired = view.book.release(uid);
    if (!expired) continue;
    taken.push(uid);
    log.warn({ pod: `${expired.decision.pod.namespace}/${expired.decision.pod.name}`, node: expired.node }, 'grant expired unconfirmed; capacity taken back');
    void effects.markFailed(expired.decision.pod, 'ReservationExpired', `tessera: the device plugin did not confirm the grant within ${ttlSeconds}s`, expired.decision);
  }
  return taken;
}

/** Sweeps every quarter TTL (between 100 ms and 5 s); returns the stop. */
export function startReservationSweeper(options: ReservationSweeperOptions): () => void {
  const timer = setInterval(() => sweepReservations(options), Math.min(5000, Math.max(100, (options.ttlSeconds * 1000) / 4)));
  timer.unref();
  return () => clearInterval(timer);
}
