/**
 * The pod-request contract: what a pod asks for (validated, defaults applied) and why a request or a node fails.
 * Plain JSON-safe data shared by the allocator, the device plugin, local mode and the simulators.
 */
import type { NodeMode } from '../api/index.js';

/** `binpack` fills the fullest node (or GPU) first; `spread` the emptiest. */
export type PackingDirection = 'binpack' | 'spread';
/** `nvidia.com/vgpu-mode` values HAMi takes: the node modes (a pod asking one waits for a node running it). */
export type RequestMode = NodeMode;
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
