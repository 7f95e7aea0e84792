/**
 * The allocator's plain data: what a pod asks for, what a node offers, why a node does not fit, and the decision.
 * Everything here is JSON-safe and free of Kubernetes client types, so the extender, the simulator and the tests
 * build and read it directly.
 */
import type { MigPlanOp } from '../../api/decision.js';
import type { NodeMode } from '../../api/annotations.js';

export type { MigPlanOp, NodeMode };

/** `binpack` fills the fullest node (or GPU) first; `spread` the emptiest. */
export type PackingDirection = 'binpack' | 'spread';
/** `nvidia.com/vgpu-mode` values HAMi takes: a node mode, or `mps`, which no Tessera node runs (such a pod waits). */
export type RequestMode = NodeMode | 'mps';
export const PACKING_DIRECTIONS: readonly PackingDirection[] = ['binpack', 'spread'];

// ---------------------------------------------------------------------------------------------------------------
// Requests

/** GPU memory asked per vGPU: absolute MiB, or a percentage (1-100) of the GPU's (scaled) memory. */
export type MemoryDemand = { readonly mib: number } | { readonly percent: number };

/** What one container asks of the GPUs: `count` vGPUs, each on a distinct GPU (MIG: instances may share one). */
export interface GpuDemand {
  readonly count: number;
  readonly memory: MemoryDemand;
  /**
   * Core units per vGPU, on the GPUs' own scale (`GpuSpec.coreUnits`: 100 in a real cluster, where this is
   * HAMi's `gpucores` percentage; 1000 in the openb simulator, where it is milli-GPU). Asking for all of a GPU's
   * units means having the GPU alone.
   */
  readonly cores: number;
}

export interface ContainerRequest {
  readonly name: string;
  /** null for a container that asks for no GPU. */
  readonly gpu: GpuDemand | null;
}

/** How `useGpuTypes`/`noUseGpuTypes` match a GPU model: HAMi's case-insensitive substring, or exact (openb). */
export type GpuTypeMatch = 'substring' | 'exact';

/** A pod's request, validated and with defaults applied: the only input the allocator reads about a pod. */
export interface PodRequest {
  readonly pod: { readonly uid: string; readonly namespace: string; readonly name: string };
  /** Init containers, then app containers, each in pod spec order (HAMi's order), with their GPU demands. */
  readonly containers: readonly ContainerRequest[];
  /** Peak CPU the pod needs, milli: max(largest init container, sum of app containers). */
  readonly cpuMilli: number;
  /** Peak memory the pod needs, MiB (rounded up), same peak rule. */
  readonly memoryMiB: number;
  /** `nvidia.com/priority` (0 high, 1 low), or null when absent. */
  readonly priority: number | null;
  /** `nvidia.com/vgpu-mode`; null lets either kind of node serve the pod. */
  readonly mode: RequestMode | null;
  readonly useGpuTypes: readonly string[];
  readonly noUseGpuTypes: readonly string[];
  readonly gpuTypeMatch: GpuTypeMatch;
  readonly useGpuUuids: readonly string[];
  readonly noUseGpuUuids: readonly string[];
  /** `hami.io/node-scheduler-policy`; null: the cluster default. */
  readonly nodePolicy: PackingDirection | null;
  /** `hami.io/gpu-scheduler-policy`; null: the cluster default. */
  readonly gpuPolicy: PackingDirection | null;
  /** `hami.io/gpu-scheduler-policy: mutex`: each vGPU takes a GPU no other task uses (HAMi). */
  readonly gpuMutex?: boolean;
}

// ---------------------------------------------------------------------------------------------------------------
// Cluster

/** A MIG instance that exists on a GPU. */
export interface MigInstanceSpec {
  readonly profile: string;
  /** Placement start (first memory slice). */
  readonly start: number;
}

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

export interface MigDeviceAssignment {
  readonly profile: string;
  readonly start: number;
  /** Changes this GPU needs before the instance exists, in order (empty when it exists and is free). */
  readonly plan: readonly MigPlanOp[];
}

export interface AllocatedDevice {
  readonly uuid: string;
  readonly index: number;
  readonly memoryMiB: number;
  /** Core units taken (MIG: the instance's share of the GPU's units). */
  readonly cores: number;
  readonly mig?: MigDeviceAssignment;
}

export interface AllocatedContainer {
  readonly name: string;
  /** Empty for containers without GPUs. */
  readonly devices: readonly AllocatedDevice[];
}

/**
 * The decision for one pod, pure data: the extender serializes it into the pod's annotations and rebuilds the
 * cluster state from such records after a restart (`ClusterState.apply`).
 */
export interface Allocation {
  readonly pod: { readonly uid: string; readonly namespace: string; readonly name: string };
  readonly node: string;
  readonly mode: NodeMode;
  readonly cpuMilli: number;
  readonly memoryMiB: number;
  /** Init containers, then app containers, in pod spec order. */
  readonly containers: readonly AllocatedContainer[];
}

// ---------------------------------------------------------------------------------------------------------------
// Fit outcomes and reasons

/**
 * `fits`; `unschedulable`: the node could take the pod once pods leave; `unresolvable`: nothing leaving would help
 * (wrong mode or model, too few GPUs in all); `error`: the state or request is inconsistent (a bug to report).
 */
export type FitOutcome = 'fits' | 'unschedulable' | 'unresolvable' | 'error';

/** Resources whose shortage a node reports. */
export type ResourceName = 'cpu' | 'memory' | 'gpu' | 'gpumem' | 'gpucores' | 'gpuslots' | 'mig';

/** Why a request or a node failed: records kept in full; `reasonText` renders one at the edge. */
export type Reason =
  /** A field of the pod's request is invalid; `field` is its path in the pod (`spec.containers[0]...`). */
  | { readonly kind: 'InvalidRequest'; readonly field: string; readonly message: string }
  /** Not enough of one resource on the node (kube-scheduler's InsufficientResource). */
  | {
      readonly kind: 'InsufficientResource';
      readonly resource: ResourceName;
      readonly requested: number;
      readonly used: number;
      readonly capacity: number;
    }
  /** Fewer usable GPUs than one container's vGPU count, counting every GPU the filters allow. */
  | { readonly kind: 'TooFewGpus'; readonly requested: number; readonly usable: number }
  | { readonly kind: 'ModeMismatch'; readonly requested: RequestMode; readonly node: NodeMode }
  /** No GPU of the node passes the type/UUID filters or is healthy. */
  | { readonly kind: 'NoEligibleGpu'; readonly filter: 'type' | 'uuid' | 'health' }
  /** A MIG request no geometry of the node's GPUs can serve (too large for any profile, unknown model). */
  | { readonly kind: 'NoMigProfile'; readonly model: string; readonly memoryMiB: number }
  | { readonly kind: 'UnknownNode'; readonly node: string }
  /** The state or the request is inconsistent (double apply, unknown pod, device not on the node). */
  | { readonly kind: 'Inconsistent'; readonly message: string };

export interface NodeFit {
  readonly node: string;
  readonly outcome: FitOutcome;
  /** Empty when it fits. */
  readonly reasons: readonly Reason[];
}
