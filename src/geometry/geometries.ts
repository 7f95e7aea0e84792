/**
 * Geometries as HAMi's knownMigGeometries state them (profile counts, no placements): every legal way to place one
 * on a model. Largest profiles are placed first and equal profiles in ascending starts, so each placement appears
 * once.
 */
import { TesseraError, err, ok, type Result } from '../errors.js';
import { tablesFor, type SpecTables } from './tables.js';
import type { GpuModel, MigGeometry } from './types.js';

/** One placed instance of a geometry: profile index, start, slice mask. */
export interface PlacedInstance {
  readonly p: number;
  readonly start: number;
  readonly mask: number;
}

/** Profile indices of the geometry, largest first; an error names the first profile the model lacks. */
function expand(tables: SpecTables, modelName: string, geometry: MigGeometry): Result<number[]> {
  const items: number[] = [];
  for (const { profile, count } of geometry) {
    const p = tables.indexOf.get(profile);
    if (p === undefined) return err(new TesseraError('INVALID_MIG_LAYOUT', `${modelName} has no MIG profile '${profile}'`));
    if (!Number.isSafeInteger(count) || count < 0) return err(new TesseraError('INVALID_MIG_LAYOUT', `count of ${profile} must be a non-negative integer`));
    for (let i = 0; i < count; i++) items.push(p);
  }
  const size = (p: number): number => tables.profiles[p]?.memorySlices ?? 0;
  return ok(items.sort((a, b) => size(b) - size(a) || a - b));
}

/** Every placement of `geometry` on `model` (at most `limit`); an error when a profile is unknown. */
export function geometryPlacements(model: GpuModel, geometry: MigGeometry, limit = Number.POSITIVE_INFINITY): Result<PlacedInstance[][]> {
  if (!model.mig) return err(new TesseraError('INVALID_MIG_LAYOUT', `${model.name} has no MIG`));
  const tables = tablesFor(model.mig);
  const expanded = expand(tables, model.name, geometry);
  if (!expanded.ok) return expanded;
  const items = expanded.value;
  const counts = tables.profiles.map(() => 0);
  let media = 0;
  const found: PlacedInstance[][] = [];
  const chosen: PlacedInstance[] = [];
  const place = (i: number, occupied: number): void => {
    if (found.length >= limit) return;
    if (i === items.length) {
      found.push([...chosen]);
      return;
    }
    const p = items[i] as number;
    const profile = tables.profiles[p];
    if (!profile || (counts[p] ?? 0) >= profile.maxCount || (profile.mediaExtensions && media > 0)) return;
    const previous = chosen[chosen.length - 1];
    const minStart = previous && previous.p === p ? previous.start + 1 : 0;
    profile.starts.forEach((start, k) => {
      const mask = tables.masks[p]?.[k] ?? 0;
      if (start < minStart || (mask & occupied) !== 0) return;
      chosen.push({ p, start, mask });
      counts[p] = (counts[p] ?? 0) + 1;
      if (profile.mediaExtensions) media++;
      place(i + 1, occupied | mask);
      if (profile.mediaExtensions) media--;
      counts[p] = (counts[p] ?? 0) - 1;
      chosen.pop();
    });
  };
  place(0, 0);
  return ok(found);
}

const placementsByGeometry = new WeakMap<MigGeometry, Map<GpuModel['mig'], Result<PlacedInstance[][]>>>();

/**
 * `geometryPlacements` remembered per geometry object and model (the engine sees the same configured geometries on
 * every call; treat them as immutable).
 */
export function cachedGeometryPlacements(model: GpuModel, geometry: MigGeometry): Result<PlacedInstance[][]> {
  let perSpec = placementsByGeometry.get(geometry);
  if (!perSpec) {
    perSpec = new Map();
    placementsByGeometry.set(geometry, perSpec);
  }
  let placements = perSpec.get(model.mig);
  if (!placements) {
    placements = geometryPlacements(model, geometry);
    perSpec.set(model.mig, placements);
  }
  return placements;
}

/**
 * The first placement of `geometry` on `model` (largest profiles at their lowest starts), or an error that names
 * the model and the profile that does not fit.
 */
export function placeGeometry(model: GpuModel, geometry: MigGeometry): Result<{ profile: string; start: number }[]> {
  const placements = geometryPlacements(model, geometry, 1);
  if (!placements.ok) return placements;
  const first = placements.value[0];
  if (!first) {
    const names = geometry.filter((g) => g.count > 0).map((g) => `${g.count}x${g.profile}`);
    return err(new TesseraError('INVALID_MIG_LAYOUT', `${model.name} cannot hold ${names.join(' + ')} together (${culprit(model, geometry)})`));
  }
  const profiles = (model.mig as NonNullable<GpuModel['mig']>).profiles;
  return ok(first.map(({ p, start }) => ({ profile: profiles[p]?.name ?? '', start })));
}

/** The profile that breaks a geometry: over its max count, or the first whose addition stops it fitting. */
function culprit(model: GpuModel, geometry: MigGeometry): string {
  const spec = model.mig;
  if (!spec) return 'no MIG';
  for (const { profile, count } of geometry) {
    const max = spec.profiles.find((p) => p.name === profile)?.maxCount ?? 0;
    if (count > max) return `profile ${profile}: at most ${max}`;
  }
  const slices = geometry.reduce((sum, g) => sum + g.count * (spec.profiles.find((p) => p.name === g.profile)?.memorySlices ?? 0), 0);
  if (slices > spec.totalMemorySlices) return `${slices} memory slices asked, the GPU has ${spec.totalMemorySlices}`;
  for (let n = 1; n <= geometry.length; n++) {
    const prefix = geometry.slice(0, n);
    const fits = geometryPlacements(model, prefix, 1);
    if (fits.ok && fits.value.length === 0) return `profile ${geometry[n - 1]?.profile ?? ''} has no free legal placement`;
  }
  return 'no legal placement';
}
