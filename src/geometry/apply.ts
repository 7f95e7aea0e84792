/**
 * Applying a MIG plan's ops to a GPU's instances: the one place that says what a plan leaves behind, used by the
 * allocator's state (a decision's plan applied to its model of the GPU) and by the fake device-plugin backend (an
 * instance created on a simulated GPU). Pure: the first illegal op is the error, naming it.
 */
import { TesseraError, err, ok, type Result } from '../errors.js';
import { decodeLayout, isLayoutFault } from './layout.js';
import { tablesFor } from './tables.js';
import type { GpuModel, MigInstance, MigOp } from './types.js';

const opName = (op: MigOp): string => `${op.action} ${op.profile}@${op.start}`;
const fault = (model: GpuModel, op: MigOp, reason: string, index: number): Result<never> =>
  err(new TesseraError('INVALID_MIG_LAYOUT', `${model.name}: ${opName(op)}: ${reason}`, { field: `plan.${index}` }));

/**
 * The instances after `ops`, in order: a destroy removes a free instance that is there; a create adds a free
 * instance at a legal start of its profile in slices no other instance holds (the layout stays legal: starts,
 * overlaps, `+me` and max counts). Instances are returned sorted by start; ones the ops do not touch keep their
 * fields (ids, inUse) as given.
 */
export function applyOps<T extends MigInstance>(model: GpuModel, instances: readonly T[], ops: readonly MigOp[]): Result<(T | MigInstance)[]> {
  if (!model.mig) return ops.length === 0 ? ok([...instances]) : fault(model, ops[0] as MigOp, 'the model has no MIG', 0);
  const tables = tablesFor(model.mig);
  const next: (T | MigInstance)[] = [...instances];
  for (const [index, op] of ops.entries()) {
    if (op.action === 'destroy') {
      const at = next.findIndex((i) => i.start === op.start && i.profile === op.profile);
      if (at < 0) return fault(model, op, 'no such instance', index);
      if (next[at]?.inUse) return fault(model, op, 'the instance is in use', index);
      next.splice(at, 1);
      continue;
    }
    next.push({ profile: op.profile, start: op.start, inUse: false });
    const decoded = decodeLayout(tables, next);
    if (isLayoutFault(decoded)) return fault(model, op, decoded.reason, index);
  }
  return ok(next.sort((a, b) => a.start - b.start));
}
