/**
 * Nodes run by HAMi's own device plugin, as the extender sees them: no Tessera inventory, only HAMi's register
 * annotation. Their GPUs become an inventory (memory already scaled by HAMi's device plugin, so the node's
 * memory scaling is 1), and the pods HAMi's scheduler placed there (HAMi's device lists, no Tessera decision) are
 * counted as grants, so swapping the scheduler first never double-books a GPU HAMi already gave out.
 */
import {
  decodeHamiDevices,
  decodeHamiMigAllocations,
  decodeHamiRegister,
  HAMI_MIG_ALLOCATIONS,
  HAMI_NODE,
  HAMI_POD,
  INVENTORY_KIND,
  type NodeInventory,
  TESSERA_API_VERSION,
} from '../../api/index.js';
import type { Allocation, NodeMode } from '../core/index.js';

/** The inventory a HAMi-registered node stands for; undefined without a register annotation or once HAMi deleted it. */
export function hamiInventory(name: string, annotations: Readonly<Record<string, string>> | undefined, observedAt: string): NodeInventory | undefined {
  const text = annotations?.[HAMI_NODE.register];
  if (text === undefined || (annotations?.[HAMI_NODE.handshake] ?? '').startsWith('Deleted')) return undefined;
  const devices = decodeHamiRegister(text);
  const mode = devices.some((d) => d.mode === 'mig') ? 'mig' : 'hami-core';
  return {
    apiVersion: TESSERA_API_VERSION,
    kind: INVENTORY_KIND,
    node: name,
    mode,
    splitCount: Math.min(1024, Math.max(1, ...devices.map((d) => d.count))),
    gpus: devices.slice(0, 64).map((d) => ({
      uuid: d.id,
      index: d.index,
      model: d.type,
      memoryMiB: d.devmem,
      coreUnits: d.devcore,
      numa: d.numa < 0 ? null : d.numa,
      health: d.health ? 'Healthy' : 'Unhealthy',
      mig: { enabled: d.mode === 'mig', instances: [] },
    })),
    observedAt,
  };
}

/** What a HAMi grant needs of its node: the mode and which index each GPU has. */
export interface HamiGrantNode {
  readonly mode: NodeMode;
  readonly gpus: readonly { readonly uuid: string; readonly index: number }[];
}

/** The pod fields a HAMi grant is read from (a client-node V1Pod fits). */
export interface HamiPodLike {
  metadata?: { uid?: string; name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: { nodeName?: string; initContainers?: readonly { name: string }[]; containers?: readonly { name: string }[] };
}

/**
 * The grant HAMi's scheduler gave `pod` on a node the allocator knows (its device lists and, for MIG, v2.10's
 * MIG allocations), or undefined when it holds none there. Malformed lists throw, naming the annotation.
 * HAMi's node registers no MIG instances: the instance a grant names is created by applying it.
 */
export function hamiGrantOf(pod: HamiPodLike, nodeOf: (name: string) => HamiGrantNode | undefined): Allocation | undefined {
  const annotations = pod.metadata?.annotations ?? {};
  const { uid, name, namespace = 'default' } = pod.metadata ?? {};
  const nodeName = pod.spec?.nodeName ?? annotations[HAMI_POD.vgpuNode];
  const text = annotations[HAMI_POD.devicesAllocated];
  if (!uid || !name || !nodeName || text === undefined) return undefined;
  const node = nodeOf(nodeName);
  if (!node) return undefined;
  const lists = decodeHamiDevices(text, HAMI_POD.devicesAllocated);
  const mig = decodeHamiMigAllocations(annotations[HAMI_MIG_ALLOCATIONS] ?? '');
  const apps = pod.spec?.containers ?? [];
  // HAMi lists init containers first (one list per init and app container); older HAMi lists app containers only.
  const inits = pod.spec?.initContainers ?? [];
  const containers = inits.length > 0 && lists.length === inits.length + apps.length ? [...inits, ...apps] : apps;
  return {
    pod: { uid, namespace, name },
    node: nodeName,
    mode: node.mode,
    cpuMilli: 0,
    memoryMiB: 0,
    containers: containers.map((c, ci) => ({
      name: c.name,
      devices: (lists[ci] ?? []).map((d, di) => {
        const gpu = node.gpus.find((g) => g.uuid === d.uuid);
        const instance = mig.find((m) => m.containerIndex === ci && m.deviceIndex === di);
        return {
          uuid: d.uuid,
          index: gpu?.index ?? 0,
          memoryMiB: d.memoryMiB,
          cores: d.cores,
          ...(instance
            ? { mig: { profile: instance.profile, start: instance.placement.start, plan: [{ action: 'create' as const, profile: instance.profile, start: instance.placement.start }] } }
            : {}),
        };
      }),
    })),
  };
}
