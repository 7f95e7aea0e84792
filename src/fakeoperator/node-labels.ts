/**
 * The labels the status updater keeps on a fake GPU node: GPU feature discovery's (from the topology) and the GPU
 * operator's deploy labels that let the device plugin and exporter DaemonSets land on it.
 */
import { gfdLabels, type GfdMigProfile, type GfdNode } from '../api/index.js';
import type { NodeTopology } from '../topology/index.js';
import type { MigProfileLookup } from '../geometry/index.js';

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
