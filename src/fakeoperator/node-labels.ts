/**
 * The labels the status updater keeps on a fake GPU node: GPU feature discovery's (from the topology) and the GPU
 * operator's deploy labels that let the device plugin and exporter DaemonSets land on it.
 */
import { gfdLabels, type GfdMigProfile, type GfdNode } from './gfd.js';
import type { MigProfileLookup } from './profiles.js';
import type { NodeTopology } from './topology.js';

export const DEPLOY_LABELS = {
  'nvidia.com/gpu.deploy.device-plugin': 'true',
  'nvidia.com/gpu.deploy.dcgm-exporter': 'true',
  'nvidia.com/gpu.deploy.gpu-feature-discovery': 'true',
} as const;

/** GFD's input from a node's topology; facts the catalog lacks come out as 0 (and no SM label). */
export function gfdNodeOf(node: NodeTopology, profiles: MigProfileLookup): GfdNode {
  return {
    migStrategy: node.migStrategy,
    gpus: node.gpus.map((gpu) => ({
      product: node.gpuProduct,
      memoryMiB: node.gpuMemoryMiB,
      migInstances: gpu.migDevices.map((m): GfdMigProfile => {
        const facts = profiles(node.gpuProduct, m.profile);
        return { name: m.profile, memoryMiB: facts?.memoryMiB ?? 0, multiprocessors: facts?.multiprocessors ?? null, giSlices: facts?.giSlices ?? 0, ciSlices: facts?.ciSlices ?? 0 };
      }),
    })),
  };
}

/** Every label the node should carry. */
export function nodeLabels(node: NodeTopology, profiles: MigProfileLookup): Record<string, string> {
  return { ...DEPLOY_LABELS, ...gfdLabels(gfdNodeOf(node, profiles)) };
}

/**
 * The merge patch that brings `current` labels to `desired`: changed and new labels, and (unless `removeStale` is
 * false) null for the GFD labels (`nvidia.com/gpu.*`, `nvidia.com/mig*`) the node no longer should have. Null
 * when nothing changes.
 */
export function labelPatch(current: Readonly<Record<string, string>>, desired: Readonly<Record<string, string>>, removeStale = true): Record<string, string | null> | null {
  const patch: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(desired)) if (current[key] !== value) patch[key] = value;
  for (const key of removeStale ? Object.keys(current) : []) {
    if (!(key in desired) && /^nvidia\.com\/(gpu\.(?!deploy\.)|mig[-.])/.test(key) && key !== 'nvidia.com/mig.config' && key !== 'nvidia.com/mig.config.state') {
      patch[key] = null;
    }
  }
  return Object.keys(patch).length > 0 ? patch : null;
}
