/** The dashboard's MIG slice sizes, read from the geometry catalog (src/geometry). */
import { findProfile, resolveGpuModel } from '../geometry/models.js';
import type { MigShapes } from './dashboard/view.js';

const migOf = (model: string) => {
  const resolved = resolveGpuModel(model);
  return resolved.ok ? resolved.value : undefined;
};

export const migShapes: MigShapes = {
  memorySlices: (model) => migOf(model)?.mig?.totalMemorySlices,
  profileSlices: (model, profile) => {
    const resolved = migOf(model);
    return resolved ? findProfile(resolved, profile)?.memorySlices : undefined;
  },
};
