import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAMI_POD, TESSERA_NODE } from '../../src/api/annotations.js';
import { encodeInventory } from '../../src/api/inventory.js';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { midpoint } from '../../src/exporter/dcgm.js';
import { startExporter, type Exporter } from '../../src/exporter/service.js';
import { RUNAI } from '../../src/fakeoperator/runai.js';
import { startStatusUpdater, type StatusUpdater } from '../../src/fakeoperator/status-updater.js';
import { TOPOLOGY_KEY, renderNodeTopology } from '../../src/topology/topology.js';
import { UTILIZATION_ANNOTATIONS } from '../../src/fakeoperator/utilization.js';
import { TestCluster, eventually } from '../fakeoperator/cluster-helpers.js';
import { decision, inventoryOf, topologyNode } from '../fakeoperator/fixtures.js';
import { scrape, series } from './scrape.js';
import { catalogProfiles } from '../../src/geometry/index.js';

const NS = 'gpu-operator';
const MIB = 1024 * 1024;
let cluster: EmbeddedCluster;
let k8s: TestCluster;
let updater: StatusUpdater;
let exporter: Exporter;

// A HAMi-core node (2 x A100-80GB), a dynamic-MIG node (seed 000: run:ai labels, instances from the inventory),
// and a single-strategy node whose MIG instances the topology fixes (2 x 3g.20gb per GPU).
const hami = topologyNode('hami-1', 'NVIDIA-A100-SXM4-80GB', 81920, 2);
const dyn = topologyNode('dyn-1', 'NVIDIA-A100-SXM4-40GB', 40960, 1, 'mixed');
const single = topologyNode('single-1', 'NVIDIA-A100-SXM4-40GB', 40960, 2, 'single');
single.gpus.forEach((gpu, g) => {
  gpu.migDevices = [0, 4].map((position, i) => ({ id: `MIG-s${g}-${i}`, profile: '3g.20gb', position, gpuInstanceId: i + 1, status: { allocatedBy: null, usage: {} } }));
});
const dynInventory = inventoryOf('dyn-1', dyn, 'mig', {
  0: [
    { profile: '3g.20gb', start: 4, gpuInstanceId: 2, migDeviceUuid: 'MIG-d-3g' },
    { profile: '1g.5gb', start: 0, gpuInstanceId: 13, migDeviceUuid: 'MIG-d-1g' },
  ],
});

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  k8s = new TestCluster(cluster.kubeConfig(), NS);
  await k8s.namespaces(NS, 'team');
  await k8s.configMap('topology', { [TOPOLOGY_KEY]: 'migStrategy: none\n' });
  for (const [name, topology] of [
    ['hami-1', hami],
    ['dyn-1', dyn],
    ['single-1', single],
  ] as const)
    await k8s.configMap(`topology-${name}`, renderNodeTopology(topology));
  await k8s.node('hami-1', {}, { [TESSERA_NODE.inventory]: encodeInventory(inventoryOf('hami-1', hami, 'hami-core')) });
  await k8s.node('dyn-1', { [RUNAI.dynamicMigLabel]: 'true', [RUNAI.migEnabledLabel]: 'true' }, { [TESSERA_NODE.inventory]: encodeInventory(dynInventory) });
  await k8s.node('single-1');
  const log = pino({ level: 'silent' });
  updater = startStatusUpdater({ kubeConfig: cluster.kubeConfig(), namespace: NS, log, profiles: catalogProfiles });
  exporter = await startExporter({ kubeConfig: cluster.kubeConfig(), namespace: NS, log, profiles: catalogProfiles, pickUtilization: midpoint, legacyMigMetric: true });
  await Promise.all([updater.synced, exporter.synced]);
});

afterAll(async () => {
  await exporter?.stop();
  await updater?.stop();
  await cluster?.stop();
});

const hamiGpu = (index: number) => ({ Hostname: 'hami-1', gpu: String(index), UUID: hami.gpus[index]!.id, modelName: 'NVIDIA-A100-SXM4-80GB' });

describe('tessera exporter /metrics', () => {
  it('reports idle GPUs before any pod', async () => {
    const metrics = await eventually(async () => {
      const m = await scrape(exporter.url);
      expect(series(m, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'single-1' })).toHaveLength(4);
      expect(series(m, 'hami_node_gpu_overview', { node: 'dyn-1' })).toHaveLength(1);
      // The dynamic-MIG node's instances can arrive after its overview series: wait for them too.
      expect(series(m, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'dyn-1' }).filter((s) => s.labels.GPU_I_PROFILE)).toHaveLength(2);
      return m;
    });
    // HAMi-core node: whole GPUs, unlabelled, all memory free.
    expect(series(metrics, 'DCGM_FI_DEV_GPU_UTIL', hamiGpu(0))).toEqual([
      { labels: { ...hamiGpu(0), pci_bus_id: '00000000:07:00.0', device: 'nvidia0', DCGM_FI_DRIVER_VERSION: '550.54.15', container: '', namespace: '', pod: '' }, value: 0 },
    ]);
    expect(series(metrics, 'hami_host_gpu_memory_used_bytes', { node: 'hami-1' }).map((s) => [s.labels.zone, s.labels.device_index, s.value])).toEqual([
      ['vGPU', '0', 0],
      ['vGPU', '1', 0],
    ]);
    expect(series(metrics, 'hami_build_info')).toEqual([{ labels: expect.objectContaining({ version: 'v0.1.0', compiler: 'node' }) as Record<string, string>, value: 1 }]);
    expect(series(metrics, 'DCGM_FI_DEV_FB_FREE', hamiGpu(1))[0]?.value).toBe(81920);
    // Dynamic-MIG node (seed 000): per instance, profile + GPU instance ID + driver version, no utilization.
    expect(series(metrics, 'DCGM_FI_DEV_GPU_UTIL', { Hostname: 'dyn-1' })).toEqual([]);
    expect(series(metrics, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'dyn-1' }).map((s) => [s.labels.GPU_I_PROFILE, s.labels.GPU_I_ID, s.labels.DCGM_FI_DRIVER_VERSION, s.value])).toEqual([
      ['3g.20gb', '2', '550.54.15', 19968],
      ['1g.5gb', '13', '550.54.15', 4864],
    ]);
    // Single-strategy node: its MIG instances, and GFD labels naming the MIG device.
    expect(series(metrics, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'single-1', gpu: '1', GPU_I_ID: '2' })[0]?.value).toBe(19968);
    await eventually(async () =>
      expect((await k8s.readNode('single-1')).metadata?.labels).toMatchObject({
        'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-40GB-MIG-3g.20gb',
        'nvidia.com/gpu.count': '4',
        'nvidia.com/mig.strategy': 'single',
      }),
    );
    // Scheduler view: nothing allocated yet.
    expect(series(metrics, 'hami_gpu_memory_allocated_bytes', { node: 'hami-1' }).map((s) => s.value)).toEqual([0, 0]);
    expect(series(metrics, 'hami_vgpu_memory_allocated_bytes')).toEqual([]);
    expect(series(metrics, 'nodeGPUMigInstance', { nodeid: 'dyn-1' }).map((s) => s.value)).toEqual([0, 0]);
  });

  it('follows pods as they come', async () => {
    const h0 = hami.gpus[0]!.id;
    await k8s.runningPod('hami-1', 'trainer', ['a', 'b'], (uid) => ({
      ...TestCluster.decisionAnnotation(
        decision({ uid, name: 'trainer', namespace: 'team' }, 'hami-1', [
          ['a', [{ uuid: h0, index: 0, memoryMiB: 20000, cores: 50 }]],
          ['b', [{ uuid: h0, index: 0, memoryMiB: 4000, cores: 10 }]],
        ]),
      ),
      [HAMI_POD.bindPhase]: 'success',
      [UTILIZATION_ANNOTATIONS.fixed]: '60-80',
    }));
    await k8s.runningPod('dyn-1', 'mig-job', ['main'], (uid) => ({
      ...TestCluster.decisionAnnotation(
        decision(
          { uid, name: 'mig-job', namespace: 'team' },
          'dyn-1',
          [['main', [{ uuid: dyn.gpus[0]!.id, index: 0, memoryMiB: 19968, cores: 100, mig: { profile: '3g.20gb', start: 4, plan: [] } }]]],
          'mig',
        ),
      ),
      [HAMI_POD.bindPhase]: 'allocating',
    }));
    await k8s.runningPod('single-1', 'single-job', ['main'], (uid) =>
      TestCluster.decisionAnnotation(
        decision(
          { uid, name: 'single-job', namespace: 'team' },
          'single-1',
          [['main', [{ uuid: single.gpus[1]!.id, index: 1, memoryMiB: 12000, cores: 100, mig: { profile: '3g.20gb', start: 0, plan: [] } }]]],
          'mig',
        ),
      ),
    );
    const metrics = await eventually(async () => {
      const m = await scrape(exporter.url);
      expect(series(m, 'DCGM_FI_DEV_FB_USED', { Hostname: 'single-1', gpu: '1', GPU_I_ID: '1' })[0]?.value).toBe(12000);
      expect(series(m, 'DCGM_FI_DEV_FB_USED', { Hostname: 'dyn-1', GPU_I_ID: '2' })[0]?.value).toBe(19968);
      expect(series(m, 'hami_vgpu_memory_used_bytes', { pod: 'trainer' })).toHaveLength(2);
      return m;
    });
    // One series for the shared GPU: both containers at 70% fill it; no pod named while two share it.
    expect(series(metrics, 'DCGM_FI_DEV_GPU_UTIL', hamiGpu(0)).map((s) => [s.labels.namespace, s.labels.pod, s.labels.container, s.value])).toEqual([['', '', '', 100]]);
    const fbUsed = series(metrics, 'DCGM_FI_DEV_FB_USED', hamiGpu(0)).map((s) => s.value);
    expect(fbUsed).toHaveLength(1);
    expect(series(metrics, 'DCGM_FI_DEV_FB_FREE', hamiGpu(0)).map((s) => s.value)).toEqual([81920 - (fbUsed[0] ?? 0)]);
    // HAMi's monitor: each container's share of that GPU, its limit, its utilization; the host series agree with DCGM.
    const used = series(metrics, 'hami_vgpu_memory_used_bytes', { pod: 'trainer', zone: 'vGPU', device_uuid: h0 });
    expect(used.reduce((sum, s) => sum + s.value, 0)).toBe((fbUsed[0] ?? 0) * MIB);
    expect(series(metrics, 'hami_vgpu_memory_limit_bytes', { pod: 'trainer' }).map((s) => [s.labels.container, s.labels.vdevice_index, s.value])).toEqual([
      ['a', '0', 20000 * MIB],
      ['b', '0', 4000 * MIB],
    ]);
    expect(series(metrics, 'hami_container_device_utilization_ratio', { pod: 'trainer' }).map((s) => s.value)).toEqual([70, 70]);
    expect(series(metrics, 'hami_container_last_kernel_elapsed_seconds', { pod: 'trainer' }).map((s) => s.value)).toEqual([0, 0]);
    expect(series(metrics, 'hami_host_gpu_utilization_ratio', { node: 'hami-1', device_index: '0' }).map((s) => s.value)).toEqual([100]);
    expect(series(metrics, 'hami_host_gpu_memory_used_bytes', { node: 'hami-1', device_index: '0' }).map((s) => s.value)).toEqual([(fbUsed[0] ?? 0) * MIB]);
    expect(series(metrics, 'hami_vgpu_core_allocated_ratio', { pod: 'trainer', zone: 'vGPU' }).map((s) => [s.labels.container_index, s.value])).toEqual([
      ['0', 50],
      ['1', 10],
    ]);
    // MIG series never carry the pod, even when a pod uses the instance.
    expect(series(metrics, 'DCGM_FI_DEV_FB_USED', { Hostname: 'dyn-1', GPU_I_ID: '2' })[0]?.labels).toMatchObject({ pod: '', container: '', namespace: '' });
    expect(series(metrics, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'dyn-1', GPU_I_ID: '2' })[0]?.value).toBe(0);
    expect(series(metrics, 'hami_gpu_memory_allocated_bytes', { node: 'hami-1', device_index: '0' })[0]?.value).toBe(24000 * MIB);
    expect(series(metrics, 'hami_gpu_core_allocated_ratio', { node: 'hami-1', device_index: '0' })[0]?.value).toBe(60);
    expect(series(metrics, 'hami_gpu_shared_count', { node: 'hami-1', device_index: '0' })[0]?.value).toBe(2);
    expect(series(metrics, 'hami_vgpu_memory_allocated_bytes', { pod: 'trainer' }).map((s) => s.value)).toEqual([20000 * MIB, 4000 * MIB]);
    expect(series(metrics, 'nodeGPUMigInstance', { nodeid: 'dyn-1', migname: '3g.20gb' })[0]?.value).toBe(1);
    // HAMi's monitor: which MIG instance each container holds, with HAMi's labels.
    expect(series(metrics, 'hami_mig_device_info').map((s) => [s.labels, s.value])).toEqual([
      [
        {
          zone: 'vGPU',
          namespace: 'team',
          pod: 'mig-job',
          container: 'main',
          vdevice_index: '0',
          device_uuid: dyn.gpus[0]!.id,
          mig_uuid: 'MIG-d-3g',
          profile: '3g.20gb',
          gpu_instance_id: '2',
          compute_instance_id: '0',
        },
        1,
      ],
      [
        {
          zone: 'vGPU',
          namespace: 'team',
          pod: 'single-job',
          container: 'main',
          vdevice_index: '0',
          device_uuid: single.gpus[1]!.id,
          mig_uuid: 'MIG-s1-0',
          profile: '3g.20gb',
          gpu_instance_id: '1',
          compute_instance_id: '0',
        },
        1,
      ],
    ]);
    expect(series(metrics, 'tessera_pods_in_flight', { node: 'dyn-1' })[0]?.value).toBe(1);
    expect(series(metrics, 'tessera_decisions_total', { mode: 'mig' })[0]?.value).toBe(2);
    expect(series(metrics, 'tessera_decisions_total', { mode: 'hami-core' })[0]?.value).toBe(1);
  });

  it('returns to idle when the pods go', async () => {
    for (const [name] of [['trainer'], ['mig-job'], ['single-job']]) await k8s.deletePod(name!, 'team');
    const metrics = await eventually(async () => {
      const m = await scrape(exporter.url);
      expect(series(m, 'DCGM_FI_DEV_FB_USED', { Hostname: 'single-1', gpu: '1', GPU_I_ID: '1' })[0]?.value).toBe(0);
      expect(series(m, 'DCGM_FI_DEV_GPU_UTIL', hamiGpu(0))).toHaveLength(1);
      expect(series(m, 'hami_vgpu_memory_allocated_bytes')).toEqual([]);
      return m;
    });
    expect(series(metrics, 'DCGM_FI_DEV_GPU_UTIL', hamiGpu(0))[0]?.labels.pod).toBe('');
    expect(series(metrics, 'hami_mig_device_info')).toEqual([]);
    expect(series(metrics, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'dyn-1', GPU_I_ID: '2' })[0]?.value).toBe(19968);
    expect(series(metrics, 'hami_gpu_memory_allocated_bytes', { node: 'hami-1' }).map((s) => s.value)).toEqual([0, 0]);
    expect(series(metrics, 'tessera_pods_in_flight', { node: 'dyn-1' })[0]?.value).toBe(0);
    // Counters keep counting what happened.
    expect(series(metrics, 'tessera_decisions_total', { mode: 'mig' })[0]?.value).toBe(2);
  });

  it('keeps following the cluster after its watches drop', async () => {
    cluster.closeWatches({ abrupt: true });
    const h1 = hami.gpus[1]!.id;
    await k8s.runningPod('hami-1', 'after-drop', ['main'], (uid) =>
      TestCluster.decisionAnnotation(decision({ uid, name: 'after-drop', namespace: 'team' }, 'hami-1', [['main', [{ uuid: h1, index: 1, memoryMiB: 3000, cores: 10 }]]])),
    );
    await eventually(async () => {
      const m = await scrape(exporter.url);
      expect(series(m, 'hami_vgpu_memory_allocated_bytes', { pod: 'after-drop' }).map((s) => s.value)).toEqual([3000 * MIB]);
      expect(series(m, 'DCGM_FI_DEV_FB_USED', { ...hamiGpu(1), pod: 'after-drop' }).map((s) => s.value)).toEqual([3000]);
    }, 15_000);
  });
});
