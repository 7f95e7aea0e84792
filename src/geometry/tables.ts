/**
 * Per-model tables computed once and shared by every plan: each placement as a bitmask over memory slices, and for
 * every set of usable slices how many instances of each profile still fit. The engine's hot path only looks these
 * up. Memoised by MigSpec object (catalog specs are constants; models built by hand get their own tables).
 */
import type { MigProfile, MigSpec } from './types.js';

export interface SpecTables {
  readonly spec: MigSpec;
  readonly profiles: readonly MigProfile[];
  /** Profile name -> index into `profiles`. */
  readonly indexOf: ReadonlyMap<string, number>;
  /** masks[p][k]: slices covered by profile p placed at its k-th start. */
  readonly masks: readonly (readonly number[])[];
  /** All memory slices. */
  readonly fullMask: number;
  /**
   * fits[p][usable]: the largest number of profile-p instances that fit, together, in the slices of `usable`
   * (capped by the profile's max count).
   */
  readonly fits: readonly Uint8Array[];
}

const tablesBySpec = new WeakMap<MigSpec, SpecTables>();

export function tablesFor(spec: MigSpec): SpecTables {
  const known = tablesBySpec.get(spec);
  if (known) return known;
  const tables = buildTables(spec);
  tablesBySpec.set(spec, tables);
  return tables;
}

export function sliceMask(start: number, size: number): number {
  return ((1 << size) - 1) << start;
}

function buildTables(spec: MigSpec): SpecTables {
  const fullMask = (1 << spec.totalMemorySlices) - 1;
  const masks = spec.profiles.map((p) => p.starts.map((s) => sliceMask(s, p.memorySlices)));
  const fits = spec.profiles.map((profile, p) => {
    const table = new Uint8Array(fullMask + 1);
    for (let usable = 0; usable <= fullMask; usable++) table[usable] = greedyFit(masks[p] ?? [], usable, profile.maxCount);
    return table;
  });
  return { spec, profiles: spec.profiles, indexOf: new Map(spec.profiles.map((p, i) => [p.name, i])), masks, fullMask, fits };
}

/**
 * Same-size placements taken left to right whenever they fit: for equal-length intervals, earliest-first is the
 * maximum set of disjoint ones, so this is the exact maximum.
 */
function greedyFit(placements: readonly number[], usable: number, maxCount: number): number {
  let taken = 0;
  let count = 0;
  for (const mask of placements) {
    if (count === maxCount) break;
    if ((mask & usable) === mask && (mask & taken) === 0) {
      taken |= mask;
      count++;
    }
  }
  return count;
}
