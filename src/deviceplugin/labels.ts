/**
 * The node labels the device plugin keeps: GPU feature discovery's, computed by the fake operator's pure
 * `gfdLabels` from what the backend discovered (one implementation for both), and the MIG manager's state label
 * around reconfigurations. Pure.
 */
import { gfdLabels, type GfdMigProfile, type MigStrategy } from '../api/index.js';
import type { GpuInfo } from './backend.js';
import { catalogProfiles, type MigProfileLookup } from '../geometry/index.js';

export const MIG_CONFIG_STATE_LABEL = 'nvidia.com/mig.config.state';
export type MigConfigState = 'pending' | 'success' | 'failed';

export function featureLabels(gpus: readonly GpuInfo[], strategy: MigStrategy, profiles: MigProfileLookup = catalogProfiles): Record<string, string> {
  return gfdLabels({
    migStrategy: strategy,
    gpus: gpus.map((gpu) => ({
      product: gpu.model,
      memoryMiB: gpu.memoryMiB,
      migInstances: gpu.migInstances.map((m): GfdMigProfile => {
        const facts = profiles(gpu.model, m.profile);
        return { name: m.profile, memoryMiB: facts?.memoryMiB ?? 0, multiprocessors: facts?.multiprocessors ?? null, giSlices: facts?.giSlices ?? 0, ciSlices: facts?.ciSlices ?? 0 };
      }),
    })),
  });
}
