/**
 * The policies `tessera simulate` can replay an openb trace with (the fractional-share model), by name.
 */
import { TesseraError } from '../../errors.js';
import { createFgdPolicy } from '../../scheduler/policies/fgd.js';
import type { SharePolicyFactory } from '../../scheduler/policies/frag.js';
import { createTesseraSharePolicy } from '../../scheduler/policies/tessera.js';
import { createFgdBestFitPolicy } from './fgd-bestfit.js';
import { createHamiSharePolicy } from './hami-share.js';

export const SHARE_POLICIES: Readonly<Record<string, SharePolicyFactory>> = {
  tessera: createTesseraSharePolicy,
  fgd: createFgdPolicy,
  'fgd-bestfit': createFgdBestFitPolicy,
  hami: createHamiSharePolicy,
};

export function sharePolicyByName(name: string, field = '--policy'): SharePolicyFactory {
  const factory = SHARE_POLICIES[name];
  if (!factory) throw new TesseraError('INVALID_INPUT', `unknown policy '${name}' (known: ${Object.keys(SHARE_POLICIES).join(', ')})`, { field });
  return factory;
}
