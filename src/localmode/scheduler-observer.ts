/**
 * The dashboard's scheduling figures when the stock kube-scheduler decides (`--control-plane`): it does not report
 * to us, so its outcomes are read off the pods: a pod that gains a node was bound, one whose PodScheduled turns
 * False was found unschedulable. Decision latency is kube-scheduler's own to report (its /metrics), so it stays
 * unknown here.
 */
import type { V1Pod } from '@kubernetes/client-node';
import type { ClusterMirror, MirrorChange } from './mirror.js';
import { DriverStatsRecorder, type DriverStats } from './stats.js';

function unschedulableMessage(pod: V1Pod | undefined): string | undefined {
  const condition = (pod?.status?.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False');
  return condition ? (condition.message ?? condition.reason ?? 'unschedulable') : undefined;
}

export class SchedulerObserver {
  private readonly recorder = new DriverStatsRecorder();
  private readonly unsubscribe: () => void;

  constructor(
    mirror: ClusterMirror,
    private readonly now: () => number = Date.now,
  ) {
    this.unsubscribe = mirror.subscribe((change) => this.observe(change));
  }

  private observe(change: MirrorChange): void {
    if (change.kind !== 'pod' || change.type !== 'upsert') return;
    const { object, previous } = change;
    if (object.spec?.nodeName && !previous?.spec?.nodeName) this.recorder.bound(this.now());
    else if (!object.spec?.nodeName && unschedulableMessage(object) !== undefined && unschedulableMessage(object) !== unschedulableMessage(previous)) this.recorder.unschedulable(this.now());
  }

  snapshot(): DriverStats {
    return this.recorder.snapshot(this.now(), {});
  }

  stop(): void {
    this.unsubscribe();
  }
}
