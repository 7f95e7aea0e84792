/**
 * What the device plugin writes to the API: the grant a pod really received (bind-phase=success, the decision
 * with the devices and MIG instances it got), a grant moved to an interchangeable pod (signed with this node's own
 * key), a failed allocation (bind-phase=failed with a release mark signed by this node, the reason, an Event), and
 * the node's inventory, public key and labels. Every write is a merge patch conditional on the resourceVersion
 * just read, retried on conflict and 5xx.
 */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import {
  type Decision,
  decisionSigner,
  decodeDecision,
  encodeDecision,
  encodeHamiDevices,
  encodeInventory,
  HAMI_POD,
  hamiDevicesOf,
  type NodeInventory,
  nodeKeyAnnotation,
  signDecision,
  signRelease,
  TESSERA_NODE,
  TESSERA_POD,
  type TrustedKeys,
} from '../api/index.js';
import type { KeyObject } from 'node:crypto';
import { readModifyWrite, recordEvent, withRetry } from '../kube/index.js';
import type { PodRef } from './ledger.js';

export const COMPONENT = 'tessera-device-plugin';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const unixSeconds = (ms: number): string => String(Math.floor(ms / 1000));

export class Records {
  private readonly api: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    /** This node's private key. */
    private readonly key: KeyObject,
    /** The keys decisions on this node verify with (the scheduler's and this node's). */
    private readonly trusted: TrustedKeys,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.api = kubeConfig.makeApiClient(CoreV1Api);
  }

  /** Pods bound to `node` (a fresh read, for when kubelet asks about a pod the watch has not delivered yet). */
  async podsOn(node: string): Promise<V1Pod[]> {
    const list = await withRetry(() => this.api.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${node}` }));
    return list.items.filter((p) => p.spec?.nodeName === node);
  }

  private patchPod(pod: PodRef, write: Record<string, string | null> | ((current: V1Pod) => Record<string, string | null>)): Promise<void> {
    return readModifyWrite(
      () => this.api.readNamespacedPod({ name: pod.name, namespace: pod.namespace }),
      async (current) => {
        if (current.metadata?.uid !== pod.uid) return;
        const annotations = typeof write === 'function' ? write(current) : write;
        await this.api.patchNamespacedPod({ name: pod.name, namespace: pod.namespace, body: { metadata: { resourceVersion: current.metadata.resourceVersion, annotations } } }, mergePatch);
      },
    );
  }

  /** The pod received `decision` (its own, or an interchangeable pod's moved to it): signed and marked success. */
  async allocated(pod: PodRef, decision: Decision): Promise<void> {
    const signed = this.signed(decision);
    const devices = encodeHamiDevices(hamiDevicesOf(signed));
    await this.patchPod(pod, {
      [HAMI_POD.bindPhase]: 'success',
      [HAMI_POD.bindTime]: unixSeconds(this.now()),
      [HAMI_POD.devicesToAllocate]: devices,
      [HAMI_POD.devicesAllocated]: devices,
      [TESSERA_POD.decision]: encodeDecision(signed),
    });
  }

  /** A pod still in flight now holds `decision` (the grant of the pod that was admitted in its place). */
  async regranted(pod: PodRef, decision: Decision): Promise<void> {
    const signed = this.signed(decision);
    const devices = encodeHamiDevices(hamiDevicesOf(signed));
    await this.patchPod(pod, { [HAMI_POD.devicesToAllocate]: devices, [HAMI_POD.devicesAllocated]: devices, [TESSERA_POD.decision]: encodeDecision(signed) });
  }

  /**
   * The decision as the scheduler signed it when its grant is unchanged (the MIG fields filled in are not signed),
   * else (a grant exchanged between pods) signed with this node's key, which signs for no other node.
   */
  private signed(decision: Decision): Decision {
    return decisionSigner(decision, this.trusted) === 'scheduler' ? decision : signDecision(decision, this.key);
  }

  /**
   * bind-phase=failed with a release mark this node signs over the pod's current decision, the reason, and a
   * Warning Event; best effort (the pod may be gone).
   */
  async failed(pod: PodRef, reason: string, message: string): Promise<void> {
    try {
      await this.patchPod(pod, (current) => {
        const text = current.metadata?.annotations?.[TESSERA_POD.decision];
        let signature: string | undefined;
        try {
          signature = text === undefined ? undefined : decodeDecision(text).signature;
        } catch {
          signature = undefined;
        }
        return {
          [HAMI_POD.bindPhase]: 'failed',
          [HAMI_POD.bindTime]: unixSeconds(this.now()),
          [TESSERA_POD.bindError]: message,
          ...(signature ? { [TESSERA_POD.release]: signRelease(pod.uid, signature, 'node', this.key) } : {}),
        };
      });
    } catch (error) {
      this.log.warn({ err: error, pod: `${pod.namespace}/${pod.name}` }, 'could not mark the pod failed');
    }
    await this.event(pod, reason, message);
  }

  /**
   * Evicts a pod that holds this node's devices without a grant for them: a Warning Event says why, then the pod
   * is deleted (its uid as precondition, so a new pod of the same name is never hit). Best effort.
   */
  async evict(pod: PodRef, message: string): Promise<void> {
    await this.event(pod, 'TesseraGrantRevoked', message);
    try {
      await withRetry(() => this.api.deleteNamespacedPod({ name: pod.name, namespace: pod.namespace, body: { preconditions: { uid: pod.uid } } }));
    } catch (error) {
      this.log.warn({ err: error, pod: `${pod.namespace}/${pod.name}` }, 'could not evict a pod that holds devices without a grant');
    }
  }

  /** A Warning Event on the pod; best effort. */
  async event(pod: PodRef, reason: string, message: string): Promise<void> {
    await recordEvent(this.api, { kind: 'Pod', ...pod }, { type: 'Warning', reason, message, component: COMPONENT, at: this.now() }, this.log);
  }

  /** Publishes the inventory annotation (when given) and label changes (null removes a label) on the node. */
  async node(node: string, inventory: NodeInventory | undefined, labels: Record<string, string | null>): Promise<void> {
    const annotations = inventory ? { [TESSERA_NODE.inventory]: encodeInventory(inventory), [TESSERA_NODE.publicKey]: nodeKeyAnnotation(this.key) } : {};
    await withRetry(() => this.api.patchNode({ name: node, body: { metadata: { annotations, labels } } }, mergePatch));
  }
}
