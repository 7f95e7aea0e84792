/**
 * Layout legality: every instance's profile exists on the model, starts at one of its legal starts, overlaps no
 * other, at most one `+me` instance, and no profile beyond its max count. `decodeLayout` is the engine's fast form
 * (bitmasks, no error objects); `validateLayout` turns its verdict into an error naming the instance.
 */
import { TesseraError, err, ok, type Result } from '../errors.js';
import { tablesFor, type SpecTables } from './tables.js';
import type { GpuModel, MigInstance } from './types.js';

export interface DecodedLayout {
  /** Profile index of each instance (same order as the input). */
  readonly profileOf: number[];
  /** Slice mask of each instance. */
  readonly maskOf: number[];
  /** Slices held by any instance. */
  readonly occupied: number;
  /** Slices held by instances in use. */
  readonly inUse: number;
  /** Instances of each profile index. */
  readonly counts: number[];
  /** `+me` instances. */
  readonly mediaCount: number;
}

/** Why a layout is illegal, with the offending instance's index. */
export interface LayoutFault {
  readonly index: number;
  readonly reason: string;
}

export function decodeLayout(tables: SpecTables, instances: readonly MigInstance[]): DecodedLayout | LayoutFault {
  const profileOf: number[] = [];
  const maskOf: number[] = [];
  const counts = tables.profiles.map(() => 0);
  let occupied = 0;
  let inUse = 0;
  let mediaCount = 0;
  for (let i = 0; i < instances.length; i++) {
    const instance = instances[i] as MigInstance;
    const p = tables.indexOf.get(instance.profile);
    const profile = p === undefined ? undefined : tables.profiles[p];
    if (p === undefined || !profile) return { index: i, reason: `profile '${String(instance.profile)}' does not exist on this model` };
    const k = profile.starts.indexOf(instance.start);
    if (k < 0) return { index: i, reason: `${profile.name} cannot start at ${String(instance.start)} (legal starts: ${profile.starts.join(', ')})` };
    const mask = tables.masks[p]?.[k] ?? 0;
    if ((mask & occupied) !== 0) return { index: i, reason: `${profile.name}@${instance.start} overlaps another instance` };
    if (profile.mediaExtensions && ++mediaCount > 1) return { index: i, reason: `a second +me instance (${profile.name}); at most one per GPU` };
    counts[p] = (counts[p] ?? 0) + 1;
    if ((counts[p] ?? 0) > profile.maxCount) return { index: i, reason: `more than ${profile.maxCount} ${profile.name} instances` };
    occupied |= mask;
    if (instance.inUse) inUse |= mask;
    profileOf.push(p);
    maskOf.push(mask);
  }
  return { profileOf, maskOf, occupied, inUse, counts, mediaCount };
}

export function isLayoutFault(value: DecodedLayout | LayoutFault): value is LayoutFault {
  return 'reason' in value;
}

/** Ok when `instances` can all exist together on a GPU of `model`; else an error naming the instance. */
export function validateLayout(model: GpuModel, instances: readonly MigInstance[]): Result<void> {
  if (!model.mig) {
    return instances.length === 0 ? ok(undefined) : err(new TesseraError('INVALID_MIG_LAYOUT', `${model.name} has no MIG: it cannot hold instances`, { field: 'instances' }));
  }
  const decoded = decodeLayout(tablesFor(model.mig), instances);
  if (isLayoutFault(decoded)) {
    return err(new TesseraError('INVALID_MIG_LAYOUT', `${model.name}: ${decoded.reason}`, { field: `instances.${decoded.index}` }));
  }
  return ok(undefined);
}
