/**
 * One interface per GPU sharing mode: what the allocator, the request check and the device plugin need to know
 * about it. A mode is one folder under src/modes plus its entry in the registry (src/modes/index.ts); its name is
 * one of the wire contract's `NODE_MODES`.
 */
import type { DecisionDevice, NodeMode } from '../api/index.js';

/** A host path the container gets. */
export interface GrantMount {
  readonly container_path: string;
  readonly host_path: string;
  readonly read_only: boolean;
}

/** What one container is told by the device plugin's Allocate: its environment and mounts. */
export interface ContainerGrant {
  readonly envs: Record<string, string>;
  readonly mounts: readonly GrantMount[];
}

/** Host paths the node's sharing machinery lives at. */
export interface SharingHostPaths {
  /** Host directory holding HAMi-core's libvgpu.so and ld.so.preload (HAMi: /usr/local/vgpu). */
  hostDir: string;
  /** Where HAMi-core's cache file lives inside the container. */
  cacheDir: string;
}

export interface GrantOptions {
  /** The container set `CUDA_DISABLE_CONTROL=true` (HAMi's switch): no enforcement is loaded. */
  readonly controlDisabled: boolean;
  /** Stable per container grant (names HAMi-core's shared-memory cache file). */
  readonly cacheKey: string;
  readonly paths: SharingHostPaths;
}

export interface SharingMode {
  readonly name: NodeMode;
  /**
   * How the allocator carves a GPU: `shared`, vGPUs of memory and core units cut from whole GPUs (memory scaled
   * by the device config, a granted vGPU holds exactly what was asked); `mig`, MIG instances planned by the
   * geometry engine (physical memory, an instance holds at least what was asked).
   */
  readonly allocation: 'shared' | 'mig';
  /** Whether a grant's core units must equal the pod's request (the mode enforces a compute share). */
  readonly enforcesCores: boolean;
  /** The device plugin's answer for one container given `devices` (in the decision's order). */
  grant(devices: readonly DecisionDevice[], options: GrantOptions): ContainerGrant;
}
