/**
 * Read-only views of the cluster state that policies see, and the hypothetical placement of a pod on one node.
 * `NodeView` also carries the fractional-share projection the FGD family reads (`model`, `cpuLeft`, `gpuLeft`).
 */
import type { MigInstanceView, MigOption } from './mig.js';
import type { Reason } from '../../request/index.js';
import type { NodeFit, NodeMode } from './types.js';

/** A whole GPU in FGD's fractional-share units. */
export const MILLI_PER_GPU = 1000;

export interface GpuView {
  readonly uuid: string;
  readonly index: number;
  readonly model: string;
  /** Memory a hami-core GPU offers (physical x memoryScaling); a MIG GPU's physical memory. */
  readonly memoryMiB: number;
  readonly coreUnits: number;
  readonly healthy: boolean;
  readonly numa: number | null;
  readonly usedMemoryMiB: number;
  readonly usedCores: number;
  /** Tasks (vGPUs or MIG instances in use) on the GPU. */
  readonly usedSlots: number;
  /** MIG GPUs: the instances now (sorted by start); null on hami-core GPUs. */
  readonly migInstances: readonly MigInstanceView[] | null;
}

/** Sums over a node's healthy GPUs: the terms of HAMi's node score. */
export interface GpuTotals {
  readonly slots: number;
  readonly cores: number;
  readonly memoryMiB: number;
}

export interface NodeView {
  readonly name: string;
  readonly mode: NodeMode;
  /** How its mode shares a GPU (`SharingMode.allocation`): policies branch on this, never on the mode's name. */
  readonly allocation: 'shared' | 'mig';
  /** Bumps on every change to the node: policies memoize per node on it. */
  readonly version: number;
  /**
   * A small number, the node's for its life in its ClusterState: policies may index per-node caches by it (checking
   * the node itself, as another ClusterState numbers its nodes alike).
   */
  readonly ordinal: number;
  readonly labels: Readonly<Record<string, string>>;
  readonly splitCount: number;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  readonly cpuUsedMilli: number;
  readonly memoryUsedMiB: number;
  readonly gpus: readonly GpuView[];
  /** Capacity over healthy GPUs. */
  readonly gpuCapacity: GpuTotals;
  /** Use over healthy GPUs. */
  readonly gpuUsed: GpuTotals;
  /** Model of the node's GPUs (the first GPU's; '' without GPUs). */
  readonly model: string;
  /** CPU left, milli. */
  readonly cpuLeft: number;
  /**
   * Per GPU (by position in `gpus`), the fraction its scarcer resource (memory or cores) has left, in milli-GPU;
   * 0 for an unhealthy GPU or one without a free slot. FGD's one-dimensional view of the node.
   */
  readonly gpuLeft: ArrayLike<number>;
}

/** One way to serve one vGPU: a GPU of the node (by position in `NodeView.gpus`) and what it would give. */
export interface DeviceOption {
  readonly gpu: number;
  readonly memoryMiB: number;
  readonly cores: number;
  /** MIG GPUs: the instance and the plan that makes it. */
  readonly mig?: MigOption;
}

/** A pod placed on one node, hypothetically: the picks per app container, and what they add to the node. */
export interface NodePlacement {
  readonly node: string;
  readonly containers: readonly (readonly DeviceOption[])[];
  /** What the placement adds to `NodeView.gpuUsed`. */
  readonly added: GpuTotals;
  /** GPUs whose MIG layout the placement changes (each a reconfiguration the node's device plugin applies). */
  readonly migLayoutChanges: number;
}

/** A node's GPU verdict for a pod shape: what the pod adds (and the devices, when already chosen), or why not. */
export type GpuVerdict = { readonly added: GpuTotals; readonly placement: NodePlacement | null } | { readonly reason: Reason; readonly fit: NodeFit };
