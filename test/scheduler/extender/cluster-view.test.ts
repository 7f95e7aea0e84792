import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { TESSERA_NODE } from '../../../src/api/annotations.js';
import { encodeInventory } from '../../../src/api/inventory.js';
import { DEFAULT_DEVICE_CONFIG } from '../../../src/config/device-config.js';
import { decide, parsePodRequest } from '../../../src/scheduler/core/index.js';
import { hamiPolicy } from '../../../src/scheduler/policies/index.js';
import { ClusterView } from '../../../src/scheduler/extender/cluster-view.js';
import { decisionOf } from '../../../src/scheduler/extender/decision-map.js';
import { extenderDeviceOptions } from '../../../src/scheduler/extender/device-options.js';
import { gpuNode, gpuPod, inventoryFor } from './fixtures.js';
import { silentLog } from './harness.js';

const options = extenderDeviceOptions(DEFAULT_DEVICE_CONFIG);
const CONTEXT = { nodePolicy: 'binpack', gpuPolicy: 'spread' } as const;

function migNode(instances: Array<{ profile: string; start: number }>): ReturnType<typeof gpuNode> {
  const node = gpuNode('mig-1', { gpus: 1 });
  const inventory = inventoryFor('mig-1', { gpus: 1 });
  const gpu = inventory.gpus[0];
  if (!gpu) throw new Error('fixture has no GPU');
  gpu.mig = { enabled: true, instances: instances.map((i, n) => ({ ...i, gpuInstanceId: n + 1, migDeviceUuid: `MIG-${n}` })) };
  node.metadata.annotations[TESSERA_NODE.inventory] = encodeInventory({ ...inventory, mode: 'mig' });
  return node;
}

function grantMig(view: ClusterView, uid: string): { profile: string; start: number } {
  const request = parsePodRequest(gpuPod(uid, { uid, memoryMiB: 10000, annotations: { 'nvidia.com/vgpu-mode': 'mig' } }), options.requestConfig);
  if (!request.ok) throw new Error('bad fixture');
  const decided = decide(view.state, request.value, 'mig-1', hamiPolicy, CONTEXT);
  if (!decided.ok) throw new Error('MIG pod does not fit');
  view.book.hold({ podUid: uid, node: 'mig-1', decision: decisionOf(decided.value, new Date(0).toISOString()), allocation: decided.value, phase: 'reserved', since: 0 });
  const mig = decided.value.containers[0]?.devices[0]?.mig;
  if (!mig) throw new Error('not a MIG grant');
  return { profile: mig.profile, start: mig.start };
}

describe('cluster view', () => {
  it('keeps a MIG grant when the device plugin reports the instance it created, and counts it once', () => {
    const view = new ClusterView({ key: randomBytes(32), log: silentLog, now: Date.now, ...options });
    view.upsertNode(migNode([]));
    const created = grantMig(view, 'first');
    view.upsertNode(migNode([created]));
    expect(view.state.allocation('first')).toBeDefined();
    const gpu = view.state.node('mig-1')?.gpus[0];
    expect(gpu?.migInstances?.filter((i) => i.inUse)).toHaveLength(1);
  });

  it('keeps grants across a node leaving and coming back, applying them again', () => {
    const view = new ClusterView({ key: randomBytes(32), log: silentLog, now: Date.now, ...options });
    view.upsertNode(migNode([]));
    grantMig(view, 'held');
    view.removeNode('mig-1');
    expect(view.state.node('mig-1')).toBeUndefined();
    expect(view.book.get('held')).toBeDefined();
    view.upsertNode(migNode([]));
    expect(view.state.allocation('held')).toBeDefined();
  });
});
