import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeInventory, TESSERA_NODE } from '../../src/api/index.js';
import { bindPhase, settled, TestNode } from './harness.js';

describe('device plugin on an MPS node (fake backend)', () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await TestNode.start({ mode: 'mps', gpus: 2 });
  });
  afterAll(async () => {
    await node?.stop();
  });

  it("hands a pod its decision as MPS client limits and publishes the node's mode", async () => {
    const { pod, decision } = await node.createDecided(node.podJson('client', [{ gpus: 1, memoryMiB: 8000, cores: 40 }]));
    expect(decision.mode).toBe('mps');
    await node.bind(pod);
    const done = await node.waitFor('client', settled);
    expect(bindPhase(done)).toBe('success');
    const response = node.kubelet.devices.responses(pod.metadata?.uid ?? '')?.get('c0');
    const device = decision.containers[0]?.devices[0];
    expect(response?.envs).toMatchObject({
      NVIDIA_VISIBLE_DEVICES: device?.uuid,
      CUDA_MPS_PINNED_DEVICE_MEM_LIMIT: '0=8000M',
      CUDA_MPS_ACTIVE_THREAD_PERCENTAGE: '40',
    });
    expect(response?.envs.CUDA_DEVICE_SM_LIMIT).toBeUndefined();
    const annotations = (await node.readNode()).metadata?.annotations ?? {};
    expect(decodeInventory(annotations[TESSERA_NODE.inventory] ?? '').mode).toBe('mps');
  });
});
