/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: a candidate takes the lease when it is
 * unheld, already its own, or not renewed for leaseDuration as measured on the candidate's own clock since it
 * last saw the record change (so clock skew between replicas does not matter). Every write is a PUT carrying
 * the resourceVersion it read, so two candidates never both win: the loser gets 409. The leader steps down when
 * it cannot renew within renewDeadline, which is shorter than leaseDuration, so it has stopped before anyone
 * else may take over. On stop the leader releases the lease so a follower takes over at once.
 */
import { CoordinationV1Api, V1MicroTime, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { makeKeepAliveClient } from './client.js';
import { isConflict, isNotFound } from './retry.js';

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  /** Unique per replica (pod name plus a random suffix is customary). */
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  log: Logger;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
}

export interface LeaderElector {
  isLeader(): boolean;
  /**
   * Stops campaigning. By default a leader releases the lease so a follower takes over at once; with
   * `release: false` it just goes quiet, as a crashed process would, and a follower waits out the lease.
   */
  stop(options?: { release?: boolean }): Promise<void>;
}

/** kube-scheduler's defaults. */
export const LEASE_DEFAULTS = { leaseDurationSeconds: 15, renewDeadlineSeconds: 10, retryPeriodSeconds: 2 };

export function startLeaderElection(options: LeaderElectionOptions): LeaderElector {
  const settings = { ...LEASE_DEFAULTS, ...options };
  if (!(settings.retryPeriodSeconds < settings.renewDeadlineSeconds && settings.renewDeadlineSeconds < settings.leaseDurationSeconds)) {
    throw new Error('leader election needs retryPeriod < renewDeadline < leaseDuration');
  }
  const api = makeKeepAliveClient(options.kubeConfig, CoordinationV1Api);
  const { namespace, name, identity, log } = options;
  let leading = false;
  let lastRenewal = 0;
  let observed: { holder: string; renewTime: string; seenAt: number } | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let round: Promise<void> = Promise.resolve();

  function setLeading(value: boolean): void {
    if (leading === value) return;
    leading = value;
    log.info({ lease: `${namespace}/${name}`, identity }, value ? 'became leader' : 'stopped leading');
    (value ? options.onStartedLeading : options.onStoppedLeading)?.();
  }

  function spec(previous: V1Lease['spec'], now: Date): NonNullable<V1Lease['spec']> {
    const changing = previous?.holderIdentity !== identity;
    return {
      holderIdentity: identity,
      leaseDurationSeconds: settings.leaseDurationSeconds,
      acquireTime: changing ? new V1MicroTime(now) : previous?.acquireTime,
      renewTime: new V1MicroTime(now),
      leaseTransitions: (previous?.leaseTransitions ?? 0) + (changing && previous?.holderIdentity ? 1 : 0),
    };
  }

  /** One attempt to acquire or renew; true when this replica holds the lease afterwards. */
  async function tryAcquireOrRenew(): Promise<boolean> {
    const now = new Date();
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: spec(undefined, now) } });
      return true;
    }
    const holder = lease.spec?.holderIdentity ?? '';
    // client-node hands MicroTime back as a string or a Date depending on the path; only changes matter here.
    const renewed: unknown = lease.spec?.renewTime;
    const renewTime = renewed instanceof Date ? renewed.toISOString() : String(renewed ?? '');
    if (!observed || observed.holder !== holder || observed.renewTime !== renewTime) observed = { holder, renewTime, seenAt: Date.now() };
    const duration = (lease.spec?.leaseDurationSeconds ?? settings.leaseDurationSeconds) * 1000;
    const expired = observed.seenAt + duration < Date.now();
    if (holder !== '' && holder !== identity && !expired) return false;
    await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: spec(lease.spec, now) } });
    return true;
  }

  async function tick(): Promise<void> {
    try {
      const held = await tryAcquireOrRenew();
      if (held) lastRenewal = Date.now();
      setLeading(held);
    } catch (error) {
      if (!isConflict(error)) log.warn({ err: error, lease: `${namespace}/${name}` }, 'lease update failed');
      // A leader rides out API trouble until renewDeadline, then stops before another replica may take over;
      // a conflict means someone else wrote the lease, so this replica no longer holds it.
      const withinDeadline = Date.now() - lastRenewal <= settings.renewDeadlineSeconds * 1000;
      if (!(leading && withinDeadline && !isConflict(error))) setLeading(false);
    }
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      round = tick().finally(schedule);
    }, settings.retryPeriodSeconds * 1000);
  }
  round = tick().finally(schedule);

  return {
    isLeader: () => leading,
    async stop({ release = true } = {}) {
      stopped = true;
      clearTimeout(timer);
      await round;
      if (!leading) return;
      setLeading(false);
      if (!release) return;
      try {
        const lease = await api.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity !== identity) return;
        await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } } });
      } catch (error) {
        log.warn({ err: error }, 'could not release the lease; a follower takes over when it expires');
      }
    },
  };
}
