/**
 * The scheduling driver: plays kube-scheduler's part for one profile, over HTTP, exactly as a stock kube-scheduler
 * configured with the same KubeSchedulerConfiguration would. One pod at a time: its own filters
 * (`node-fit.ts`), then each interested extender's filter in turn on the nodes left (NodeNames when
 * nodeCacheCapable), each one's prioritize (scores x weight, summed; skipped when one node is left), and the best
 * node (ties by name); the pod is assumed there and bound in the background (through the binding extender when it
 * is interested in the pod, otherwise a Binding of its own) while the next pod is scheduled. A pod that fits nowhere gets
 * PodScheduled=False with kube-scheduler's summary and a FailedScheduling Event, and is retried with backoff when
 * the cluster changes.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Node, type V1Pod, type V1PodCondition } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { isNotFound, readModifyWrite, recordEvent, withRetry } from '../kube/index.js';
import { ExtenderClient } from './extender-client.js';
import type { ClusterMirror, MirrorChange } from './mirror.js';
import { addUsage, holdsResources, nodeMisfit, pickNode, unschedulableMessage, type ResourceAmounts } from './node-fit.js';
import { isFinished, podKey } from './pods.js';
import { SchedulingQueue, type BackoffSettings } from './queue.js';
import { DEFAULT_SCHEDULER_NAME, type ExtenderSettings } from './scheduler-config.js';
import { DriverStatsRecorder, type DriverStats } from './stats.js';

export interface DriverOptions {
  kubeConfig: KubeConfig;
  mirror: ClusterMirror;
  /** The profile this driver plays. */
  schedulerName: string;
  /** The configuration's extenders, in order (none: kube-scheduler's own filters alone). */
  extenders: readonly ExtenderSettings[];
  log: Logger;
  backoff?: BackoffSettings;
  /** Wall clock in ms (Event and condition times, backoff). */
  now?: () => number;
}

/** How an attempt ended. */
type Outcome = { kind: 'chosen'; node: string } | { kind: 'unschedulable'; message: string } | { kind: 'error'; message: string };

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export class SchedulingDriver {
  private readonly api: CoreV1Api;
  private readonly extenders: ExtenderClient[];
  /** Resources an extender manages with ignoredByScheduler: the driver's own fit check leaves them out. */
  private readonly ignored: ReadonlySet<string>;
  private readonly queue: SchedulingQueue;
  private readonly stats = new DriverStatsRecorder();
  private readonly now: () => number;
  /** Pods bound by this driver that the informer has not shown bound yet (kube-scheduler's assumed pods). */
  private readonly assumed = new Map<string, { node: string; pod: V1Pod }>();
  /** The last failure message recorded per pending pod, so retries do not repeat the same Event. */
  private readonly lastFailure = new Map<string, string>();
  /** Binding cycles running in the background. */
  private readonly binding = new Set<Promise<void>>();
  private readonly unsubscribe: () => void;
  private running = true;
  private wakeLoop: () => void = () => undefined;
  private readonly loop: Promise<void>;

  constructor(private readonly options: DriverOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.extenders = options.extenders.map((settings) => new ExtenderClient(settings));
    this.ignored = new Set(options.extenders.flatMap((e) => e.managedResources.filter((r) => r.ignoredByScheduler).map((r) => r.name)));
    this.queue = new SchedulingQueue(options.backoff);
    this.now = options.now ?? Date.now;
    for (const pod of options.mirror.pods()) if (this.isPendingHere(pod)) this.queue.add(podKey(pod), this.now());
    this.unsubscribe = options.mirror.subscribe((change) => this.onChange(change));
    this.loop = this.run();
  }

  /** A pod this profile must place: unbound, named for this scheduler, not being deleted, not finished. */
  private isPendingHere(pod: V1Pod): boolean {
    return !pod.spec?.nodeName && (pod.spec?.schedulerName ?? DEFAULT_SCHEDULER_NAME) === this.options.schedulerName && !pod.metadata?.deletionTimestamp && !isFinished(pod);
  }

  private onChange(change: MirrorChange): void {
    if (change.kind === 'node') {
      this.queue.wakeAll();
    } else {
      const key = podKey(change.object);
      if (change.type === 'upsert' && this.isPendingHere(change.object)) {
        this.queue.add(key, this.now());
      } else {
        this.queue.remove(key);
        this.lastFailure.delete(key);
        if (change.type === 'remove' || change.object.spec?.nodeName) this.assumed.delete(key);
      }
      // Capacity frees when an assigned pod leaves or finishes.
      const freed = change.previous !== undefined && holdsResources(change.previous) && (change.type === 'remove' || !holdsResources(change.object));
      if (freed) this.queue.wakeAll();
    }
    this.wakeLoop();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const next = this.queue.next(this.now());
      if (next && 'key' in next) {
        await this.scheduleOne(next.key);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = next ? setTimeout(resolve, next.waitMs) : undefined;
        this.wakeLoop = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /**
   * The scheduling cycle for one pod. When it picks a node, the pod is assumed there (its requests count against the
   * node at once) and the binding cycle runs in the background, as in kube-scheduler, so the next pod does not wait.
   */
  private async scheduleOne(key: string): Promise<void> {
    const pod = this.options.mirror.pod(key);
    if (!pod || !this.isPendingHere(pod)) {
      this.queue.remove(key);
      return;
    }
    const started = performance.now();
    let outcome: Outcome;
    try {
      outcome = await this.attempt(pod);
    } catch (error) {
      outcome = { kind: 'error', message: (error as Error).message };
    }
    if (outcome.kind === 'chosen') {
      this.stats.decided(performance.now() - started);
      this.assumed.set(key, { node: outcome.node, pod });
      const binding = this.bindCycle(key, pod, outcome.node).finally(() => this.binding.delete(binding));
      this.binding.add(binding);
      return;
    }
    await this.failed(key, pod, outcome.kind, outcome.message);
  }

  private async bindCycle(key: string, pod: V1Pod, node: string): Promise<void> {
    const log = this.options.log.child({ pod: key, node, attempt: this.queue.attemptsOf(key) + 1 });
    try {
      const binder = this.extenders.find((e) => e.isBinder && e.isInterested(pod));
      if (binder) await binder.bind(pod, node);
      else await this.bindItself(pod, node);
    } catch (error) {
      this.assumed.delete(key);
      await this.failed(key, pod, 'error', `binding rejected: ${(error as Error).message}`);
      return;
    }
    this.queue.remove(key);
    this.lastFailure.delete(key);
    this.stats.bound(this.now());
    log.info('pod bound');
  }

  /** Backs the pod off (parks it when unschedulable) and, when the reason is new, records it on the pod. */
  private async failed(key: string, pod: V1Pod, kind: 'unschedulable' | 'error', message: string): Promise<void> {
    this.queue.retryLater(key, this.now(), kind === 'unschedulable');
    if (kind === 'unschedulable') this.stats.unschedulable(this.now());
    else this.stats.failed();
    this.options.log.info({ pod: key, attempt: this.queue.attemptsOf(key), outcome: kind, reason: message }, 'pod not scheduled');
    this.wakeLoop();
    if (this.lastFailure.get(key) === message) return;
    this.lastFailure.set(key, message);
    await this.recordFailure(pod, kind === 'unschedulable' ? 'Unschedulable' : 'SchedulerError', message);
  }

  /** kube-scheduler's own filters, then the extenders' filters and prioritizes; the node to bind to, or why none. */
  private async attempt(pod: V1Pod): Promise<Outcome> {
    const nodes = this.options.mirror.nodes();
    const ignored = this.ignored;
    const usage = this.usageByNode();
    const reasons = new Map<string, string>();
    const candidates: V1Node[] = [];
    for (const node of nodes) {
      const name = node.metadata?.name ?? '';
      const misfit = nodeMisfit(pod, node, usage.get(name) ?? new Map(), ignored);
      if (misfit) reasons.set(name, misfit);
      else candidates.push(node);
    }
    let feasible = candidates;
    // kube-scheduler's findNodesThatPassExtenders: each interested extender narrows what the one before it left.
    for (const extender of this.extenders) {
      if (feasible.length === 0) break;
      if (!extender.isInterested(pod)) continue;
      let result;
      try {
        result = await extender.filter(pod, feasible);
      } catch (error) {
        if (!extender.ignorable) return { kind: 'error', message: `extender filter: ${(error as Error).message}` };
        continue;
      }
      for (const [name, reason] of [...Object.entries(result.failed), ...Object.entries(result.unresolvable)]) reasons.set(name, reason);
      const kept = new Set(result.feasible);
      for (const node of feasible) {
        const name = node.metadata?.name ?? '';
        if (!kept.has(name) && !reasons.has(name)) reasons.set(name, 'node(s) were filtered out by the extender');
      }
      feasible = feasible.filter((node) => kept.has(node.metadata?.name ?? ''));
    }
    if (feasible.length === 0) return { kind: 'unschedulable', message: unschedulableMessage(nodes.length, reasons) };
    const names = feasible.map((n) => n.metadata?.name ?? '');
    return { kind: 'chosen', node: pickNode(names, await this.scores(pod, feasible)) };
  }

  /** Every interested extender's scores, summed; skipped when one node is left; prioritize errors are ignored, as in kube-scheduler. */
  private async scores(pod: V1Pod, feasible: readonly V1Node[]): Promise<Map<string, number>> {
    const total = new Map<string, number>();
    if (feasible.length < 2) return total;
    for (const extender of this.extenders) {
      if (!extender.isInterested(pod)) continue;
      try {
        for (const [node, score] of await extender.prioritize(pod, feasible)) total.set(node, (total.get(node) ?? 0) + score);
      } catch (error) {
        this.options.log.warn({ pod: podKey(pod), err: error }, 'extender prioritize failed; scoring ignored');
      }
    }
    return total;
  }

  /** Requests of the pods on each node, counting pods bound here that the informer has not reported yet. */
  private usageByNode(): Map<string, ResourceAmounts> {
    const usage = new Map<string, ResourceAmounts>();
    const count = (node: string, pod: V1Pod): void => {
      const used = usage.get(node) ?? new Map<string, number>();
      usage.set(node, used);
      addUsage(used, pod);
    };
    for (const pod of this.options.mirror.pods()) if (holdsResources(pod)) count(pod.spec?.nodeName ?? '', pod);
    for (const { node, pod } of this.assumed.values()) count(node, pod);
    return usage;
  }

  private async bindItself(pod: V1Pod, node: string): Promise<void> {
    const { name = '', namespace = 'default', uid } = pod.metadata ?? {};
    await withRetry(() =>
      this.api.createNamespacedPodBinding({
        name,
        namespace,
        body: { apiVersion: 'v1', kind: 'Binding', metadata: { name, namespace, uid }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
      }),
    );
  }

  /** PodScheduled=False with the reason on the pod's status, and a FailedScheduling Event; the pod may be gone. */
  private async recordFailure(pod: V1Pod, reason: 'Unschedulable' | 'SchedulerError', message: string): Promise<void> {
    const { name = '', namespace = 'default', uid } = pod.metadata ?? {};
    const at = this.now();
    const condition: V1PodCondition = { type: 'PodScheduled', status: 'False', reason, message, lastTransitionTime: new Date(at) };
    try {
      await readModifyWrite(
        () => this.api.readNamespacedPodStatus({ name, namespace }),
        async (current) => {
          if (current.metadata?.uid !== uid || current.spec?.nodeName) return;
          const conditions = [...(current.status?.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), condition];
          await this.api.patchNamespacedPodStatus({ name, namespace, body: { metadata: { resourceVersion: current.metadata?.resourceVersion }, status: { conditions } } }, mergePatch);
        },
      );
    } catch (error) {
      // A pod deleted meanwhile needs no condition; anything else is worth a line, and the Event still goes out.
      if (!isNotFound(error)) this.options.log.warn({ pod: podKey(pod), err: error }, 'could not record the scheduling failure');
    }
    await recordEvent(
      this.api,
      { kind: 'Pod', name, namespace, ...(uid ? { uid } : {}) },
      { type: 'Warning', reason: 'FailedScheduling', message, component: this.options.schedulerName, at },
      this.options.log,
    );
  }

  /** Counters, rates and the pending pods with their last reason, for the dashboard. */
  snapshot(): DriverStats {
    return this.stats.snapshot(this.now(), Object.fromEntries(this.lastFailure));
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe();
    this.wakeLoop();
    await this.loop;
    await Promise.all(this.binding);
  }
}
