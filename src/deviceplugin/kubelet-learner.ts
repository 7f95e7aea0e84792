/**
 * The device plugin's kubelet-record learner: reads kubelet's pod-resources records to learn which pod received
 * each handout (and records it on the pod), and evicts pods that hold this plugin's devices without a valid grant.
 */
import { credentials } from '@grpc/grpc-js';
import type { V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { TrustedKeys } from '../api/index.js';
import type { RequestConfig } from '../request/index.js';
import { kubeletApis, unixTarget, type ListPodResourcesResponse } from './api.js';
import { listedDeviceIds, unlistedInitContainers } from './init-containers.js';
import { type Ledger, type PendingGrant, type PodRef } from './ledger.js';
import type { Records } from './records.js';
import { verifyGrant, type PodLike } from './verify.js';

export interface KubeletLearnerOptions {
  node: string;
  podResourcesSocket: string;
  requestConfig: RequestConfig;
  trusted: TrustedKeys;
  ledger: Ledger;
  records: Records;
  log: Logger;
  /** The pod on this node with this uid, as last seen (undefined when not known). */
  podOf: (uid: string) => V1Pod | undefined;
  /** The pod on this node called `namespace/name` (re-listed from the API when not known yet). */
  podNamed: (namespace: string, name: string) => Promise<V1Pod | undefined>;
  /** Keeps the unplaced handouts on disk. */
  saveState: () => void;
  stopped: () => boolean;
}

const LEARN_ATTEMPTS = 40;
const LEARN_DELAY_MS = 25;

export const refOf = (pod: PodLike): PodRef => ({ uid: pod.metadata?.uid ?? '', namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '' });
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class KubeletLearner {
  /** Pods evicted for holding devices without a grant (once each). */
  private readonly evicted = new Set<string>();

  private readonly podWrites = new Map<string, Promise<void>>();

  constructor(private readonly options: KubeletLearnerOptions) {}

  /**
   * Pods that kubelet says hold this plugin's devices but whose decision is not valid for them here (no decision,
   * a forged, copied or foreign one): each is evicted with an Event, and the handouts it took go back to the grants
   * they were made from. Returns how many handouts were taken back. `listed`: kubelet's record, when just read.
   */
  async revokeUnentitled(listed?: ListPodResourcesResponse): Promise<number> {
    const record = listed ?? (await this.listPodResources());
    const resource = this.options.requestConfig.resourceCountName;
    let taken = 0;
    for (const entry of record.pod_resources) {
      const ids = entry.containers.flatMap((c) => c.devices.filter((d) => d.resource_name === resource).flatMap((d) => d.device_ids));
      if (ids.length === 0) continue;
      const pod = await this.options.podNamed(entry.namespace, entry.name);
      if (!pod) continue;
      const verdict = verifyGrant(pod, this.options.node, this.options.trusted, this.options.requestConfig);
      if (verdict.ok) continue;
      taken += this.options.ledger.revoke(ids);
      const ref = refOf(pod);
      if (this.evicted.has(ref.uid)) continue;
      this.evicted.add(ref.uid);
      const message = `tessera: ${ref.namespace}/${ref.name} holds GPU devices on ${this.options.node} without a valid grant (${verdict.error}); evicted, the devices go back to the pod they were granted to`;
      this.options.log.warn({ pod: `${ref.namespace}/${ref.name}`, devices: ids.length, reason: verdict.error }, 'evicting a pod that holds devices without a grant');
      await this.options.records.evict(ref, message);
    }
    return taken;
  }

  /** Writes to one pod in the order the ledger decided them; writes to different pods run side by side. */
  private onPod(uid: string, write: () => Promise<void>): Promise<void> {
    const next = (this.podWrites.get(uid) ?? Promise.resolve()).then(write);
    const settledWrite = next.catch(() => undefined);
    this.podWrites.set(uid, settledWrite);
    void settledWrite.then(() => {
      if (this.podWrites.get(uid) === settledWrite) this.podWrites.delete(uid);
    });
    return next;
  }

  private async record(pod: PodRef, decision: PendingGrant['decision'], swapped: PendingGrant | undefined): Promise<void> {
    this.options.saveState();
    try {
      const writes = [this.onPod(pod.uid, () => this.options.records.allocated(pod, decision))];
      if (swapped) writes.push(this.onPod(swapped.pod.uid, () => this.options.records.regranted(swapped.pod, swapped.decision)));
      await Promise.all(writes);
      this.options.log.info({ pod: `${pod.namespace}/${pod.name}`, swappedWith: swapped ? `${swapped.pod.namespace}/${swapped.pod.name}` : undefined }, 'pod allocated');
    } catch (error) {
      this.options.log.error({ err: error, pod: `${pod.namespace}/${pod.name}` }, 'could not record the allocation');
    }
  }

  /** Asks kubelet's pod-resources API which pod holds the devices handed out, until every handout is placed. */
  async learn(): Promise<void> {
    const resource = this.options.requestConfig.resourceCountName;
    // Attempts count only while nothing is learned: kubelet records a container as soon as Allocate returns.
    for (let idle = 0; idle < LEARN_ATTEMPTS && !this.options.stopped() && this.options.ledger.unresolvedHandouts().length > 0; idle++) {
      let listed: ListPodResourcesResponse;
      try {
        listed = await this.listPodResources();
      } catch (error) {
        this.options.log.warn({ err: error }, 'pod-resources List failed');
        await sleep(LEARN_DELAY_MS * 4);
        continue;
      }
      if ((await this.revokeUnentitled(listed).catch(() => 0)) > 0) idle = -1;
      const recording: Promise<void>[] = [];
      for (const entry of listed.pod_resources) {
        const grant = this.options.ledger.pendingGrants().find((g) => g.pod.name === entry.name && g.pod.namespace === entry.namespace);
        if (!grant) continue;
        const ids = listedDeviceIds(grant.decision, unlistedInitContainers(this.options.podOf(grant.pod.uid)), entry, resource);
        if (ids.some((list) => list?.length === 0)) continue;
        const learned = this.options.ledger.learn(grant.pod, ids);
        if (!learned) continue;
        idle = -1;
        recording.push(this.record(learned.received.pod, learned.received.decision, learned.swappedWith));
      }
      await Promise.all(recording);
      if (this.options.ledger.unresolvedHandouts().length > 0 && idle >= 0) await sleep(LEARN_DELAY_MS);
    }
  }

  private listPodResources(): Promise<ListPodResourcesResponse> {
    const client = new (kubeletApis().PodResourcesLister)(unixTarget(this.options.podResourcesSocket), credentials.createInsecure());
    const list = client.List as (request: object, options: { deadline: number }, callback: (error: Error | null, response?: ListPodResourcesResponse) => void) => void;
    return new Promise((resolve, reject) => {
      list.call(client, {}, { deadline: Date.now() + 2000 }, (error, response) => {
        client.close();
        if (error || !response) reject(error ?? new Error('empty pod-resources response'));
        else resolve(response);
      });
    });
  }
}
