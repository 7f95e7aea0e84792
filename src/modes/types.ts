/**
 * One interface per GPU sharing mode: what the allocator, the request check, the device plugin and the metrics need
 * to know about it. A mode is one folder under src/modes plus its entry in the registry (src/modes/index.ts); its
 * name is one of the wire contract's `NODE_MODES`.
 */
import type { Decision, DecisionDevice, NodeInventory, NodeMode } from '../api/index.js';

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
  /** The mode's own Prometheus series, beyond the per-GPU and per-vGPU ones every mode has; absent: none. */
  readonly metrics?: ModeMetrics;
}

/** A Prometheus family a mode contributes (the exporter's `MetricFamily`). */
export interface ModeFamily {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly type?: 'gauge' | 'counter';
  /** One of HAMi's pre-2.5 names: registered and filled only when the exporter is asked for them. */
  readonly legacy?: boolean;
}

/** One node of the mode as the scheduler's view sees it on a scrape. */
export interface NodeMetricsInput {
  readonly inventory: NodeInventory;
  /** The decisions of the pods on the node whose bind has not failed. */
  readonly decisions: readonly Decision[];
  /** Memory slices a MIG profile spans on a GPU model (the catalog's), undefined when unknown. */
  readonly placementSize: (model: string, profile: string) => number | undefined;
  /** HAMi's constant `zone` label of the scheduler series. */
  readonly zone: string;
  /** Whether the legacy families are on. */
  readonly legacy: boolean;
}

/** A counter increment: one of the mode's `decisionFamilies`, with its labels. */
export interface ModeCount {
  readonly family: ModeFamily;
  readonly labels: Readonly<Record<string, string>>;
}

export interface ModeMetrics {
  /** Gauges the scheduler view fills for each node of this mode on every scrape. */
  readonly nodeFamilies: readonly ModeFamily[];
  nodeSeries(input: NodeMetricsInput, emit: (family: ModeFamily, labels: Record<string, string>, value: number) => void): void;
  /** Counters a decision for a node of this mode adds to (the exporter's decision events). */
  readonly decisionFamilies: readonly ModeFamily[];
  decisionCounts(decision: Decision): readonly ModeCount[];
}
