/**
 * The allocator's narrow view of the MIG geometry engine: given a GPU's model and the instances on it (which are in
 * use), every way to provide one instance of at least some memory without moving or destroying an instance in use.
 * The extender and the simulator pass the geometry engine's planner; the allocator only chooses among its options.
 */
import type { MigInstance, MigOp } from '../../geometry/index.js';

/** An instance on a GPU as the allocator sees it: the geometry engine's shape, without the caller's id. */
export type MigInstanceView = Readonly<Pick<MigInstance, 'profile' | 'start' | 'inUse'>>;

/** One way to serve one MIG instance on one GPU. */
export interface MigOption {
  readonly profile: string;
  readonly start: number;
  /** Memory of the instance, MiB (what the container is given). */
  readonly memoryMiB: number;
  /** Share of the GPU's compute slices, in [0, 1] (a 3g on a 7-slice GPU: 3/7). */
  readonly computeShare: number;
  /**
   * The planner's estimate of the GPU's capacity left for future requests once this option holds the pod, in
   * [0, 1] (1: as much as an empty GPU).
   */
  readonly keptCapacity: number;
  /**
   * The share of that capacity the option takes away, in [0, 1]: the GPU's capacity before (its slices not in use)
   * less `keptCapacity`. Low on a GPU whose free room already suits little else, so comparing it across GPUs packs.
   */
  readonly lostCapacity: number;
  /** Ops to apply in order (empty when a free instance of this profile already sits at `start`). */
  readonly plan: readonly MigOp[];
  /** The GPU's instances once `plan` has run, by start, this option's instance in use: the engine's own layout. */
  readonly layout: readonly MigInstanceView[];
}

export interface MigPlanner {
  /**
   * Options for one instance with at least `memoryMiB` on a GPU of `model` that holds `instances`, best first by
   * the planner's own preference; empty when none exists now. Must be pure: same input, same output.
   */
  options(model: string, instances: readonly MigInstanceView[], memoryMiB: number): readonly MigOption[];
  /** The memory of the largest instance a GPU of `model` can hold, MiB (0 when the model has no MIG). */
  largestInstanceMiB(model: string): number;
}
