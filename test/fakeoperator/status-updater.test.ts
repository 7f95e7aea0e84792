import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { TESSERA_NODE } from '../../src/api/annotations.js';
import { encodeInventory } from '../../src/api/inventory.js';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { RUNAI } from '../../src/fakeoperator/runai.js';
import { startStatusUpdater, type StatusUpdater } from '../../src/fakeoperator/status-updater.js';
import { DEFAULT_NODE_POOL_LABEL_KEY, TOPOLOGY_KEY, parseNodeTopology, renderNodeTopology, type NodeTopology } from '../../src/topology/topology.js';
import { UTILIZATION_ANNOTATIONS } from '../../src/fakeoperator/utilization.js';
import { TestCluster, eventually, mergePatch } from './cluster-helpers.js';
import { decision, inventoryOf, topologyNode } from './fixtures.js';
import { catalogProfiles } from '../../src/geometry/index.js';

const NS = 'gpu-operator';
let cluster: EmbeddedCluster;
let k8s: TestCluster;
let updater: StatusUpdater;

const hami = topologyNode('hami-1', 'NVIDIA-A100-SXM4-80GB', 81920, 2);
const mig = topologyNode('mig-1', 'NVIDIA-A100-SXM4-40GB', 40960, 1, 'mixed', true);

async function nodeTopology(node: string): Promise<NodeTopology> {
  const cm = await k8s.readConfigMap(`topology-${node}`);
  const result = parseNodeTopology(node, cm.data ?? {}, 'mixed');
  if (!result.ok) throw result.error;
  return result.value;
}

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  k8s = new TestCluster(cluster.kubeConfig(), NS);
  await k8s.namespaces(NS, 'team');
  await k8s.configMap('topology', {
    [TOPOLOGY_KEY]: stringify({ migStrategy: 'mixed', nodePools: { a100: { gpuProduct: 'NVIDIA-A100-SXM4-40GB', gpuCount: 2, gpuMemory: 40960 } } }),
  });
  await k8s.configMap('topology-hami-1', renderNodeTopology(hami));
  await k8s.configMap('topology-mig-1', renderNodeTopology(mig));
  await k8s.node('pool-1', { [DEFAULT_NODE_POOL_LABEL_KEY]: 'a100', [RUNAI.dynamicMigLabel]: 'true', [RUNAI.migEnabledLabel]: 'true' });
  await k8s.node('hami-1');
  await k8s.node('mig-1');
  updater = startStatusUpdater({ kubeConfig: cluster.kubeConfig(), namespace: NS, log: pino({ level: 'silent' }), profiles: catalogProfiles, retryDelayMs: 100 });
  await updater.synced;
});

afterAll(async () => {
  await updater?.stop();
  await cluster?.stop();
});

describe('tessera status-updater', () => {
  it('creates the topology of a pool node, marks it dynamic-MIG from the run:ai labels, and labels it', async () => {
    const topology = await eventually(() => nodeTopology('pool-1'));
    expect(topology).toMatchObject({ gpuProduct: 'NVIDIA-A100-SXM4-40GB', gpuMemoryMiB: 40960, migStrategy: 'mixed', dynamicMig: true });
    expect(topology.gpus).toHaveLength(2);
    const labels = await eventually(async () => {
      const node = await k8s.readNode('pool-1');
      expect(node.metadata?.labels?.['nvidia.com/gpu.count']).toBe('2');
      return node.metadata?.labels ?? {};
    });
    expect(labels).toMatchObject({
      'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB',
      'nvidia.com/gpu.memory': '40960',
      'nvidia.com/mig.strategy': 'mixed',
      'nvidia.com/gpu.present': 'true',
      'nvidia.com/gpu.deploy.device-plugin': 'true',
    });
  });

  it('follows a pod up and down, per container', async () => {
    const [g0] = hami.gpus.map((g) => g.id) as [string];
    await k8s.runningPod('hami-1', 'trainer', ['a', 'b'], (uid) =>
      TestCluster.decisionAnnotation(
        decision({ uid, name: 'trainer', namespace: 'team' }, 'hami-1', [
          ['a', [{ uuid: g0, index: 0, memoryMiB: 20000, cores: 50 }]],
          ['b', [{ uuid: g0, index: 0, memoryMiB: 4000, cores: 10 }]],
        ]),
      ),
    );
    const up = await eventually(async () => {
      const topology = await nodeTopology('hami-1');
      expect(Object.keys(topology.gpus[0]!.status.usage)).toHaveLength(2);
      return topology;
    });
    expect(Object.values(up.gpus[0]!.status.usage).map((u) => [u.allocatedBy?.container, u.fbUsedMiB, u.utilization.max])).toEqual([
      ['a', 20000, 100],
      ['b', 4000, 100],
    ]);
    expect(up.gpus[0]!.status.allocatedBy).toEqual({ namespace: 'team', pod: 'trainer', container: 'a' });
    await k8s.deletePod('trainer', 'team');
    await eventually(async () => expect((await nodeTopology('hami-1')).gpus[0]!.status).toEqual({ allocatedBy: null, usage: {} }));
  });

  it('follows a MIG reconfiguration reported in the node inventory', async () => {
    const instances = (profiles: Array<[string, number, number]>) =>
      encodeInventory(inventoryOf('mig-1', mig, 'mig', { 0: profiles.map(([profile, start, id]) => ({ profile, start, gpuInstanceId: id, migDeviceUuid: `MIG-${profile}-${start}` })) }));
    await k8s.annotateNode('mig-1', {
      [TESSERA_NODE.inventory]: instances([
        ['3g.20gb', 4, 2],
        ['3g.20gb', 0, 1],
      ]),
    });
    await eventually(async () => {
      expect((await nodeTopology('mig-1')).gpus[0]!.migDevices.map((m) => `${m.profile}@${m.position}#${m.gpuInstanceId}`)).toEqual(['3g.20gb@4#2', '3g.20gb@0#1']);
    });
    await k8s.annotateNode('mig-1', {
      [TESSERA_NODE.inventory]: instances([
        ['3g.20gb', 4, 2],
        ['2g.10gb', 0, 3],
        ['1g.5gb', 2, 9],
        ['1g.5gb', 3, 10],
      ]),
    });
    await eventually(async () => expect((await nodeTopology('mig-1')).gpus[0]!.migDevices).toHaveLength(4));
  });

  it("honours run:ai's MIG protocol: mig.config, then mig-mapping, then the pod's runai-mig-device", async () => {
    await k8s.annotateNode('pool-1', {
      [RUNAI.migConfig]:
        'version: v1\nmig-configs:\n  selected:\n  - devices: [1]\n    mig-enabled: true\n    mig-devices:\n    - {name: 1g.5gb, position: 0, size: 1}\n    - {name: 3g.20gb, position: 4, size: 4}\n',
    });
    await eventually(async () =>
      expect((await nodeTopology('pool-1')).gpus[1]!.migDevices.map((m) => [m.profile, m.id])).toEqual([
        ['1g.5gb', null],
        ['3g.20gb', null],
      ]),
    );
    const mapping = Buffer.from(JSON.stringify({ '1': [{ position: 0, device_uuid: 'MIG-run-1', gpu_instance_id: 7 }] })).toString('base64');
    await k8s.annotateNode('pool-1', { [RUNAI.migMapping]: mapping });
    await eventually(async () => expect((await nodeTopology('pool-1')).gpus[1]!.migDevices[0]).toMatchObject({ id: 'MIG-run-1', gpuInstanceId: 7 }));
    await k8s.runningPod('pool-1', 'runai-job', ['job'], () => ({ [RUNAI.podMigDevice]: '{"name":"nvidia.com/mig-1g.5gb","position":0,"gpuindex":"1","deviceUUID":"MIG-run-1"}' }));
    await eventually(async () => expect((await nodeTopology('pool-1')).gpus[1]!.migDevices[0]!.status.allocatedBy).toEqual({ namespace: 'team', pod: 'runai-job', container: 'job' }));
  });

  it('keeps the GFD labels from the topology where no device plugin publishes an inventory, and leaves them to it where one does', async () => {
    // pool-1 has no inventory: the status updater labels its MIG devices (the run:ai test gives GPU 1 instances).
    const labels = await eventually(async () => {
      const current = (await k8s.readNode('pool-1')).metadata?.labels ?? {};
      expect(current['nvidia.com/mig-1g.5gb.count']).toBe('1');
      return current;
    });
    expect(labels['nvidia.com/mig-3g.20gb.memory']).toBe('19968');
    // mig-1 has an inventory: a label the device plugin set stays; the deploy labels are still the status updater's.
    await k8s.core.patchNode({ name: 'mig-1', body: { metadata: { labels: { 'nvidia.com/mig-7g.40gb.count': '1' } } } }, mergePatch);
    await k8s.annotateNode('mig-1', { 'example.com/touch': '1' });
    await updater.idle();
    const mig1 = (await k8s.readNode('mig-1')).metadata?.labels ?? {};
    expect(mig1['nvidia.com/mig-7g.40gb.count']).toBe('1');
    expect(mig1['nvidia.com/gpu.deploy.device-plugin']).toBe('true');
  });

  it('applies a topology edit live, and keeps the pods it tracks', async () => {
    const [, g1] = hami.gpus.map((g) => g.id) as [string, string];
    await k8s.runningPod('hami-1', 'busy', ['main'], (uid) => ({
      ...TestCluster.decisionAnnotation(decision({ uid, name: 'busy', namespace: 'team' }, 'hami-1', [['main', [{ uuid: g1, index: 1, memoryMiB: 1000, cores: 10 }]]])),
      [UTILIZATION_ANNOTATIONS.fixed]: '30-40',
    }));
    await eventually(async () => expect(Object.values((await nodeTopology('hami-1')).gpus[1]!.status.usage)[0]?.utilization).toEqual({ min: 30, max: 40 }));
    const edited = { ...hami, gpuProduct: 'NVIDIA-H100-80GB-HBM3', gpus: hami.gpus.map((g, i) => ({ ...g, health: i === 0 ? ('Unhealthy' as const) : g.health })) };
    await k8s.configMap('topology-hami-1', renderNodeTopology(edited));
    await eventually(async () => {
      expect((await k8s.readNode('hami-1')).metadata?.labels?.['nvidia.com/gpu.product']).toBe('NVIDIA-H100-80GB-HBM3');
      const topology = await nodeTopology('hami-1');
      expect(topology.gpus[0]!.health).toBe('Unhealthy');
      expect(Object.keys(topology.gpus[1]!.status.usage)).toHaveLength(1);
    });
  });

  it('refuses a bad topology with an event naming the field, and keeps the previous state until it is fixed', async () => {
    const bad = { [TOPOLOGY_KEY]: 'gpuProduct: NVIDIA-T4\ngpuMemory: -5\n' };
    await k8s.configMap('topology-hami-1', bad);
    const event = await eventually(async () => {
      const events = await k8s.core.listNamespacedEvent({ namespace: NS });
      const found = events.items.find((e) => e.reason === 'InvalidTopology');
      expect(found).toBeDefined();
      return found!;
    });
    expect(event.message).toContain('topology-hami-1.topology.yml.gpuMemory');
    expect(event.involvedObject.name).toBe('topology-hami-1');
    // A pod arriving meanwhile neither rewrites the refused ConfigMap nor changes the labels of the last good state.
    await k8s.runningPod('hami-1', 'late', ['main'], () => ({}));
    await updater.idle();
    expect((await k8s.readConfigMap('topology-hami-1')).data).toEqual(bad);
    expect((await k8s.readNode('hami-1')).metadata?.labels?.['nvidia.com/gpu.product']).toBe('NVIDIA-H100-80GB-HBM3');
    await k8s.configMap('topology-hami-1', renderNodeTopology(hami));
    await eventually(async () => {
      expect((await k8s.readNode('hami-1')).metadata?.labels?.['nvidia.com/gpu.product']).toBe('NVIDIA-A100-SXM4-80GB');
      expect(Object.keys((await nodeTopology('hami-1')).gpus[1]!.status.usage)).toHaveLength(1);
    });
  });

  it('retries a write the API server keeps refusing, until it lands', async () => {
    const [, g1] = hami.gpus.map((g) => g.id) as [string, string];
    // More failures than one write's backoff absorbs (6 attempts), so the node is retried later as a whole.
    cluster.faults.failNext({ verb: 'update', resource: 'configmaps', status: 503, count: 8 });
    await k8s.runningPod('hami-1', 'stubborn', ['main'], (uid) =>
      TestCluster.decisionAnnotation(decision({ uid, name: 'stubborn', namespace: 'team' }, 'hami-1', [['main', [{ uuid: g1, index: 1, memoryMiB: 2000, cores: 10 }]]])),
    );
    await eventually(async () => expect(Object.values((await nodeTopology('hami-1')).gpus[1]!.status.usage).map((u) => u.allocatedBy?.pod)).toContain('stubborn'), 15_000);
  });

  it('plays a utilization schedule over time', async () => {
    const [g0] = mig.gpus.map((g) => g.id) as [string];
    await k8s.annotateNode('mig-1', {
      [TESSERA_NODE.inventory]: encodeInventory(inventoryOf('mig-1', mig, 'mig', { 0: [{ profile: '7g.40gb', start: 0, gpuInstanceId: 0, migDeviceUuid: 'MIG-7g' }] })),
    });
    await k8s.runningPod('mig-1', 'wave', ['main'], (uid) => ({
      ...TestCluster.decisionAnnotation(
        decision({ uid, name: 'wave', namespace: 'team' }, 'mig-1', [['main', [{ uuid: g0, index: 0, memoryMiB: 40192, cores: 100, mig: { profile: '7g.40gb', start: 0, plan: [] } }]]], 'mig'),
      ),
      [UTILIZATION_ANNOTATIONS.schedule]: JSON.stringify({
        steps: [
          { time: '400ms', utilization: 10 },
          { time: '400ms', utilization: 90 },
        ],
        repeat: 1,
      }),
    }));
    const utilization = async () => Object.values((await nodeTopology('mig-1')).gpus[0]!.migDevices[0]!.status.usage)[0]?.utilization.max;
    await eventually(async () => expect(await utilization()).toBe(10));
    await eventually(async () => expect(await utilization()).toBe(90), 3000);
  });

  it("converts a seeds'-format topology into the newer ConfigMaps", async () => {
    await k8s.configMap('topology', { [TOPOLOGY_KEY]: 'mig-strategy: none\nnodes:\n  legacy-1:\n    gpu-count: 1\n    gpu-memory: 15360\n    gpu-product: Tesla-T4\n' });
    await k8s.node('legacy-1');
    await eventually(async () => {
      expect((await nodeTopology('legacy-1')).gpuProduct).toBe('Tesla-T4');
      expect((await k8s.readConfigMap('topology')).data?.[TOPOLOGY_KEY]).toContain('migStrategy: none');
      expect((await k8s.readNode('legacy-1')).metadata?.labels?.['nvidia.com/gpu.product']).toBe('Tesla-T4');
    });
  });

  it("deletes a pool node's topology with the node, and keeps topologies a user wrote", async () => {
    await k8s.core.deleteNode({ name: 'pool-1' });
    await k8s.core.deleteNode({ name: 'hami-1' });
    await eventually(async () => expect((await k8s.core.listNamespacedConfigMap({ namespace: NS })).items.map((c) => c.metadata?.name)).not.toContain('topology-pool-1'));
    await updater.idle();
    expect((await k8s.readConfigMap('topology-hami-1')).data?.[TOPOLOGY_KEY]).toContain('NVIDIA-A100-SXM4-80GB');
  });
});
