/**
 * The wire form of a GPU's MIG instances (CLI flags, inventories): a JSON array of {profile, start, inUse, id?},
 * checked by schema; legality on a model is `validateLayout`'s job.
 */
import { ajv, validationError } from '../api/index.js';
import { err, ok, type Result } from '../errors.js';
import type { MigInstance } from './types.js';

const instancesSchema = {
  type: 'array',
  maxItems: 64,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['profile', 'start'],
    properties: {
      profile: { type: 'string', minLength: 1, maxLength: 64 },
      start: { type: 'integer', minimum: 0, maximum: 63 },
      inUse: { type: 'boolean' },
      id: { type: 'string', maxLength: 256 },
    },
  },
} as const;

const checkInstances = ajv.compile<{ profile: string; start: number; inUse?: boolean; id?: string }[]>(instancesSchema);

/** Instances from untrusted data; `inUse` defaults to true (a GPU's instances are held unless said otherwise). */
export function parseMigInstances(value: unknown, field = 'instances'): Result<MigInstance[]> {
  if (!checkInstances(value)) return err(validationError(checkInstances.errors, field));
  return ok(value.map((i) => ({ profile: i.profile, start: i.start, inUse: i.inUse ?? true, ...(i.id === undefined ? {} : { id: i.id }) })));
}
