/**
 * MIG's own series: the instances pods hold (HAMi's `hami_node_gpu_mig_instance_info`, and its pre-2.5
 * `nodeGPUMigInstance` on request), the idle ones, and the decisions that change a GPU's geometry.
 */
import type { Decision } from '../../api/index.js';
import type { ModeCount, ModeFamily, ModeMetrics } from '../types.js';

const MIG_FAMILIES = {
  instance: {
    name: 'hami_node_gpu_mig_instance_info',
    help: 'MIG instances pods hold, with identity and placement (always 1).',
    labelNames: ['zone', 'node', 'device_uuid', 'device_index', 'mig_uuid', 'profile', 'gpu_instance_id', 'compute_instance_id', 'placement_start', 'placement_size'],
  },
  legacyInstance: {
    name: 'nodeGPUMigInstance',
    help: 'MIG instances on a GPU (HAMi legacy name): 1 in use, 0 idle.',
    labelNames: ['zone', 'nodeid', 'deviceuuid', 'deviceidx', 'migname'],
    legacy: true,
  },
  idle: { name: 'tessera_mig_instances_idle', help: 'MIG instances that exist but no pod uses.', labelNames: ['node'] },
  reconfigurations: {
    name: 'tessera_mig_reconfigurations_total',
    help: "Decisions that change a GPU's MIG geometry, by node.",
    labelNames: ['node'],
    type: 'counter',
  },
} as const satisfies Record<string, ModeFamily>;

const placementKey = (uuid: string, profile: string, start: number): string => `${uuid}/${profile}@${start}`;

/** One count per GPU whose plan changes the geometry. */
function reconfigurations(decision: Decision): ModeCount[] {
  const gpus = new Set<string>();
  for (const container of decision.containers) for (const device of container.devices) if ((device.mig?.plan.length ?? 0) > 0) gpus.add(device.uuid);
  return [...gpus].map(() => ({ family: MIG_FAMILIES.reconfigurations, labels: { node: decision.node } }));
}

export const migMetrics: ModeMetrics = {
  nodeFamilies: [MIG_FAMILIES.instance, MIG_FAMILIES.legacyInstance, MIG_FAMILIES.idle],
  nodeSeries({ inventory, decisions, placementSize, zone, legacy }, emit) {
    const held = new Set<string>();
    for (const decision of decisions) for (const c of decision.containers) for (const d of c.devices) if (d.mig) held.add(placementKey(d.uuid, d.mig.profile, d.mig.start));
    const node = inventory.node;
    let idle = 0;
    for (const gpu of inventory.gpus) {
      const device_index = String(gpu.index);
      for (const instance of gpu.mig.instances) {
        const inUse = held.has(placementKey(gpu.uuid, instance.profile, instance.start));
        // HAMi reports the instances pods hold; idle ones are counted by tessera_mig_instances_idle.
        if (inUse) {
          emit(
            MIG_FAMILIES.instance,
            {
              zone,
              node,
              device_uuid: gpu.uuid,
              device_index,
              mig_uuid: instance.migDeviceUuid,
              profile: instance.profile,
              gpu_instance_id: String(instance.gpuInstanceId),
              compute_instance_id: '0',
              placement_start: String(instance.start),
              placement_size: String(placementSize(gpu.model, instance.profile) ?? ''),
            },
            1,
          );
        } else idle++;
        if (legacy) emit(MIG_FAMILIES.legacyInstance, { zone, nodeid: node, deviceuuid: gpu.uuid, deviceidx: device_index, migname: instance.profile }, inUse ? 1 : 0);
      }
    }
    emit(MIG_FAMILIES.idle, { node }, idle);
  },
  decisionFamilies: [MIG_FAMILIES.reconfigurations],
  decisionCounts: reconfigurations,
};
