/**
 * HAMi v2.10's `migProfileAllowlist` over Tessera's catalog. HAMi lists, per model, the MIG profiles its device
 * plugin may create; Tessera's planner takes the same restriction as the set of every geometry made only of those
 * profiles (any count that places on the GPU), so each layout it leaves behind uses listed profiles only.
 *
 * Profile names: a name the model has (NVIDIA's spelling) is that profile. HAMi's chart also names profiles NVIDIA
 * spells otherwise (`7g.79gb` for the A100-80GB's `7g.80gb`): such a name means the model's profile with the same
 * compute slices whose named size is nearest. A name with a slice count the model lacks is skipped, as HAMi's
 * device plugin skips it, and reported.
 */
import { type GpuModel, type MigGeometry, type MigProfile, placeGeometry, resolveGpuModel } from '../geometry/index.js';

export interface MigProfileAllowlistEntry {
  /** GPU model names (HAMi: substrings of the name NVML reports; here any spelling the catalog resolves). */
  models: string[];
  profiles: string[];
}

const NAME = /^(\d+)g\.(\d+)gb/;

/** The profile of `model` an allowlisted name stands for, or undefined when the model has none like it. */
export function allowlistProfile(model: GpuModel, name: string): MigProfile | undefined {
  const profiles = model.mig?.profiles ?? [];
  const wanted = name.toLowerCase();
  const exact = profiles.find((p) => p.name === wanted);
  if (exact) return exact;
  const parsed = NAME.exec(wanted);
  if (!parsed) return undefined;
  const [, slices = '', gb = ''] = parsed;
  const sizeOf = (p: MigProfile): number => Number(NAME.exec(p.name)?.[2] ?? Number.NaN);
  return profiles.filter((p) => !p.mediaExtensions && p.computeSlices === Number(slices)).sort((a, b) => Math.abs(sizeOf(a) - Number(gb)) - Math.abs(sizeOf(b) - Number(gb)))[0];
}

/** The names of the profiles of `model` that `names` stand for: what the planner may reuse or create. */
export function allowlistProfileNames(model: GpuModel, names: readonly string[]): ReadonlySet<string> {
  return new Set(names.flatMap((name) => allowlistProfile(model, name)?.name ?? []));
}

const geometriesByKey = new Map<string, MigGeometry[]>();

/**
 * Every geometry of `model` made only of the profiles `names` stand for, each placeable on the GPU. The same
 * arrays are answered for the same input, so the engine's placement cache (keyed by geometry) holds across calls.
 */
export function allowlistGeometries(model: GpuModel, names: readonly string[]): MigGeometry[] {
  const key = `${model.name}\n${names.join('\n')}`;
  const cached = geometriesByKey.get(key);
  if (cached) return cached;
  const profiles = [...new Set(names.flatMap((name) => allowlistProfile(model, name) ?? []))];
  const geometries: MigGeometry[] = [];
  const counts = profiles.map(() => 0);
  const visit = (i: number): void => {
    if (i === profiles.length) {
      const geometry = profiles.flatMap((p, j) => ((counts[j] ?? 0) > 0 ? [{ profile: p.name, count: counts[j] ?? 0 }] : []));
      if (geometry.length > 0 && placeGeometry(model, geometry).ok) geometries.push(geometry);
      return;
    }
    for (let n = 0; n <= (profiles[i]?.maxCount ?? 0); n++) {
      counts[i] = n;
      visit(i + 1);
    }
    counts[i] = 0;
  };
  visit(0);
  geometriesByKey.set(key, geometries);
  return geometries;
}

/** What the allowlist names that Tessera reads otherwise: unknown models, renamed and skipped profiles. */
export function allowlistNotices(entries: readonly MigProfileAllowlistEntry[]): { field: string; message: string }[] {
  const notices: { field: string; message: string }[] = [];
  entries.forEach((entry, i) => {
    entry.models.forEach((name, m) => {
      const field = `nvidia.migProfileAllowlist.${i}.models.${m}`;
      const resolved = resolveGpuModel(name);
      if (!resolved.ok || !resolved.value.mig) {
        notices.push({ field, message: `'${name}' is not a MIG GPU Tessera knows: this name restricts no GPU` });
        return;
      }
      const model = resolved.value;
      entry.profiles.forEach((profileName, p) => {
        const profile = allowlistProfile(model, profileName);
        const at = `nvidia.migProfileAllowlist.${i}.profiles.${p}`;
        if (!profile) notices.push({ field: at, message: `${model.name} has no profile like '${profileName}': skipped on it, as HAMi skips it` });
        else if (profile.name !== profileName.toLowerCase()) notices.push({ field: at, message: `'${profileName}' is ${profile.name} on ${model.name}` });
      });
    });
  });
  return notices;
}
