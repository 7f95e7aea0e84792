/**
 * Model lookup: every spelling a node, nvidia-smi, GPU feature discovery or a user writes resolves to one catalog
 * model, or to an error naming the input. Never a guess: a name matches only a listed alias after normalising.
 */
import { TesseraError, err, ok, type Result } from '../errors.js';
import { CATALOG } from './catalog.js';
import type { GpuModel, MigProfile } from './types.js';

/**
 * The comparable form of a model name: upper case, spaces and underscores as dashes, without the vendor and
 * brand prefixes (`NVIDIA`, `Tesla`) and without the suffixes GFD adds (`-MIG-1g.5gb` for MIG strategy single,
 * `-SHARED` for time-slicing).
 */
export function normaliseModelName(name: string): string {
  return name
    .trim()
    .toUpperCase()
    .replace(/[\s_]+/g, '-')
    .replace(/-+/g, '-')
    .replace(/-MIG-\d+G\.\d+GB(\+ME)?$/, '')
    .replace(/-SHARED$/, '')
    .replace(/^(NVIDIA-)?(TESLA-)?/, '');
}

const BY_ALIAS: ReadonlyMap<string, GpuModel> = new Map(CATALOG.flatMap(({ model, aliases }) => [model.name, ...aliases].map((alias) => [normaliseModelName(alias), model] as const)));

const MODEL_NAME_MAX_LENGTH = 256;

export function resolveGpuModel(name: string): Result<GpuModel> {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MODEL_NAME_MAX_LENGTH) {
    return err(new TesseraError('UNKNOWN_GPU_MODEL', `'${String(name).slice(0, 64)}' is not a GPU model name`, { field: 'model' }));
  }
  const model = BY_ALIAS.get(normaliseModelName(name));
  return model ? ok(model) : err(new TesseraError('UNKNOWN_GPU_MODEL', `unknown GPU model '${name}'`, { field: 'model' }));
}

/** Every catalog model, MIG models first, in catalog order. */
export function listGpuModels(): readonly GpuModel[] {
  const models = CATALOG.map((entry) => entry.model);
  return [...models.filter((m) => m.mig), ...models.filter((m) => !m.mig)];
}

/** A GPU the catalog does not know, described by the node (its memory): usable whole, never MIG-partitioned. */
export function wholeGpuModel(name: string, memoryMiB: number): Result<GpuModel> {
  if (typeof name !== 'string' || name.trim() === '' || name.length > MODEL_NAME_MAX_LENGTH) {
    return err(new TesseraError('INVALID_INPUT', 'must be a non-empty model name', { field: 'model' }));
  }
  if (!Number.isSafeInteger(memoryMiB) || memoryMiB <= 0) {
    return err(new TesseraError('INVALID_INPUT', `must be a positive integer, got ${String(memoryMiB)}`, { field: 'memoryMiB' }));
  }
  return ok({ name: name.trim(), memoryMiB, mig: null });
}

/** The profile called `name` on `model` (exact NVIDIA spelling, case-insensitive), or undefined. */
export function findProfile(model: GpuModel, name: string): MigProfile | undefined {
  const wanted = name.toLowerCase();
  return model.mig?.profiles.find((p) => p.name === wanted);
}

/**
 * The profiles of `model` (no `+me`) whose memory holds `memoryMiB`, smallest first: by memory, then compute slices
 * (HAMi's order, and the smallest instance that serves a request).
 */
export function servingProfiles(model: GpuModel, memoryMiB: number): MigProfile[] {
  return (model.mig?.profiles ?? []).filter((p) => !p.mediaExtensions && p.memoryMiB >= memoryMiB).sort((a, b) => a.memoryMiB - b.memoryMiB || a.computeSlices - b.computeSlices);
}
