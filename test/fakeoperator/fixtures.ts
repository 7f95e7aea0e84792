/** Builders for decisions, inventories and node topologies shared by the fake-operator and exporter tests. */
import { TESSERA_API_VERSION } from '../../src/api/annotations.js';
import { DECISION_KIND, type Decision, type DecisionDevice } from '../../src/api/decision.js';
import { INVENTORY_KIND, type InventoryMigInstance, type NodeInventory } from '../../src/api/inventory.js';
import type { MigStrategy } from '../../src/api/gfd.js';
import { nodeFromPool, type NodeTopology } from '../../src/topology/topology.js';

export function decision(pod: { uid: string; name: string; namespace?: string }, node: string, containers: Array<[string, DecisionDevice[]]>, mode: 'hami-core' | 'mig' = 'hami-core'): Decision {
  return {
    apiVersion: TESSERA_API_VERSION,
    kind: DECISION_KIND,
    pod: { uid: pod.uid, name: pod.name, namespace: pod.namespace ?? 'default' },
    node,
    mode,
    containers: containers.map(([name, devices]) => ({ name, devices })),
    decidedAt: '2026-01-01T00:00:10Z',
  };
}

export function topologyNode(node: string, product: string, memoryMiB: number, gpus: number, migStrategy: MigStrategy = 'none', dynamicMig = false): NodeTopology {
  return nodeFromPool(node, { gpuProduct: product, gpuCount: gpus, gpuMemoryMiB: memoryMiB, driverVersion: '550.54.15', migStrategy, dynamicMig });
}

/** A healthy node of `product` GPUs with exactly these UUIDs, none in use (for tests whose expectations name GPUs). */
export function topologyWithGpuIds(product: string, memoryMiB: number, ids: readonly string[]): NodeTopology {
  return {
    gpuProduct: product,
    gpuMemoryMiB: memoryMiB,
    driverVersion: '550.54.15',
    migStrategy: 'none',
    dynamicMig: false,
    health: 'Healthy',
    failMigOperations: false,
    gpus: ids.map((id) => ({ id, health: 'Healthy' as const, failMigOperations: false, status: { allocatedBy: null, usage: {} }, migDevices: [] })),
  };
}

/** An inventory listing the topology's GPUs, with MIG instances per GPU index. */
export function inventoryOf(node: string, topology: NodeTopology, mode: 'hami-core' | 'mig', instances: Record<number, InventoryMigInstance[]> = {}): NodeInventory {
  return {
    apiVersion: TESSERA_API_VERSION,
    kind: INVENTORY_KIND,
    node,
    mode,
    splitCount: 10,
    gpus: topology.gpus.map((gpu, index) => ({
      uuid: gpu.id,
      index,
      model: topology.gpuProduct,
      memoryMiB: topology.gpuMemoryMiB,
      coreUnits: 100,
      numa: 0,
      health: 'Healthy' as const,
      mig: { enabled: mode === 'mig', instances: instances[index] ?? [] },
    })),
    observedAt: '2026-01-01T00:00:00Z',
  };
}
