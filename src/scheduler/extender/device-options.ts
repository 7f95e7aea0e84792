/**
 * What the extender takes from the HAMi device config: resource names and defaults for reading requests, memory
 * scaling, the MIG planner over the geometry engine (restricted to the operator's knownMigGeometries or
 * migProfileAllowlist, each model's restriction built once here), and the
 * catalog's names for the models nodes report. One place, for `tessera scheduler` and anything else that starts
 * the extender from a device config.
 */
import { migRestrictionFor, type DeviceConfig } from '../../config/index.js';
import { listGpuModels, resolveGpuModel, type MigRestriction } from '../../geometry/index.js';
import type { Policy } from '../core/index.js';
import { migPlannerOf } from '../policies/index.js';
import type { StartExtenderOptions } from './service.js';

export type DeviceOptions = Pick<StartExtenderOptions, 'requestConfig' | 'memoryScaling' | 'nodeMemoryScaling' | 'migPlanner' | 'migPlannerFor' | 'resolveModel'>;

/** The catalog's name for a model as the driver reports it; the reported name when the catalog does not know it. */
export function catalogModelName(reported: string): string {
  const resolved = resolveGpuModel(reported);
  return resolved.ok ? resolved.value.name : reported;
}

/**
 * The MIG planner is the one `policy` pairs with (`Policy.migPlanner`, rebuilt for each learned demand), else the
 * engine's ranking, under the operator's restrictions.
 */
export function extenderDeviceOptions(config: DeviceConfig, policy: Policy): DeviceOptions {
  const restrictions = new Map<string, MigRestriction>();
  for (const model of listGpuModels()) {
    const restriction = migRestrictionFor(config, model);
    if (restriction) restrictions.set(model.name, restriction);
  }
  return {
    requestConfig: config.nvidia,
    memoryScaling: config.nvidia.deviceMemoryScaling,
    nodeMemoryScaling: Object.fromEntries(config.nodeconfig.flatMap((n) => (n.devicememoryscaling === undefined ? [] : [[n.name, n.devicememoryscaling]]))),
    migPlanner: migPlannerOf(policy, { restrictions }),
    ...(policy.migPlanner ? { migPlannerFor: (demand) => migPlannerOf(policy, { restrictions, demand }) } : {}),
    resolveModel: catalogModelName,
  };
}
