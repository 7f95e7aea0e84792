/**
 * A simulated node for the device plugin, driven by the fake GPU operator's topology (src/topology). GPUs
 * take their model, memory and health from the topology, their starting MIG instances too; creating and
 * destroying instances then works on the backend's own state, and fails wherever the topology says MIG
 * operations fail. GPU-instance IDs are given the way the driver gives them on an 8-slice GPU (mig.md): the lowest
 * free ID in the range for the instance's size (whole GPU 0; half 1-2; quarter 3-6; eighth 7-14), so they depend
 * on what exists and in which order it was made, never on the placement.
 */
import { createHash } from 'node:crypto';
import { TesseraError } from '../errors.js';
import { gpuHealth, migOperationsFail, type NodeTopology } from '../topology/index.js';
import { applyOps, findProfile, resolveGpuModel, type GpuModel } from '../geometry/index.js';
import type { InventoryMigInstance } from '../api/index.js';
import type { GpuBackend, GpuInfo } from './backend.js';

/** The catalog model of a GPU and the memory slices of its GPUs and of one profile on it. */
function slicesOf(model: string, profile: string): { model: GpuModel; total: number; size: number } | undefined {
  const resolved = resolveGpuModel(model);
  const spec = resolved.ok ? resolved.value.mig : null;
  const found = resolved.ok ? findProfile(resolved.value, profile) : undefined;
  return resolved.ok && spec && found ? { model: resolved.value, total: spec.totalMemorySlices, size: found.memorySlices } : undefined;
}

/** The GPU-instance IDs the driver may give an instance of `size` slices on a GPU of `total` slices. */
export function gpuInstanceIdRange(total: number, size: number): [number, number] | undefined {
  const ratio = total / size;
  const level = Math.log2(ratio);
  if (!Number.isInteger(level) || level < 0) return undefined;
  const first = 2 ** level - 1;
  return [first, 2 * first];
}

function migDeviceUuid(gpuUuid: string, gpuInstanceId: number, generation: number): string {
  const hex = createHash('sha256').update(`${gpuUuid}/${gpuInstanceId}/${generation}`).digest('hex');
  return `MIG-${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Where the fake backend reads the node's topology: the ConfigMaps in a cluster, a value in tests. */
export type TopologySource = () => Promise<NodeTopology>;

export class FakeBackend implements GpuBackend {
  readonly name = 'fake';
  private readonly instances = new Map<string, InventoryMigInstance[]>();
  private generation = 0;

  private readonly source: TopologySource;

  /** A source is read again on every call, so health and failure switches follow it; a value stays as given. */
  constructor(topology: TopologySource | NodeTopology) {
    this.source = typeof topology === 'function' ? topology : () => Promise.resolve(topology);
  }

  /** The topology, with the instances of GPUs seen for the first time taken from it. */
  private async read(): Promise<{ node: NodeTopology; instancesOf: (gpuUuid: string) => InventoryMigInstance[] }> {
    const node = await this.source();
    for (const gpu of node.gpus) {
      if (this.instances.has(gpu.id)) continue;
      this.instances.set(
        gpu.id,
        gpu.migDevices.map((m, i) => ({
          profile: m.profile,
          start: m.position ?? 0,
          gpuInstanceId: m.gpuInstanceId ?? i,
          migDeviceUuid: m.id ?? migDeviceUuid(gpu.id, m.gpuInstanceId ?? i, this.generation++),
        })),
      );
    }
    return { node, instancesOf: (uuid) => this.instances.get(uuid) ?? [] };
  }

  async discover(): Promise<GpuInfo[]> {
    const { node, instancesOf } = await this.read();
    return node.gpus.map((gpu, index) => {
      const instances = instancesOf(gpu.id);
      return {
        uuid: gpu.id,
        index,
        model: node.gpuProduct,
        memoryMiB: node.gpuMemoryMiB,
        numa: null,
        healthy: gpuHealth(node, gpu) === 'Healthy',
        migEnabled: node.dynamicMig || node.migStrategy !== 'none' || instances.length > 0,
        migInstances: instances.map((m) => ({ ...m })),
      };
    });
  }

  /** The GPU's instances, for an operation the topology may say fails. */
  private async gpu(gpuUuid: string, operation: string): Promise<{ node: NodeTopology; instances: InventoryMigInstance[] }> {
    const { node } = await this.read();
    const gpu = node.gpus.find((g) => g.id === gpuUuid);
    const instances = this.instances.get(gpuUuid);
    if (!gpu || !instances) throw new TesseraError('NOT_FOUND', `no GPU ${gpuUuid} on this node`, { field: 'gpu' });
    if (migOperationsFail(node, gpu)) {
      throw new TesseraError('UNAVAILABLE', `${operation} on ${gpuUuid} failed: the topology marks MIG operations on this GPU as failing`);
    }
    return { node, instances };
  }

  async createMigInstance(gpuUuid: string, profile: string, start: number): Promise<InventoryMigInstance> {
    const { node, instances } = await this.gpu(gpuUuid, `creating ${profile}@${start}`);
    const model = node.gpuProduct;
    const slices = slicesOf(model, profile);
    const range = slices ? gpuInstanceIdRange(slices.total, slices.size) : undefined;
    if (!slices || !range) throw new TesseraError('INVALID_INPUT', `${model} has no MIG profile ${profile}`, { field: 'profile' });
    // The driver refuses what the catalog's placement rules refuse (a start that is not legal, overlaps, counts).
    const legal = applyOps(
      slices.model,
      instances.map((m) => ({ profile: m.profile, start: m.start, inUse: false })),
      [{ action: 'create', profile, start }],
    );
    if (!legal.ok) throw new TesseraError('INVALID_INPUT', `${gpuUuid}: ${legal.error.message}`, { field: 'start' });
    const taken = new Set(instances.map((m) => m.gpuInstanceId));
    let id = range[0];
    while (id <= range[1] && taken.has(id)) id++;
    if (id > range[1]) throw new TesseraError('UNAVAILABLE', `no free GPU-instance ID for ${profile} on ${gpuUuid}`);
    const instance = { profile, start, gpuInstanceId: id, migDeviceUuid: migDeviceUuid(gpuUuid, id, this.generation++) };
    instances.push(instance);
    return { ...instance };
  }

  async destroyMigInstance(gpuUuid: string, gpuInstanceId: number): Promise<void> {
    const { instances } = await this.gpu(gpuUuid, `destroying GPU instance ${gpuInstanceId}`);
    const at = instances.findIndex((m) => m.gpuInstanceId === gpuInstanceId);
    if (at < 0) throw new TesseraError('NOT_FOUND', `no GPU instance ${gpuInstanceId} on ${gpuUuid}`, { field: 'gpuInstanceId' });
    instances.splice(at, 1);
  }
}
