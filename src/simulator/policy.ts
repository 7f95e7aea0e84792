/**
 * The policy `tessera simulate --policy` names, from the one registry (src/scheduler/policies) the extender and
 * local mode use: both simulator forms replay through the allocator with the same policies.
 */
import { TesseraError } from '../errors.js';
import type { Policy } from '../scheduler/core/index.js';
import { POLICIES } from '../scheduler/policies/index.js';

export function simulatorPolicy(name: string): Policy {
  const policy = POLICIES[name];
  if (!policy) throw new TesseraError('INVALID_INPUT', `unknown policy '${name}' (known: ${Object.keys(POLICIES).join(', ')})`, { field: '--policy' });
  return policy;
}

/** Where the policy's workload profile comes from: learned online as the extender learns it (the default), or the whole trace's before the first pod (clairvoyant: the FGD paper's protocol). */
export type ProfileSource = 'online' | 'oracle';

export const PROFILE_SOURCES: readonly ProfileSource[] = ['online', 'oracle'];
