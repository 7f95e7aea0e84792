/**
 * Which pods may be in flight together on one node: bound with a decision, not yet allocated by the device plugin.
 *
 * kubelet calls the device plugin's Allocate once per GPU container with device IDs and a count only, never the
 * pod's identity, and it admits pods one at a time, containers in order. The first call of a pod therefore tells
 * the plugin nothing but the pod's lead count (the device count of its first GPU container). Pods are safe to
 * have in flight together when that first call already says what to hand out:
 * - pods with the same shape (same mode, per GPU container the same count and, device by device, the same GPU
 *   model, memory, cores and MIG profile) are interchangeable: any of their grants is a right answer for any of
 *   them, and the plugin records afterwards which pod really received which;
 * - pods of different shapes must have different lead counts, so the first call picks the shape.
 * A pod that pins its GPUs by UUID carries those UUIDs in its shape, so it is interchangeable only with a pod
 * granted the very same GPUs. docs/allocate-design.md gives the argument in full. Pure: plain data in and out.
 */
import { USER_POD, type NodeMode } from './annotations.js';
import type { Grant } from './decision.js';

export interface DeviceShape {
  /** GPU model (the uuid itself when the model is unknown, so unknown GPUs are never interchangeable). */
  model: string;
  memoryMiB: number;
  cores: number;
  /** MIG profile, or null for a hami-core share. */
  migProfile: string | null;
  /** The GPU UUID for pods that pin their GPUs by UUID; null otherwise. */
  pinnedUuid: string | null;
}

export interface ContainerShape {
  /** Devices kubelet allocates for the container: its `nvidia.com/gpu`. */
  count: number;
  /** In a canonical order: a grant is a set of devices. */
  devices: DeviceShape[];
}

export interface PodShape {
  mode: NodeMode;
  /** GPU containers only (kubelet calls Allocate for nothing else), in pod spec order. */
  containers: ContainerShape[];
  /** Canonical text of the shape: two pods are interchangeable exactly when their keys are equal. */
  key: string;
}

export interface ShapeContext {
  /** The model of a GPU of the decision's node, by UUID (undefined when unknown). */
  modelOf(uuid: string): string | undefined;
  /** The pod pins its GPUs by UUID (`nvidia.com/use-gpuuuid`); see `pinsGpus`. */
  pinned: boolean;
}

/** True when a pod's annotations restrict it to named GPUs, so a grant on other GPUs would not serve it. */
export function pinsGpus(annotations: Readonly<Record<string, string>> | undefined): boolean {
  return (annotations?.[USER_POD.useGpuUuid] ?? '').trim() !== '';
}

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function deviceKey(d: DeviceShape): string {
  return JSON.stringify([d.model, d.memoryMiB, d.cores, d.migProfile, d.pinnedUuid]);
}

/**
 * The shape of a grant (an allocation or a decision: both carry one): what kubelet's calls for the pod look like and
 * what each of them grants.
 */
export function shapeOf(grant: Pick<Grant, 'mode' | 'containers'>, context: ShapeContext): PodShape {
  const containers = grant.containers
    .filter((c) => c.devices.length > 0)
    .map((c) => {
      const devices = c.devices
        .map((d) => ({
          model: context.modelOf(d.uuid) ?? d.uuid,
          memoryMiB: d.memoryMiB,
          cores: d.cores,
          migProfile: d.mig?.profile ?? null,
          pinnedUuid: context.pinned ? d.uuid : null,
        }))
        .sort((a, b) => compareText(deviceKey(a), deviceKey(b)));
      return { count: devices.length, devices };
    });
  const key = JSON.stringify([grant.mode, containers.map((c) => c.devices.map(deviceKey))]);
  return { mode: grant.mode, containers, key };
}

/** The count kubelet's first Allocate call for the pod carries; 0 for a pod without GPU containers. */
export function leadCount(shape: PodShape): number {
  return shape.containers[0]?.count ?? 0;
}

/** Why a pod must wait before it may be in flight on a node. */
export interface InFlightConflict {
  kind: 'LeadCountTaken';
  /** The lead count the candidate shares with a pod of another shape. */
  leadCount: number;
  /** The shape already in flight with that lead count. */
  inFlightShape: string;
}

export type InFlightVerdict = { join: true } | { join: false; conflict: InFlightConflict };

/**
 * May a pod of shape `candidate` be in flight on a node where pods of `inFlight` shapes are (bound, not yet
 * confirmed allocated)? Yes when no in-flight pod of another shape has the same lead count. A pod without GPU
 * containers never reaches the device plugin and always may.
 */
export function mayJoinInFlight(inFlight: Iterable<PodShape>, candidate: PodShape): InFlightVerdict {
  const lead = leadCount(candidate);
  if (lead === 0) return { join: true };
  for (const other of inFlight) {
    if (other.key !== candidate.key && leadCount(other) === lead) {
      return { join: false, conflict: { kind: 'LeadCountTaken', leadCount: lead, inFlightShape: other.key } };
    }
  }
  return { join: true };
}

/** The conflict in words, for filter reasons and Events. */
export function describeInFlightConflict(conflict: InFlightConflict): string {
  return `a pod of another shape whose first GPU container also asks ${conflict.leadCount} device(s) is being allocated on this node; kubelet's request could not tell them apart, so this pod waits until it is`;
}
