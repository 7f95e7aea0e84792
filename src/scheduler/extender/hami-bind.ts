/**
 * What bind writes for HAMi's side, besides the device lists (effects.ts): the `hami.io/vgpu-node` pod label
 * HAMi's monitor lists pods by, and for MIG grants v2.10's `hami.io/vgpu-mig-allocations`, which HAMi's device
 * plugin reads to create each instance at its placement. Both merge into the bind's one patch.
 */
import { type Decision, encodeHamiMigAllocations, HAMI_MIG_ALLOCATIONS, HAMI_POD, type HamiMigAllocation } from '../../api/index.js';
import { findProfile, resolveGpuModel } from '../../geometry/index.js';

export interface HamiBindRecords {
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

/**
 * `modelOf` gives the model a GPU reports (by UUID): a profile's placement size, in memory slices, depends on it
 * (`1g.10gb` is one slice on an H100-80GB, two on an A100-40GB).
 */
export function hamiBindRecords(decision: Decision, modelOf: (gpuUuid: string) => string | undefined): HamiBindRecords {
  const allocations: HamiMigAllocation[] = [];
  decision.containers.forEach((container, containerIndex) => {
    container.devices.forEach((device, deviceIndex) => {
      if (!device.mig) return;
      const model = resolveGpuModel(modelOf(device.uuid) ?? '');
      const profile = model.ok ? findProfile(model.value, device.mig.profile) : undefined;
      if (!profile) return;
      allocations.push({ containerIndex, deviceIndex, gpuUUID: device.uuid, profile: profile.name, placement: { start: device.mig.start, size: profile.memorySlices } });
    });
  });
  return {
    annotations: allocations.length > 0 ? { [HAMI_MIG_ALLOCATIONS]: encodeHamiMigAllocations(allocations) } : {},
    labels: { [HAMI_POD.vgpuNode]: decision.node },
  };
}
