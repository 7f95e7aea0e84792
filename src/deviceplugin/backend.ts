/**
 * The one interface the device plugin talks to GPUs through. `nvml` drives a real node with nvidia-smi; `fake`
 * simulates one from the fake GPU operator's topology. Both report GPUs the same way and create or destroy MIG
 * instances at explicit placements; instance IDs are the driver's (opaque, never a function of the placement).
 */
import type { InventoryMigInstance } from '../api/index.js';

export interface GpuInfo {
  uuid: string;
  /** nvidia-smi index. */
  index: number;
  /** Product name as the driver reports it (`NVIDIA A100-SXM4-80GB`). */
  model: string;
  memoryMiB: number;
  /** NUMA node, or null when the platform reports none. */
  numa: number | null;
  healthy: boolean;
  migEnabled: boolean;
  migInstances: InventoryMigInstance[];
}

export interface GpuBackend {
  readonly name: 'nvml' | 'fake';
  /** The node's GPUs now, in index order. */
  discover(): Promise<GpuInfo[]>;
  /** Creates a GPU instance (and its default compute instance) of `profile` at `start` on GPU `gpuUuid`. */
  createMigInstance(gpuUuid: string, profile: string, start: number): Promise<InventoryMigInstance>;
  /** Destroys the instance with this GPU-instance ID (its compute instances first). */
  destroyMigInstance(gpuUuid: string, gpuInstanceId: number): Promise<void>;
}
