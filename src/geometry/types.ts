/**
 * Plain data of the MIG geometry engine: the catalog's models and profiles, a GPU's instances, a request, and the
 * plans that serve it. JSON-safe; no Kubernetes or NVML types.
 */
import type { MigOp } from '../api/index.js';

export type { MigOp };

/** One GPU instance profile as `nvidia-smi mig -lgip` lists it. */
export interface MigProfile {
  /** Profile ID as nvidia-smi prints it (19 for 1g.10gb on H100). */
  id: number;
  /** NVIDIA's name, e.g. '1g.10gb', '1g.10gb+me'. */
  name: string;
  computeSlices: number;
  memorySlices: number;
  /** Memory the instance gives a container, MiB. */
  memoryMiB: number;
  /** Legal first memory slices, ascending. */
  starts: readonly number[];
  maxCount: number;
  /** A `+me` profile: at most one media-extension instance per GPU. */
  mediaExtensions: boolean;
}

export interface MigSpec {
  totalComputeSlices: number;
  totalMemorySlices: number;
  /** Largest first within a size, as the catalog lists them. */
  profiles: readonly MigProfile[];
}

export interface GpuModel {
  /** Canonical name, e.g. 'A100-SXM4-40GB'. */
  name: string;
  memoryMiB: number;
  /** null: a whole GPU (no MIG). */
  mig: MigSpec | null;
}

/** One GPU instance on a GPU. */
export interface MigInstance {
  profile: string;
  start: number;
  /** Held by a pod: no plan destroys or moves it. */
  inUse: boolean;
  /** Opaque identity the caller keeps (MIG device UUID, GI id); passed through untouched. */
  id?: string;
}

/** What one container needs of one MIG instance. */
export interface MigRequest {
  /** At least this much instance memory, MiB (0: any). */
  memoryMiB: number;
  /** Exactly this profile. */
  profile?: string;
  minComputeSlices?: number;
}

/** A geometry as HAMi's knownMigGeometries states it: how many of each profile, placement left to the engine. */
export type MigGeometry = readonly { readonly profile: string; readonly count: number }[];

/**
 * How often future requests ask for what, used to weigh the capacity a plan leaves behind. Weights are relative
 * (any non-negative numbers); a memory size counts for the smallest profile that serves it on the model.
 */
export interface DemandMix {
  byProfile?: Readonly<Record<string, number>>;
  byMemoryMiB?: readonly { readonly memoryMiB: number; readonly weight: number }[];
}

export interface PlanOptions {
  /** Restrict the layout a plan leaves behind to one of these geometries (HAMi's legacy mode). */
  allowedGeometries?: readonly MigGeometry[];
  /**
   * Only these profiles may be reused or created (HAMi v2.10's migProfileAllowlist); free instances of others may
   * still be destroyed to make room. Checked once per profile per plan, so it costs nothing next to planning.
   */
  allowedProfiles?: ReadonlySet<string>;
  /** Weights of future demand; default: every non-`+me` profile of the model weighs the same. */
  demand?: DemandMix;
  /**
   * Whether a plan may destroy free instances on a GPU where an instance is in use (default true). False: such a
   * GPU only reuses free instances or creates in empty slices; a GPU with nothing in use may still be re-carved.
   */
  reconfigureBusy?: boolean;
  /** At most this many plans (best first); default DEFAULT_PLAN_LIMIT. */
  limit?: number;
}

/** What a device config restricts on one model (HAMi's knownMigGeometries or migProfileAllowlist). */
export type MigRestriction = Pick<PlanOptions, 'allowedGeometries' | 'allowedProfiles'>;

export type MigPlanKind = 'reuse' | 'create' | 'reconfigure';

/** One way to serve a request on one GPU. */
export interface MigPlan {
  /** reuse: a free instance as it is; create: a new instance in empty slices; reconfigure: free instances destroyed. */
  kind: MigPlanKind;
  /** The instance the request gets. */
  target: { profile: string; start: number };
  /** Free instances to destroy first (never one in use). */
  destroy: MigInstance[];
  /** Instances to create after the destroys (the target among them unless reused). */
  create: { profile: string; start: number }[];
  cost: { destroyed: number; created: number };
  /** The layout left behind, by start, the target marked inUse. */
  layout: MigInstance[];
  /** Future capacity kept, 0..MAX_PLAN_SCORE (see score.ts); higher is better. */
  score: number;
  /** Capacity the plan takes from the GPU: the score of its slices not in use before, less `score`. */
  lost: number;
}
