/**
 * The device plugin's MIG instance manager: applies a grant's plan on the GPU (one operation at a time per GPU),
 * never destroys an instance a pod on the node holds or plans, clears idle instances in a plan's way, and reclaims
 * instances left idle past the grace period.
 */
import type { Logger } from 'pino';
import type { DecisionDevice, InventoryMigInstance } from '../api/index.js';
import { TesseraError } from '../errors.js';
import { findProfile, resolveGpuModel } from '../geometry/index.js';
import type { GpuBackend, GpuInfo } from './backend.js';
import type { MigConfigState } from './labels.js';

/** What the manager asks of the pods on the node. */
export interface MigHolders {
  /** Whether a pod on the node holds or plans `<gpu>/<profile>@<start>`; `fresh` re-reads the pods' grants first. */
  placementHeld(key: string, fresh?: boolean): boolean;
  /** Whether the pod `uid` is on the node and not finished. */
  podActive(uid: string): boolean;
  /** Whether a handout kubelet has not yet placed holds this MIG device. */
  unplaced(migDeviceUuid: string): boolean;
  /** The pods on the node, not finished, whose recorded grant (handed out) holds `<gpu>/<profile>@<start>`. */
  allocatedTo(key: string): string[];
}

export interface MigManagerOptions {
  backend: GpuBackend;
  holders: MigHolders;
  log: Logger;
  now: () => number;
  /** Idle instances no pod uses or plans are destroyed after this long (ms); 0 turns reclaiming off. */
  idleGraceMs: number;
  /** The MIG manager's state label around a reconfiguration. */
  migState: (state: MigConfigState) => Promise<void>;
  /** After a reconfiguration: re-read and republish the node. */
  changed: () => Promise<void>;
}

export const placementKey = (gpuUuid: string, instance: { profile: string; start: number }): string => `${gpuUuid}/${instance.profile}@${instance.start}`;

export class MigInstanceManager {
  /** MIG operations run one at a time per GPU. */
  private readonly gpuQueues = new Map<string, Promise<unknown>>();
  /**
   * MIG device UUIDs handed to a container, with the uid of the pod whose grant it was: never destroyed by a later
   * plan while that pod is still on the node (or the handout not yet placed), and destroyable once it left.
   */
  private readonly handedOut = new Map<string, string>();
  private readonly idleSince = new Map<string, number>();

  constructor(private readonly options: MigManagerOptions) {}

  /** Notes that `migDeviceUuid` was handed to a container of pod `uid`. */
  handOut(migDeviceUuid: string, uid: string): void {
    this.handedOut.set(migDeviceUuid, uid);
  }

  private onGpu<T>(gpuUuid: string, work: () => Promise<T>): Promise<T> {
    const previous = this.gpuQueues.get(gpuUuid) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.gpuQueues.set(
      gpuUuid,
      next.catch(() => undefined),
    );
    return next;
  }

  /**
   * Applies the device's plan for pod `uid` (idempotent: what exists is kept, what is gone is not destroyed again).
   * An instance already handed to another pod still on the node is refused: a grant that names it (a scheduler
   * fault, or a decision from before a restart) must not give one instance to two pods.
   */
  ensureInstance(device: DecisionDevice, uid: string): Promise<DecisionDevice> {
    const mig = device.mig;
    if (!mig) return Promise.reject(new TesseraError('INVALID_INPUT', 'a MIG grant without a MIG placement', { field: 'mig' }));
    const { backend } = this.options;
    return this.onGpu(device.uuid, async () => {
      // The GPU is read once: its operations run one at a time (onGpu), so what changes is what this plan does.
      const gpu = (await backend.discover()).find((g) => g.uuid === device.uuid);
      const instances = [...(gpu?.migInstances ?? [])];
      const find = (profile: string, start: number) => instances.find((m) => m.profile === profile && m.start === start);
      const create = async (profile: string, start: number) => {
        if (gpu) await this.clearIdleOverlaps(gpu, instances, profile, start);
        const created = await backend.createMigInstance(device.uuid, profile, start);
        instances.push(created);
        return created;
      };
      let instance = find(mig.profile, mig.start);
      if (instance) {
        // What this process handed out, and what the pods' records say was (which survives a restart).
        const holder = this.handedOut.get(instance.migDeviceUuid);
        const handedToOther = holder !== undefined && holder !== uid && this.handedOutNow(instance.migDeviceUuid);
        if (handedToOther || this.options.holders.allocatedTo(placementKey(device.uuid, mig)).some((other) => other !== uid)) {
          throw new TesseraError('CONFLICT', `MIG instance ${mig.profile}@${mig.start} on GPU ${device.uuid} is in use by another pod on this node; it is never given twice`, { field: 'mig' });
        }
        return { ...device, mig: { ...mig, migDeviceUuid: instance.migDeviceUuid, gpuInstanceId: instance.gpuInstanceId } };
      }
      await this.options.migState('pending');
      try {
        for (const op of mig.plan) {
          const existing = find(op.profile, op.start);
          if (op.action === 'create' && !existing) await create(op.profile, op.start);
          if (op.action === 'destroy' && existing && !this.held(device.uuid, existing)) {
            await backend.destroyMigInstance(device.uuid, existing.gpuInstanceId);
            instances.splice(instances.indexOf(existing), 1);
          }
        }
        instance = find(mig.profile, mig.start) ?? (await create(mig.profile, mig.start));
      } catch (error) {
        await this.options.migState('failed');
        throw error;
      }
      await this.options.migState('success');
      await this.options.changed();
      return { ...device, mig: { ...mig, migDeviceUuid: instance.migDeviceUuid, gpuInstanceId: instance.gpuInstanceId } };
    });
  }

  /** An instance a pod on this node holds or is planned to hold: it is never destroyed. */
  private held(gpuUuid: string, instance: { profile: string; start: number; migDeviceUuid: string }): boolean {
    return this.handedOutNow(instance.migDeviceUuid) || this.options.holders.placementHeld(placementKey(gpuUuid, instance));
  }

  /**
   * Destroys idle instances in the way of `profile@start`. The scheduler plans from the inventory it last read: an
   * instance created for a pod that was deleted before the next inventory was published is one it never saw, and
   * it plans over the space as free. Idle instances may go (nothing in use is ever moved); one in use stops the plan.
   */
  private async clearIdleOverlaps(gpu: GpuInfo, instances: InventoryMigInstance[], profile: string, start: number): Promise<void> {
    const model = resolveGpuModel(gpu.model);
    if (!model.ok) return;
    const span = (name: string): number => findProfile(model.value, name)?.memorySlices ?? 1;
    const size = span(profile);
    for (const other of [...instances]) {
      if (!(start < other.start + span(other.profile) && other.start < start + size)) continue;
      if (this.held(gpu.uuid, other)) throw new TesseraError('CONFLICT', `${profile}@${start} overlaps ${other.profile}@${other.start}, which a pod on this node holds`, { field: 'mig' });
      this.options.log.info({ gpu: gpu.uuid, destroyed: `${other.profile}@${other.start}`, for: `${profile}@${start}` }, 'destroying an idle MIG instance the plan reuses');
      await this.options.backend.destroyMigInstance(gpu.uuid, other.gpuInstanceId);
      instances.splice(instances.indexOf(other), 1);
    }
  }

  /**
   * Whether a MIG instance handed to a container may still be in use: the pod it was granted to is on the node and
   * not finished, or kubelet has not told yet who received it. A pod deleted since gave it back: the scheduler
   * counts it free and may plan over it, and keeping it would make that plan fail on an overlap.
   */
  private handedOutNow(migDeviceUuid: string): boolean {
    const uid = this.handedOut.get(migDeviceUuid);
    if (uid === undefined) return false;
    return this.options.holders.podActive(uid) || this.options.holders.unplaced(migDeviceUuid);
  }

  /** Destroys MIG instances that no pod holds or plans once they have been idle for the grace period. */
  async reclaimIdle(gpus: readonly GpuInfo[]): Promise<void> {
    const grace = this.options.idleGraceMs;
    if (grace <= 0) return;
    const { holders, log } = this.options;
    const now = this.options.now();
    for (const gpu of gpus) {
      for (const instance of gpu.migInstances) {
        const key = placementKey(gpu.uuid, instance);
        if (holders.placementHeld(key)) {
          this.idleSince.delete(instance.migDeviceUuid);
          continue;
        }
        const since = this.idleSince.get(instance.migDeviceUuid) ?? now;
        this.idleSince.set(instance.migDeviceUuid, since);
        if (now - since < grace) continue;
        await this.onGpu(gpu.uuid, async () => {
          if (holders.placementHeld(key, true)) return;
          await this.options.backend.destroyMigInstance(gpu.uuid, instance.gpuInstanceId);
          this.handedOut.delete(instance.migDeviceUuid);
          this.idleSince.delete(instance.migDeviceUuid);
          log.info({ gpu: gpu.uuid, profile: instance.profile, start: instance.start }, 'reclaimed an idle MIG instance');
        }).catch((error: unknown) => log.warn({ err: error, gpu: gpu.uuid }, 'could not reclaim an idle MIG instance'));
      }
    }
  }
}
