/**
 * The writes bind makes, and nothing else: the Binding carrying the decision, and on failure a mark on the pod and
 * an Event. Every write survives API trouble (backoff on 5xx, re-read on 409) and is
 * idempotent, so a retried bind, or a bind replayed after a restart, lands exactly once.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { isConflict, KubeJsonClient, makeKeepAliveClient, postBinding, readModifyWrite, recordEvent, withRetry } from '../../kube/index.js';
import type { Logger } from 'pino';
import { type Decision, decodeDecision, encodeHamiDevices, HAMI_POD, hamiDevicesOf, signRelease, TESSERA_POD } from '../../api/index.js';
import type { KeyObject } from 'node:crypto';
import { TesseraError } from '../../errors.js';

export const COMPONENT = 'tessera-scheduler';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Unix seconds as HAMi writes its times. */
const unixSeconds = (ms: number): string => String(Math.floor(ms / 1000));

/** The annotations a granted pod carries: HAMi's, then the signed Tessera decision (`text`, encoded once by bind). */
export function decisionAnnotations(decision: Decision, text: string, now: number): Record<string, string> {
  const devices = encodeHamiDevices(hamiDevicesOf(decision));
  return {
    [HAMI_POD.vgpuNode]: decision.node,
    [HAMI_POD.vgpuTime]: unixSeconds(Date.parse(decision.decidedAt)),
    [HAMI_POD.devicesToAllocate]: devices,
    [HAMI_POD.devicesAllocated]: devices,
    [HAMI_POD.bindPhase]: 'allocating',
    [HAMI_POD.bindTime]: unixSeconds(now),
    [TESSERA_POD.decision]: text,
  };
}

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export class PodEffects {
  private readonly api: CoreV1Api;
  /** The Binding, one per pod, goes through the lean client (src/kube/json-client.ts); the rarer writes through client-node. */
  private readonly binder: KubeJsonClient;

  constructor(
    kubeConfig: KubeConfig,
    /** The scheduler's private key, which signs release marks. */
    private readonly key: KeyObject,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.api = makeKeepAliveClient(kubeConfig, CoreV1Api);
    this.binder = new KubeJsonClient(kubeConfig);
  }

  /** Closes the kept-alive connections of the Binding client. */
  close(): void {
    this.binder.close();
  }

  /** Reads the pod, refusing one that was replaced (same name, new uid) since kube-scheduler asked. */
  private async readPod(pod: PodRef): Promise<V1Pod> {
    const current = await this.api.readNamespacedPod({ name: pod.name, namespace: pod.namespace });
    if (current.metadata?.uid !== pod.uid) {
      throw new TesseraError('CONFLICT', `pod ${pod.namespace}/${pod.name} now has uid ${current.metadata?.uid ?? '?'}, not ${pod.uid}`, { field: 'PodUID' });
    }
    return current;
  }

  /**
   * Binds the pod and records its decision in one write: kube-apiserver copies a Binding's annotations onto the pod
   * as it sets the node, so both land or neither, and a restart mid-bind leaves a pod either unbound and ungranted
   * or bound with its signed decision. A pod still carrying a failed attempt's bind error or release mark (a Binding
   * cannot remove annotations) is cleared first, the one case that takes two writes. A 409 from an earlier attempt
   * of this same bind (the pod on this node with this decision) counts as success.
   */
  async bindWithDecision(pod: PodRef, decision: Decision, text: string, cached?: V1Pod): Promise<void> {
    const annotations = decisionAnnotations(decision, text, this.now());
    const known = cached?.metadata?.uid === pod.uid ? cached : await withRetry(() => this.readPod(pod));
    const stale = known.metadata?.annotations ?? {};
    if (stale[TESSERA_POD.bindError] !== undefined || stale[TESSERA_POD.release] !== undefined) {
      await readModifyWrite(
        () => this.readPod(pod),
        (current) =>
          this.api.patchNamespacedPod(
            {
              name: pod.name,
              namespace: pod.namespace,
              body: { metadata: { resourceVersion: current.metadata?.resourceVersion, annotations: { [TESSERA_POD.bindError]: null, [TESSERA_POD.release]: null } } },
            },
            mergePatch,
          ),
        { cached: known },
      );
    }
    try {
      await withRetry(() => postBinding(this.binder, pod, decision.node, annotations));
    } catch (error) {
      if (!isConflict(error)) throw error;
      const current = await withRetry(() => this.readPod(pod));
      if (current.spec?.nodeName !== decision.node || current.metadata?.annotations?.[TESSERA_POD.decision] !== text) {
        throw new TesseraError('CONFLICT', `pod is already bound to ${current.spec?.nodeName ?? 'another node'}`, { field: 'Node', cause: error });
      }
    }
  }

  /**
   * Marks a pod whose grant `decision` was withdrawn: bind-phase=failed, the reason, the device list removed, and
   * the release mark signed over that decision (which stays, so every replica can check the mark), plus a Warning
   * Event. A pod that carries another decision by now is left alone: this release is not about its grant. A pod
   * without a decision (nothing was granted) is marked failed without a release. Best effort: the pod may be gone.
   */
  async markFailed(pod: PodRef, reason: string, message: string, decision?: Decision): Promise<void> {
    const signature = decision?.signature;
    try {
      await readModifyWrite(
        () => this.readPod(pod),
        async (current) => {
          const text = current.metadata?.annotations?.[TESSERA_POD.decision];
          let held: string | undefined;
          try {
            held = text === undefined ? undefined : decodeDecision(text).signature;
          } catch {
            held = undefined;
          }
          if (held !== undefined && held !== signature) return;
          const failed = { [HAMI_POD.bindPhase]: 'failed', [HAMI_POD.bindTime]: unixSeconds(this.now()), [TESSERA_POD.bindError]: message };
          const annotations: Record<string, string | null> =
            held !== undefined && signature !== undefined ? { ...failed, [HAMI_POD.devicesToAllocate]: null, [TESSERA_POD.release]: signRelease(pod.uid, signature, 'scheduler', this.key) } : failed;
          await this.api.patchNamespacedPod({ name: pod.name, namespace: pod.namespace, body: { metadata: { resourceVersion: current.metadata?.resourceVersion, annotations } } }, mergePatch);
        },
      );
    } catch (error) {
      this.log.warn({ err: error, pod: `${pod.namespace}/${pod.name}` }, 'could not mark the pod failed');
    }
    await this.event(pod, 'Warning', reason, message);
  }

  async event(pod: PodRef, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    await recordEvent(this.api, { kind: 'Pod', ...pod }, { type, reason, message, component: COMPONENT, at: this.now() }, this.log);
  }
}
