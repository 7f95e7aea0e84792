/** Node and pod objects as the API server holds them, for the extender's tests and benchmark. */
import { TESSERA_API_VERSION, TESSERA_NODE } from '../../../src/api/annotations.js';
import { encodeInventory, INVENTORY_KIND, type NodeInventory } from '../../../src/api/inventory.js';

export interface GpuNodeOptions {
  gpus?: number;
  memoryMiB?: number;
  model?: string;
  splitCount?: number;
  cpu?: string;
  memory?: string;
}

export function inventoryFor(name: string, options: GpuNodeOptions = {}): NodeInventory {
  const gpus = options.gpus ?? 8;
  return {
    apiVersion: TESSERA_API_VERSION,
    kind: INVENTORY_KIND,
    node: name,
    mode: 'hami-core',
    splitCount: options.splitCount ?? 10,
    gpus: Array.from({ length: gpus }, (_, i) => ({
      uuid: `GPU-${name}-${i}`,
      index: i,
      model: options.model ?? 'NVIDIA A100-SXM4-80GB',
      memoryMiB: options.memoryMiB ?? 81920,
      coreUnits: 100,
      numa: i < gpus / 2 ? 0 : 1,
      health: 'Healthy' as const,
      mig: { enabled: false, instances: [] },
    })),
    observedAt: '2026-11-24T12:00:00.000Z',
  };
}

/** A Node carrying the device plugin's inventory annotation. */
export function gpuNode(
  name: string,
  options: GpuNodeOptions = {},
): { apiVersion: 'v1'; kind: 'Node'; metadata: { name: string; labels: Record<string, string>; annotations: Record<string, string> }; status: { allocatable: Record<string, string> } } {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, gpu: 'on' }, annotations: { [TESSERA_NODE.inventory]: encodeInventory(inventoryFor(name, options)) } },
    status: { allocatable: { cpu: options.cpu ?? '128', memory: options.memory ?? '1024Gi', pods: '110' } },
  };
}

export interface GpuPodOptions {
  namespace?: string;
  uid?: string;
  gpus?: number;
  memoryMiB?: number;
  cores?: number;
  annotations?: Record<string, string>;
}

export function gpuPod(
  name: string,
  options: GpuPodOptions = {},
): {
  apiVersion: 'v1';
  kind: 'Pod';
  metadata: { name: string; namespace: string; uid?: string; annotations: Record<string, string> };
  spec: { schedulerName: string; containers: Array<{ name: string; image: string; resources: { limits: Record<string, string> } }> };
} {
  const limits: Record<string, string> = { 'nvidia.com/gpu': String(options.gpus ?? 1) };
  if (options.memoryMiB !== undefined) limits['nvidia.com/gpumem'] = String(options.memoryMiB);
  if (options.cores !== undefined) limits['nvidia.com/gpucores'] = String(options.cores);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: options.namespace ?? 'default', ...(options.uid ? { uid: options.uid } : {}), annotations: options.annotations ?? {} },
    spec: { schedulerName: 'tessera-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits } }] },
  };
}
