/**
 * A pod granted by HAMi's own scheduler (unsigned HAMi annotations, written here by HAMi's encoding rule:
 * `<uuid>,NVIDIA,<MiB>,<cores>:` per device, `;` after each container) reaches Tessera's device plugin: it gets
 * nothing, and an Event says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAMI_GRANT_REFUSED } from '../../src/deviceplugin/hami-grants.js';
import { eventually } from '../scheduler/extender/cluster-harness.js';
import { TestNode } from './harness.js';

describe("grants from HAMi's scheduler", () => {
  let node: TestNode;
  beforeAll(async () => {
    node = await TestNode.start({ mode: 'hami-core', gpus: 2 });
  });
  afterAll(async () => {
    await node?.stop();
  });

  it("gives a pod bound with HAMi's unsigned grant no GPU and tells it why, once", async () => {
    const grant = `${node.inventoryGpu(0)},NVIDIA,4000,25:;`;
    const pod = node.podJson('from-hami', [{ gpus: 1, memoryMiB: 4000, cores: 25 }], {
      'hami.io/vgpu-devices-to-allocate': grant,
      'hami.io/vgpu-devices-allocated': grant,
      'hami.io/vgpu-node': node.name,
      'hami.io/bind-phase': 'allocating',
    });
    const created = await node.create({ ...pod, spec: { ...pod.spec, containers: pod.spec?.containers ?? [], schedulerName: 'hami-scheduler' } });
    await node.bind(created);
    const done = await node.waitFor('from-hami', (p) => p.status?.phase === 'Failed');
    expect(node.kubelet.devices.responses(done.metadata?.uid ?? '')?.get('c0')).toBeUndefined();
    const refused = await eventually(
      'the refusal Event',
      async () => (await node.events()).filter((e) => e.reason === HAMI_GRANT_REFUSED && e.involvedObject.name === 'from-hami'),
      (list) => list.length > 0,
    );
    expect(refused).toHaveLength(1);
    expect(refused[0]?.message).toMatch(
      /carries a grant from another scheduler \(hami\.io\/vgpu-devices-to-allocate, schedulerName hami-scheduler\) and no decision signed by Tessera's scheduler; the device plugin on gpu-node-1 gives it no GPU, because HAMi's grants are unsigned/,
    );
  });
});
