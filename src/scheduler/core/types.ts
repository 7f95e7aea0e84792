/**
 * The allocator's plain data: what a pod asks for, what a node offers, why a node does not fit, and the decision.
 * Everything here is JSON-safe and free of Kubernetes client types, so the extender, the simulator and the tests
 * build and read it directly.
 */
import type { Grant, GrantedContainer, GrantedDevice, GrantedMig, NodeMode } from '../../api/index.js';
import type { MigInstance } from '../../geometry/index.js';
import type { Reason } from '../../request/index.js';

export type { NodeMode };

// ---------------------------------------------------------------------------------------------------------------
// Cluster

/** A MIG instance that exists on a GPU: the geometry engine's shape, its placement only. */
export type MigInstanceSpec = Readonly<Pick<MigInstance, 'profile' | 'start'>>;

export interface GpuSpec {
  readonly uuid: string;
  /** Index on the node (nvidia-smi order). */
  readonly index: number;
  /** Model as the catalog names it (or a whole-GPU model name). */
  readonly model: string;
  readonly memoryMiB: number;
  /** Core units the GPU offers, after HAMi's deviceCoreScaling (default 100; the openb simulator uses 1000). */
  readonly coreUnits: number;
  readonly healthy: boolean;
  /** NUMA node, or null when unknown. */
  readonly numa: number | null;
  /** MIG GPUs: the instances that exist now (in use or not). Absent on hami-core GPUs. */
  readonly migInstances?: readonly MigInstanceSpec[];
}

export interface NodeSpec {
  readonly name: string;
  readonly mode: NodeMode;
  /** Allocatable CPU, milli. */
  readonly cpuMilli: number;
  /** Allocatable memory, MiB. */
  readonly memoryMiB: number;
  readonly labels: Readonly<Record<string, string>>;
  /** Most tasks one GPU may hold (HAMi's deviceSplitCount after nodeconfig). */
  readonly splitCount: number;
  /** HAMi's deviceMemoryScaling: a GPU offers memoryMiB x this to hami-core requests (1 = no overcommit). */
  readonly memoryScaling: number;
  readonly gpus: readonly GpuSpec[];
}

// ---------------------------------------------------------------------------------------------------------------
// Decisions

/** A granted MIG instance and the plan that makes it (api's `GrantedMig`). */
export type MigDeviceAssignment = GrantedMig;
/** A granted device (api's `GrantedDevice`). */
export type AllocatedDevice = GrantedDevice;
/** A container's granted devices (api's `GrantedContainer`). */
export type AllocatedContainer = GrantedContainer;

/**
 * The decision for one pod, pure data: the wire contract's `Grant`, which the extender signs into the pod's decision
 * (`signedDecision`) and rebuilds the cluster state from after a restart (`grantOf`, `ClusterState.apply`).
 */
export type Allocation = Grant;

// ---------------------------------------------------------------------------------------------------------------
// Fit outcomes and reasons

/**
 * `fits`; `unschedulable`: the node could take the pod once pods leave; `unresolvable`: nothing leaving would help
 * (wrong mode or model, too few GPUs in all); `error`: the state or request is inconsistent (a bug to report).
 */
export type FitOutcome = 'fits' | 'unschedulable' | 'unresolvable' | 'error';

export interface NodeFit {
  readonly node: string;
  readonly outcome: FitOutcome;
  /** Empty when it fits. */
  readonly reasons: readonly Reason[];
}
