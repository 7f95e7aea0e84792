/**
 * What the extender takes from the HAMi device config: resource names and defaults for reading requests, memory
 * scaling, the MIG planner over the geometry engine (restricted to the operator's knownMigGeometries or
 * migProfileAllowlist, each model's restriction built once here), and the
 * catalog's names for the models nodes report. One place, for `tessera scheduler` and anything else that starts
 * the extender from a device config.
 */
import { migRestrictionFor, type DeviceConfig } from '../../config/index.js';
import { listGpuModels, resolveGpuModel, type MigRestriction } from '../../geometry/index.js';
import { createGeometryPlanner } from '../core/index.js';
import { tesseraMigPlanner, tesseraPolicy } from '../policies/index.js';
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
  const restrictions = new Map<string, MigRestriction>();
  for (const model of listGpuModels()) {
    const restriction = migRestrictionFor(config, model);
    if (restriction) restrictions.set(model.name, restriction);
  }
  return {
    requestConfig: config.nvidia,
    memoryScaling: config.nvidia.deviceMemoryScaling,
    nodeMemoryScaling: Object.fromEntries(config.nodeconfig.flatMap((n) => (n.devicememoryscaling === undefined ? [] : [[n.name, n.devicememoryscaling]]))),
    ...(policy === tesseraPolicy.name
      ? { migPlanner: tesseraMigPlanner({ restrictions }), migPlannerFor: (demand) => tesseraMigPlanner({ restrictions, demand }) }
      : { migPlanner: createGeometryPlanner({ restrictions }) }),
    resolveModel: catalogModelName,
  };
}
