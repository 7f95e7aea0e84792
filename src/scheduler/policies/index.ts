/**
 * The policy table: names (as the scheduler config and `tessera simulate --policy` spell them) to policies.
 * Policies that keep room for the workload's typical requests (fgd, tessera) read them from the `RunContext`.
 */
import { TesseraError, err, ok, type Result } from '../../errors.js';
import { bestfitPolicy } from './bestfit.js';
import { fgdPolicy } from './gradient.js';
import { hamiPolicy } from './hami.js';
import { packingPolicy } from './packing.js';
import { tesseraPolicy } from './tessera.js';
import type { Policy } from './policy.js';

export * from './policy.js';
export { bestfitPolicy, fgdPolicy, hamiPolicy, packingPolicy, tesseraPolicy };

/** The policy the scheduler uses when its config names none. */
export const DEFAULT_POLICY = 'tessera';

export const POLICIES: Readonly<Record<string, Policy>> = {
  [hamiPolicy.name]: hamiPolicy,
  [bestfitPolicy.name]: bestfitPolicy,
  [packingPolicy.name]: packingPolicy,
  [fgdPolicy.name]: fgdPolicy,
  [tesseraPolicy.name]: tesseraPolicy,
};

/** The policy called `name`, or an error listing the known names. */
export function policyByName(name: string, field = 'policy'): Result<Policy> {
  const policy = POLICIES[name];
  if (policy) return ok(policy);
  return err(new TesseraError('INVALID_CONFIG', `unknown policy '${name}' (known: ${Object.keys(POLICIES).join(', ')})`, { field }));
}
export { tesseraMigPlanner } from './frag-mig.js';
export { workloadProfile, type WorkloadProfile } from './workload.js';
