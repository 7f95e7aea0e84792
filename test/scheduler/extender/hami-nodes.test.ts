/**
 * A cluster half-migrated from HAMi: a node still run by HAMi's own device plugin (only HAMi's register
 * annotation, written here by hand as HAMi v2.10 writes it) and a pod HAMi's scheduler placed there. Tessera's
 * extender, against the embedded API server through the real client-node, schedules onto the node around the GPU
 * HAMi gave out, and writes what HAMi's device plugin reads.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAMI_POD, TESSERA_POD } from '../../../src/api/annotations.js';
import { decodeDecision } from '../../../src/api/decision.js';
import { EmbeddedCluster } from '../../../src/cluster/index.js';
import { DEFAULT_DEVICE_CONFIG } from '../../../src/config/device-config.js';
import { extenderDeviceOptions } from '../../../src/scheduler/extender/device-options.js';
import { hamiBindRecords } from '../../../src/scheduler/extender/hami-bind.js';
import { hamiPolicy } from '../../../src/scheduler/policies/index.js';
import type { RunningExtender } from '../../../src/scheduler/extender/service.js';
import { coreApi, eventually, newKey, schedulePod, startTestExtender } from './cluster-harness.js';
import { gpuPod } from './fixtures.js';

const GPU_A = 'GPU-11111111-2222-3333-4444-000000000000';
const GPU_B = 'GPU-11111111-2222-3333-4444-000000000001';
// HAMi v2.10's MarshalNodeDevices for two A100-40GB (index 0 and NUMA 0 dropped by omitempty).
const REGISTER = `[{"id":"${GPU_A}","count":10,"devmem":40960,"devcore":100,"type":"NVIDIA A100-SXM4-40GB","mode":"hami-core","health":true},{"id":"${GPU_B}","index":1,"count":10,"devmem":40960,"devcore":100,"type":"NVIDIA A100-SXM4-40GB","mode":"hami-core","health":true}]`;

let cluster: EmbeddedCluster;
let api: CoreV1Api;
let extender: RunningExtender;

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  api = coreApi(cluster);
  await api.createNode({
    body: {
      metadata: { name: 'hami-1', annotations: { 'hami.io/node-nvidia-register': REGISTER, 'hami.io/node-handshake': 'Requesting_2026-12-06 00:00:00' } },
      status: { allocatable: { cpu: '64', memory: '256Gi', pods: '110' } },
    },
  });
  // A pod HAMi's scheduler placed: GPU A whole (HAMi's EncodePodSingleDevice: `uuid,NVIDIA,mem,cores:` then `;`).
  await api.createNamespacedPod({
    namespace: 'default',
    body: {
      metadata: {
        name: 'hami-placed',
        namespace: 'default',
        annotations: { [HAMI_POD.devicesAllocated]: `${GPU_A},NVIDIA,40960,100:;`, [HAMI_POD.vgpuNode]: 'hami-1', [HAMI_POD.bindPhase]: 'success' },
      },
      spec: { nodeName: 'hami-1', schedulerName: 'hami-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
    },
  });
  extender = await startTestExtender(cluster, newKey());
  await eventually(
    'ready',
    async () => (await fetch(`${extender.url}/readyz`)).status,
    (s) => s === 200,
  );
  await eventually(
    'the HAMi grant counted',
    () => extender.view.state.allocations().length,
    (n) => n === 1,
  );
});

afterAll(async () => {
  await extender?.stop();
  await cluster?.stop();
});

async function place(name: string): Promise<{ node?: string; error: string; pod: V1Pod }> {
  const created = await api.createNamespacedPod({ namespace: 'default', body: gpuPod(name, { cores: 100 }) });
  await eventually(
    `pod ${name} seen`,
    () => extender.view.pod('default', name),
    (p) => p?.metadata?.uid === created.metadata?.uid,
  );
  const result = await schedulePod(extender, created, ['hami-1']);
  return { ...result, pod: await api.readNamespacedPod({ name, namespace: 'default' }) };
}

describe("a node run by HAMi's device plugin", () => {
  it("is a GPU node to Tessera's extender, read from HAMi's register annotation", () => {
    const node = extender.view.state.node('hami-1');
    expect(node?.gpus.map((g) => [g.uuid, g.index, g.memoryMiB])).toEqual([
      [GPU_A, 0, 40960],
      [GPU_B, 1, 40960],
    ]);
  });

  it('takes a pod on the GPU HAMi left free, writing the device list HAMi reads, then refuses a third', async () => {
    const first = await place('tessera-placed');
    expect(first.error).toBe('');
    expect(first.node).toBe('hami-1');
    const annotations = first.pod.metadata?.annotations ?? {};
    expect(annotations[HAMI_POD.devicesToAllocate]).toBe(`${GPU_B},NVIDIA,40960,100:;`);
    expect(annotations[HAMI_POD.vgpuNode]).toBe('hami-1');
    const decision = decodeDecision(annotations[TESSERA_POD.decision] ?? '');
    expect(hamiBindRecords(decision, () => 'NVIDIA A100-SXM4-40GB')).toEqual({ annotations: {}, labels: { 'hami.io/vgpu-node': 'hami-1' } });
    const second = await place('no-room');
    expect(second.error).not.toBe('');
  });

  it('gives the GPU back when HAMi marks the node Deleted', async () => {
    const node = await api.readNode({ name: 'hami-1' });
    await api.replaceNode({
      name: 'hami-1',
      body: { ...node, metadata: { ...node.metadata, annotations: { ...node.metadata?.annotations, 'hami.io/node-handshake': 'Deleted_2026-12-06 00:00:00' } } },
    });
    await eventually(
      'the node gone from the view',
      () => extender.view.state.node('hami-1'),
      (n) => n === undefined,
    );
  });
});

describe("MIG allocations HAMi v2.10's device plugin reads", () => {
  it('name the container, device, GPU, profile and placement (size in memory slices of that model)', () => {
    const decision = {
      node: 'mig-1',
      containers: [
        { name: 'a', devices: [{ uuid: 'GPU-x', index: 0, memoryMiB: 9856, cores: 28, mig: { profile: '2g.10gb', start: 2, plan: [] } }] },
        { name: 'b', devices: [] },
        { name: 'c', devices: [{ uuid: 'GPU-y', index: 1, memoryMiB: 9984, cores: 14, mig: { profile: '1g.10gb', start: 6, plan: [] } }] },
      ],
    } as unknown as Parameters<typeof hamiBindRecords>[0];
    const models: Record<string, string> = { 'GPU-x': 'NVIDIA A100-SXM4-40GB', 'GPU-y': 'NVIDIA H100 80GB HBM3' };
    expect(hamiBindRecords(decision, (uuid) => models[uuid])).toEqual({
      annotations: {
        'hami.io/vgpu-mig-allocations':
          '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-x","profile":"2g.10gb","placement":{"start":2,"size":2}},{"containerIndex":2,"deviceIndex":0,"gpuUUID":"GPU-y","profile":"1g.10gb","placement":{"start":6,"size":1}}]',
      },
      labels: { 'hami.io/vgpu-node': 'mig-1' },
    });
  });
});

describe("a MIG node run by HAMi v2.10's device plugin", () => {
  const GPU = 'GPU-22222222-2222-3333-4444-000000000000';
  let migCluster: EmbeddedCluster;
  let migExtender: RunningExtender;

  beforeAll(async () => {
    migCluster = await EmbeddedCluster.start();
    const migApi = coreApi(migCluster);
    // v2.10's MarshalNodeDevices for one A100-40GB in MIG mode, with two of its profiles.
    const register = `[{"id":"${GPU}","count":7,"devmem":40960,"devcore":100,"type":"NVIDIA A100-SXM4-40GB","mode":"mig","migProfiles":[{"name":"3g.20gb","memoryMB":19968,"core":42,"sliceCount":3,"placements":[{"start":0,"size":4},{"start":4,"size":4}]},{"name":"7g.40gb","memoryMB":40192,"core":100,"sliceCount":7,"placements":[{"start":0,"size":8}]}],"health":true}]`;
    await migApi.createNode({
      body: { metadata: { name: 'hami-mig', annotations: { 'hami.io/node-nvidia-register': register } }, status: { allocatable: { cpu: '64', memory: '256Gi', pods: '110' } } },
    });
    // HAMi's scheduler placed a 3g.20gb at slices 4-7 (HAMi's EncodeMigAllocations).
    await migApi.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: {
          name: 'hami-mig-placed',
          namespace: 'default',
          annotations: {
            [HAMI_POD.devicesAllocated]: `${GPU},NVIDIA,19968,42:;`,
            'hami.io/vgpu-mig-allocations': `[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"${GPU}","profile":"3g.20gb","placement":{"start":4,"size":4}}]`,
            [HAMI_POD.bindPhase]: 'success',
          },
        },
        spec: { nodeName: 'hami-mig', schedulerName: 'hami-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
      },
    });
    // As `tessera scheduler` starts it: the device config's MIG planner (HAMi's defaults).
    migExtender = await startTestExtender(migCluster, newKey(), undefined, extenderDeviceOptions(DEFAULT_DEVICE_CONFIG, hamiPolicy));
    await eventually(
      'ready',
      async () => (await fetch(`${migExtender.url}/readyz`)).status,
      (s) => s === 200,
    );
    await eventually(
      'the HAMi MIG grant counted',
      () => migExtender.view.state.allocations().length,
      (n) => n === 1,
    );
  });

  afterAll(async () => {
    await migExtender?.stop();
    await migCluster?.stop();
  });

  it('places a MIG pod beside the instance HAMi created, and names its placement for HAMi', async () => {
    const migApi = coreApi(migCluster);
    const created = await migApi.createNamespacedPod({ namespace: 'default', body: gpuPod('tessera-mig', { memoryMiB: 18000, annotations: { 'nvidia.com/vgpu-mode': 'mig' } }) });
    await eventually(
      'pod seen',
      () => migExtender.view.pod('default', 'tessera-mig'),
      (p) => p?.metadata?.uid === created.metadata?.uid,
    );
    const result = await schedulePod(migExtender, created, ['hami-mig']);
    expect(result.error).toBe('');
    const stored = await migApi.readNamespacedPod({ name: 'tessera-mig', namespace: 'default' });
    const decision = decodeDecision(stored.metadata?.annotations?.[TESSERA_POD.decision] ?? '');
    const device = decision.containers[0]?.devices[0];
    expect(device?.mig).toMatchObject({ profile: '3g.20gb', start: 0 });
    expect(hamiBindRecords(decision, () => 'NVIDIA A100-SXM4-40GB').annotations).toEqual({
      'hami.io/vgpu-mig-allocations': `[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"${GPU}","profile":"3g.20gb","placement":{"start":0,"size":4}}]`,
    });
    // Both halves of the GPU are taken now, one by HAMi's pod: a third 3g does not fit.
    const third = await migApi.createNamespacedPod({ namespace: 'default', body: gpuPod('no-room-mig', { memoryMiB: 18000, annotations: { 'nvidia.com/vgpu-mode': 'mig' } }) });
    await eventually(
      'pod seen',
      () => migExtender.view.pod('default', 'no-room-mig'),
      (p) => p?.metadata?.uid === third.metadata?.uid,
    );
    expect((await schedulePod(migExtender, third, ['hami-mig'])).error).not.toBe('');
  });
});

describe('a HAMi node that arrives after the pods HAMi placed on it', () => {
  it('counts their grants once the node is known', async () => {
    const late = await EmbeddedCluster.start();
    let lateExtender: RunningExtender | undefined;
    try {
      const lateApi = coreApi(late);
      await lateApi.createNamespacedPod({
        namespace: 'default',
        body: {
          metadata: { name: 'early', namespace: 'default', annotations: { [HAMI_POD.devicesAllocated]: `${GPU_A},NVIDIA,40960,100:;`, [HAMI_POD.bindPhase]: 'success' } },
          spec: { nodeName: 'hami-late', schedulerName: 'hami-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
        },
      });
      lateExtender = await startTestExtender(late, newKey());
      const running = lateExtender;
      await eventually(
        'the pod seen',
        () => running.view.pod('default', 'early'),
        (p) => p !== undefined,
      );
      expect(running.view.state.allocations()).toHaveLength(0);
      await lateApi.createNode({ body: { metadata: { name: 'hami-late', annotations: { 'hami.io/node-nvidia-register': REGISTER } }, status: { allocatable: { cpu: '64', memory: '256Gi' } } } });
      await eventually(
        'the grant counted',
        () => running.view.state.allocations().map((a) => a.containers[0]?.devices[0]?.uuid),
        (uuids) => uuids.length === 1 && uuids[0] === GPU_A,
      );
    } finally {
      await lateExtender?.stop();
      await late.stop();
    }
  });
});
