/**
 * The writes bind makes, and nothing else: record the decision on the pod, create the Binding, and on failure
 * mark the pod and raise an Event. Every write survives API trouble (backoff on 5xx, re-read on 409) and is
 * idempotent, so a retried bind, or a bind replayed after a restart, lands exactly once.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { makeKeepAliveClient } from '../../kube/client.js';
import type { Logger } from 'pino';
import { HAMI_POD, TESSERA_POD } from '../../api/annotations.js';
import type { KeyObject } from 'node:crypto';
import { decodeDecision, encodeDecision, type Decision } from '../../api/decision.js';
import { signRelease } from '../../api/signing.js';
import { encodeHamiDevices, hamiDevicesOf } from '../../api/hami.js';
import { TesseraError } from '../../errors.js';
import { recordEvent } from '../../kube/events.js';
import { isConflict, readModifyWrite, withRetry } from '../../kube/retry.js';

export const COMPONENT = 'tessera-scheduler';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Unix seconds as HAMi writes its times. */
const unixSeconds = (ms: number): string => String(Math.floor(ms / 1000));

/** The annotations a granted pod carries: HAMi's, then the signed Tessera decision. */
export function decisionAnnotations(decision: Decision, now: number): Record<string, string> {
  const devices = encodeHamiDevices(hamiDevicesOf(decision));
  return {
    [HAMI_POD.vgpuNode]: decision.node,
    [HAMI_POD.vgpuTime]: unixSeconds(Date.parse(decision.decidedAt)),
    [HAMI_POD.devicesToAllocate]: devices,
    [HAMI_POD.devicesAllocated]: devices,
    [HAMI_POD.bindPhase]: 'allocating',
    [HAMI_POD.bindTime]: unixSeconds(now),
    [TESSERA_POD.decision]: encodeDecision(decision),
  };
}

export interface PodRef {
  namespace: string;
  name: string;
  uid: string;
}

export class PodEffects {
  private readonly api: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    /** The scheduler's private key, which signs release marks. */
    private readonly key: KeyObject,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.api = makeKeepAliveClient(kubeConfig, CoreV1Api);
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
   * Writes the decision annotations, conditional on the resourceVersion of `cached` (the informer's copy) or of a
   * fresh read; a 409 reads again. Resolves to the decision's annotation text.
   */
  async recordDecision(pod: PodRef, decision: Decision, cached?: V1Pod): Promise<string> {
    const annotations = decisionAnnotations(decision, this.now());
    await readModifyWrite(
      () => this.readPod(pod),
      async (current) => {
        const bound = current.spec?.nodeName;
        if (bound && bound !== decision.node) throw new TesseraError('CONFLICT', `pod is already bound to ${bound}`, { field: 'Node' });
        const existing = current.metadata?.annotations ?? {};
        if (existing[TESSERA_POD.decision] === annotations[TESSERA_POD.decision]) return;
        await this.api.patchNamespacedPod(
          { name: pod.name, namespace: pod.namespace, body: { metadata: { resourceVersion: current.metadata?.resourceVersion, annotations: { ...annotations, [TESSERA_POD.bindError]: null, [TESSERA_POD.release]: null } } } },
          mergePatch,
        );
      },
      cached?.metadata?.uid === pod.uid ? { cached } : {},
    );
    return annotations[TESSERA_POD.decision] as string;
  }

  /** Creates the Binding; a pod already bound to this node counts as success, so retried binds are harmless. */
  async bind(pod: PodRef, node: string): Promise<void> {
    try {
      await withRetry(() =>
        this.api.createNamespacedPodBinding({
          name: pod.name,
          namespace: pod.namespace,
          body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid }, target: { apiVersion: 'v1', kind: 'Node', name: node } },
        }),
      );
    } catch (error) {
      if (!isConflict(error)) throw error;
      const current = await withRetry(() => this.readPod(pod));
      if (current.spec?.nodeName !== node) throw new TesseraError('CONFLICT', `pod is already bound to ${current.spec?.nodeName ?? 'another node'}`, { field: 'Node', cause: error });
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
            held !== undefined && signature !== undefined
              ? { ...failed, [HAMI_POD.devicesToAllocate]: null, [TESSERA_POD.release]: signRelease(pod.uid, signature, 'scheduler', this.key) }
              : failed;
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
