/**
 * What the extender takes from the HAMi device config: resource names and defaults for reading requests, memory
 * scaling, the MIG planner over the geometry engine (restricted to the operator's knownMigGeometries), and the
 * catalog's names for the models nodes report. One place, for `tessera scheduler` and anything else that starts
 * the extender from a device config.
 */
import { allowedGeometriesFor, type DeviceConfig } from '../../config/device-config.js';
import { listGpuModels, resolveGpuModel, type MigGeometry } from '../../geometry/index.js';
import { createGeometryPlanner } from '../core/geometry-planner.js';
import { tesseraMigPlanner } from '../policies/frag-mig.js';
import { tesseraPolicy } from '../policies/tessera.js';
import type { StartExtenderOptions } from './service.js';

export type DeviceOptions = Pick<StartExtenderOptions, 'requestConfig' | 'memoryScaling' | 'nodeMemoryScaling' | 'migPlanner' | 'migPlannerFor' | 'resolveModel'>;

/** The catalog's name for a model as the driver reports it; the reported name when the catalog does not know it. */
export function catalogModelName(reported: string): string {
  const resolved = resolveGpuModel(reported);
  return resolved.ok ? resolved.value.name : reported;
}

/**
 * `policy` picks the MIG planner: tessera's (carves for the learned demand, reshapes only idle GPUs) for the
 * tessera policy, the engine's ranking for the others.
 */
export function extenderDeviceOptions(config: DeviceConfig, policy: string): DeviceOptions {
  const allowed = new Map<string, MigGeometry[]>();
  for (const model of listGpuModels()) {
    const geometries = allowedGeometriesFor(config, model);
    if (geometries) allowed.set(model.name, geometries);
  }
  return {
    requestConfig: config.nvidia,
    memoryScaling: config.nvidia.deviceMemoryScaling,
    nodeMemoryScaling: Object.fromEntries(config.nodeconfig.flatMap((n) => (n.devicememoryscaling === undefined ? [] : [[n.name, n.devicememoryscaling]]))),
    ...(policy === tesseraPolicy.name
      ? { migPlanner: tesseraMigPlanner({ allowedGeometries: allowed }), migPlannerFor: (demand) => tesseraMigPlanner({ allowedGeometries: allowed, demand }) }
      : { migPlanner: createGeometryPlanner({ allowedGeometries: allowed }) }),
    resolveModel: catalogModelName,
  };
}
