/** MIG: each vGPU is a MIG instance the device plugin created from the decision's plan; the container sees only those. */
import { TesseraError } from '../../errors.js';
import type { SharingMode } from '../types.js';
import { migMetrics } from './metrics.js';

export const migMode: SharingMode = {
  name: 'mig',
  allocation: 'mig',
  enforcesCores: false,
  grant(devices) {
    const uuids = devices.map((d, i) => {
      if (!d.mig?.migDeviceUuid) throw new TesseraError('INTERNAL', `MIG device ${i} of the grant has no instance UUID yet`, { field: `devices.${i}.mig.migDeviceUuid` });
      return d.mig.migDeviceUuid;
    });
    return { envs: { NVIDIA_VISIBLE_DEVICES: uuids.join(',') }, mounts: [] };
  },
  metrics: migMetrics,
};
