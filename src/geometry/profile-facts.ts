/**
 * The MIG profile facts GFD labels and DCGM need (instance memory for DCGM's FB_FREE, SMs and slices for GFD), as
 * one narrow lookup so the pure code takes them as data. `catalogProfiles` answers from src/geometry's catalog
 * plus the SM counts of mig.md.
 */
import { findProfile, resolveGpuModel } from './models.js';

export interface MigProfileFacts {
  memoryMiB: number;
  /** Streaming multiprocessors of the instance; null where the reference gives none. */
  multiprocessors: number | null;
  /** Compute slices (GFD's `slices.gi`, and `slices.ci` for a compute instance spanning the whole GI). */
  giSlices: number;
  ciSlices: number;
  /** Memory slices the instance occupies (its placement size). */
  memorySlices: number;
}

/** Facts of `profile` on a GPU whose product is `gpuProduct` (any spelling the catalog resolves). */
export type MigProfileLookup = (gpuProduct: string, profile: string) => MigProfileFacts | undefined;

/**
 * SMs per instance by GPU family and compute slices (mig.md, "SM counts per row"); H100/H200 give a 1g instance
 * with two memory slices 26 SMs rather than 16, keyed here as compute slices `1.2`.
 */
const SMS: ReadonlyArray<{ family: RegExp; sms: Readonly<Record<string, number>> }> = [
  { family: /^A100-/, sms: { '1': 14, '1.2': 14, '2': 28, '3': 42, '4': 56, '7': 98 } },
  { family: /^A30-/, sms: { '1': 14, '2': 28, '4': 56 } },
  { family: /^H(100|200)-/, sms: { '1': 16, '1.2': 26, '2': 32, '3': 60, '4': 64, '7': 132 } },
];

export const catalogProfiles: MigProfileLookup = (gpuProduct, profileName) => {
  const model = resolveGpuModel(gpuProduct);
  if (!model.ok) return undefined;
  const profile = findProfile(model.value, profileName);
  if (!profile) return undefined;
  const key = profile.computeSlices === 1 && profile.memorySlices === 2 ? '1.2' : String(profile.computeSlices);
  const sms = SMS.find((entry) => entry.family.test(model.value.name))?.sms[key];
  return {
    memoryMiB: profile.memoryMiB,
    multiprocessors: sms ?? null,
    giSlices: profile.computeSlices,
    ciSlices: profile.computeSlices,
    memorySlices: profile.memorySlices,
  };
};
