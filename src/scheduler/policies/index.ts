/**
 * The one policy registry: names (as the scheduler config, local mode and `tessera simulate --policy` spell them)
 * to policies, each with the MIG planner it pairs with (`Policy.migPlanner`). Policies that keep room for the
 * workload's typical requests (fgd, tessera) read them from the `RunContext`.
 */
import { TesseraError, err, ok, type Result } from '../../errors.js';
import { createGeometryPlanner, type MigPlanner, type MigPlannerOptions, type Policy } from '../core/index.js';
import { bestfitPolicy } from './bestfit.js';
import { fgdBestFitPolicy } from './fgd-bestfit.js';
import { fgdPolicy } from './gradient.js';
import { hamiPolicy, hamiV210Policy, hamiV29Policy } from './hami.js';
import { packingPolicy } from './packing.js';
import { tesseraPolicy } from './tessera.js';
import { zambiancoPolicy } from './zambianco.js';

export { DEFAULT_RUN_CONTEXT, MAX_NODE_SCORE, toNodeScore, type Policy, type RunContext } from '../core/index.js';
export { bestfitPolicy, fgdBestFitPolicy, fgdPolicy, hamiPolicy, hamiV210Policy, hamiV29Policy, packingPolicy, tesseraPolicy, zambiancoPolicy };
export { tesseraMigPlanner } from './frag-mig.js';
export { workloadProfile, scarceHomes, KEPT_HOMES_PER_POD, SCARCE_HOMES_SHARE, ProfileLearner, DEFAULT_REFRESH_SECONDS, MAX_TYPICAL_SHAPES, type WorkloadProfile, type GpuSize } from './workload.js';

/** The policy the scheduler uses when its config names none. */
export const DEFAULT_POLICY = 'tessera';

export const POLICIES: Readonly<Record<string, Policy>> = Object.fromEntries(
  [hamiPolicy, bestfitPolicy, packingPolicy, fgdPolicy, tesseraPolicy, fgdBestFitPolicy, hamiV210Policy, hamiV29Policy, zambiancoPolicy].map((p) => [p.name, p]),
);

/** The policy called `name`, or an error listing the known names. */
export function policyByName(name: string, field = 'policy'): Result<Policy> {
  const policy = POLICIES[name];
  if (policy) return ok(policy);
  return err(new TesseraError('INVALID_CONFIG', `unknown policy '${name}' (known: ${Object.keys(POLICIES).join(', ')})`, { field }));
}

/** The MIG planner `policy` pairs with: its own, else the geometry engine's ranking. */
export function migPlannerOf(policy: Policy, options: MigPlannerOptions = {}): MigPlanner {
  return policy.migPlanner ? policy.migPlanner(options) : createGeometryPlanner(options.restrictions ? { restrictions: options.restrictions } : {});
}
export { nodeFragmentation, typicalShapes, type ShareShape, type TypicalShape } from './frag.js';
export { milliOf } from './gradient.js';
