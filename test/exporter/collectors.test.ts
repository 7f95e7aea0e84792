import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DCGM_FAMILIES, collectDcgm, energyMeter, midpoint, type DcgmInputs } from '../../src/exporter/dcgm.js';
import { createDecisionMetrics, podTransition } from '../../src/exporter/decision-events.js';
import { registerFamilies, registerSchedulerView } from '../../src/exporter/registry.js';
import { fragmentation, type SchedulerView } from '../../src/exporter/scheduler-view.js';
import type { NodeTopology } from '../../src/topology/topology.js';
import { decision, inventoryOf, topologyNode } from '../fakeoperator/fixtures.js';
import { parseScrape, series } from './scrape.js';
import { catalogProfiles } from '../../src/geometry/index.js';

const MIB = 1024 * 1024;

/** dcgm-exporter's etc/default-counters.csv: every field not commented out, with its Prometheus type. */
const DEFAULT_COUNTERS = new Map<string, string>([
  ['DCGM_FI_DEV_SM_CLOCK', 'gauge'],
  ['DCGM_FI_DEV_MEM_CLOCK', 'gauge'],
  ['DCGM_FI_DEV_MEMORY_TEMP', 'gauge'],
  ['DCGM_FI_DEV_GPU_TEMP', 'gauge'],
  ['DCGM_FI_DEV_POWER_USAGE', 'gauge'],
  ['DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', 'counter'],
  ['DCGM_FI_DEV_PCIE_REPLAY_COUNTER', 'counter'],
  ['DCGM_FI_DEV_GPU_UTIL', 'gauge'],
  ['DCGM_FI_DEV_MEM_COPY_UTIL', 'gauge'],
  ['DCGM_FI_DEV_ENC_UTIL', 'gauge'],
  ['DCGM_FI_DEV_DEC_UTIL', 'gauge'],
  ['DCGM_FI_DEV_XID_ERRORS', 'gauge'],
  ['DCGM_FI_DEV_FB_FREE', 'gauge'],
  ['DCGM_FI_DEV_FB_USED', 'gauge'],
  ['DCGM_FI_DEV_FB_RESERVED', 'gauge'],
  ['DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL', 'counter'],
  ['DCGM_FI_DEV_VGPU_LICENSE_STATUS', 'gauge'],
  ['DCGM_FI_DEV_UNCORRECTABLE_REMAPPED_ROWS', 'counter'],
  ['DCGM_FI_DEV_CORRECTABLE_REMAPPED_ROWS', 'counter'],
  ['DCGM_FI_DEV_ROW_REMAP_FAILURE', 'gauge'],
  ['DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'gauge'],
  ['DCGM_FI_PROF_PIPE_TENSOR_ACTIVE', 'gauge'],
  ['DCGM_FI_PROF_DRAM_ACTIVE', 'gauge'],
  ['DCGM_FI_PROF_PCIE_TX_BYTES', 'gauge'],
  ['DCGM_FI_PROF_PCIE_RX_BYTES', 'gauge'],
  ['DCGM_FI_PROF_NVLINK_TX_BYTES', 'gauge'],
  ['DCGM_FI_PROF_NVLINK_RX_BYTES', 'gauge'],
]);

async function render(register: (registry: Registry) => void) {
  const registry = new Registry();
  register(registry);
  return parseScrape(await registry.metrics());
}

function withUse(node: NodeTopology): NodeTopology {
  const copy = structuredClone(node);
  copy.gpus[0]!.status = {
    allocatedBy: { namespace: 'team', pod: 'p', container: 'a' },
    usage: {
      'u/a': { utilization: { min: 60, max: 80 }, fbUsedMiB: 10000, isInferencePod: false, allocatedBy: { namespace: 'team', pod: 'p', container: 'a' } },
      'u/b': { utilization: { min: 10, max: 10 }, fbUsedMiB: 2000, isInferencePod: false, allocatedBy: { namespace: 'team', pod: 'p', container: 'b' } },
    },
  };
  return copy;
}

describe('DCGM series from the topology', () => {
  const hami = withUse(topologyNode('h1', 'NVIDIA-A100-SXM4-80GB', 81920, 2));
  const mig = topologyNode('m1', 'NVIDIA-A100-SXM4-40GB', 40960, 1, 'mixed', true);
  mig.gpus[0]!.migDevices = [
    {
      id: 'MIG-a',
      profile: '3g.20gb',
      position: 4,
      gpuInstanceId: 2,
      status: { allocatedBy: null, usage: { u: { utilization: { min: 90, max: 100 }, fbUsedMiB: 5000, isInferencePod: false, allocatedBy: null } } },
    },
    { id: 'MIG-b', profile: '1g.5gb', position: 0, gpuInstanceId: 13, status: { allocatedBy: null, usage: {} } },
  ];
  const topology = { nodes: { h1: hami, m1: mig } };

  let clock = 0;
  const inputs = { topology, profiles: catalogProfiles, pickUtilization: midpoint, energy: energyMeter(() => clock) };
  const scrapeDcgm = (over: Partial<DcgmInputs> = {}) => render((r) => registerFamilies(r, Object.values(DCGM_FAMILIES), () => collectDcgm({ ...inputs, ...over })));
  const gpu0 = { Hostname: 'h1', gpu: '0', UUID: hami.gpus[0]!.id, pci_bus_id: '00000000:07:00.0', device: 'nvidia0', modelName: 'NVIDIA-A100-SXM4-80GB', DCGM_FI_DRIVER_VERSION: '550.54.15' };

  it('reports a shared GPU once: its users added, no pod labels while several share it', async () => {
    const scraped = await scrapeDcgm();
    const one = (family: string, match: Record<string, string> = gpu0) => series(scraped, family, match).map((s) => s.value);
    expect(series(scraped, 'DCGM_FI_DEV_GPU_UTIL', { Hostname: 'h1', gpu: '0' })).toEqual([{ labels: { ...gpu0, container: '', namespace: '', pod: '' }, value: 80 }]);
    // Users at 70% and 10%: 80% busy, 12000 MiB used, 81920 - 12000 free.
    expect(one('DCGM_FI_DEV_FB_USED')).toEqual([12000]);
    expect(one('DCGM_FI_DEV_FB_FREE')).toEqual([69920]);
    expect(one('DCGM_FI_DEV_FB_RESERVED')).toEqual([0]);
    expect(one('DCGM_FI_PROF_GR_ENGINE_ACTIVE')).toEqual([0.8]);
    // Both train: 60% of their activity on tensor cores; DRAM half the activity.
    expect(one('DCGM_FI_PROF_PIPE_TENSOR_ACTIVE')).toEqual([0.48]);
    expect(one('DCGM_FI_PROF_DRAM_ACTIVE')).toEqual([0.4]);
    // A100-SXM4 at 80%: 55 W + (400 - 55) W x 0.8; boost clock; 32 C + 0.45 x 80; HBM 4 C above.
    expect(one('DCGM_FI_DEV_POWER_USAGE')).toEqual([331]);
    expect(one('DCGM_FI_DEV_SM_CLOCK')).toEqual([1410]);
    expect(one('DCGM_FI_DEV_MEM_CLOCK')).toEqual([1593]);
    expect(one('DCGM_FI_DEV_GPU_TEMP')).toEqual([68]);
    expect(one('DCGM_FI_DEV_MEMORY_TEMP')).toEqual([72]);
    expect(one('DCGM_FI_DEV_XID_ERRORS')).toEqual([0]);
    // The idle GPU: idle clock and power, all memory free.
    const idle = { Hostname: 'h1', gpu: '1', pci_bus_id: '00000000:0F:00.0' };
    expect(series(scraped, 'DCGM_FI_DEV_SM_CLOCK', idle).map((s) => s.value)).toEqual([210]);
    expect(series(scraped, 'DCGM_FI_DEV_POWER_USAGE', idle).map((s) => s.value)).toEqual([55]);
    expect(series(scraped, 'DCGM_FI_DEV_FB_FREE', idle).map((s) => s.value)).toEqual([81920]);
    expect(series(scraped, 'DCGM_FI_DEV_FB_USED', { Hostname: 'h1' }).every((s) => !('GPU_I_PROFILE' in s.labels))).toBe(true);
  });

  it('names the container when exactly one uses the GPU', async () => {
    const solo = structuredClone(hami);
    delete solo.gpus[0]!.status.usage['u/b'];
    const scraped = await scrapeDcgm({ topology: { nodes: { h1: solo } } });
    expect(series(scraped, 'DCGM_FI_DEV_GPU_UTIL', gpu0)).toEqual([{ labels: { ...gpu0, container: 'a', namespace: 'team', pod: 'p' }, value: 70 }]);
  });

  it("has every counter of dcgm-exporter's default-counters.csv, with its type, and the driver version on every series", async () => {
    const registry = new Registry();
    registerFamilies(registry, Object.values(DCGM_FAMILIES), () => collectDcgm(inputs));
    const text = await registry.metrics();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect([...types.keys()].sort()).toEqual([...DEFAULT_COUNTERS.keys()].sort());
    for (const [name, type] of DEFAULT_COUNTERS) expect(types.get(name), name).toBe(type);
    const scraped = parseScrape(text);
    for (const name of DEFAULT_COUNTERS.keys()) {
      const all = series(scraped, name);
      expect(all.length, name).toBeGreaterThan(0);
      expect(
        all.every((s) => s.labels.DCGM_FI_DRIVER_VERSION === '550.54.15' && /^00000000:[0-9A-F]{2}:00\.0$/.test(s.labels.pci_bus_id ?? '')),
        name,
      ).toBe(true);
    }
  });

  it('counts energy as power over the time between scrapes (mJ)', async () => {
    const energy = energyMeter(() => clock);
    clock = 10_000;
    const first = await scrapeDcgm({ energy });
    expect(series(first, 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', gpu0).map((s) => s.value)).toEqual([0]);
    clock += 2_000;
    const second = await scrapeDcgm({ energy });
    // 331 W for 2 s.
    expect(series(second, 'DCGM_FI_DEV_TOTAL_ENERGY_CONSUMPTION', gpu0).map((s) => s.value)).toEqual([662_000]);
  });

  it('reports MIG instances with profile and GPU instance ID, no pod labels and no utilization (seed 000); the GPU once', async () => {
    const scraped = await scrapeDcgm();
    expect(series(scraped, 'DCGM_FI_DEV_GPU_UTIL', { Hostname: 'm1' })).toEqual([]);
    const used = series(scraped, 'DCGM_FI_DEV_FB_USED', { Hostname: 'm1', GPU_I_PROFILE: '3g.20gb' });
    expect(used).toEqual([
      {
        labels: {
          gpu: '0',
          UUID: mig.gpus[0]!.id,
          pci_bus_id: '00000000:07:00.0',
          device: 'nvidia0',
          modelName: 'NVIDIA-A100-SXM4-40GB',
          Hostname: 'm1',
          container: '',
          namespace: '',
          pod: '',
          GPU_I_PROFILE: '3g.20gb',
          GPU_I_ID: '2',
          DCGM_FI_DRIVER_VERSION: '550.54.15',
        },
        value: 5000,
      },
    ]);
    // 3g.20gb is 19968 MiB on an A100-40GB; 1g.5gb 4864 MiB.
    expect(series(scraped, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'm1', GPU_I_ID: '2' })[0]?.value).toBe(14968);
    expect(series(scraped, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'm1', GPU_I_ID: '13' })[0]?.value).toBe(4864);
    expect(series(scraped, 'DCGM_FI_PROF_GR_ENGINE_ACTIVE', { Hostname: 'm1', GPU_I_ID: '2' })[0]?.value).toBe(0.95);
    // Device-wide: once, without instance labels; the 3g instance at 95% is 3/7 of the GPU busy.
    const power = series(scraped, 'DCGM_FI_DEV_POWER_USAGE', { Hostname: 'm1' });
    expect(power).toHaveLength(1);
    expect(power[0]?.labels.GPU_I_PROFILE).toBeUndefined();
    expect(power[0]?.value).toBeCloseTo(55 + (345 * 95 * 3) / 7 / 100, 2);
  });

  it('reports no utilization on a dynamic-MIG node even for a GPU without instances', async () => {
    const bare = { ...mig, gpus: mig.gpus.map((g) => ({ ...g, migDevices: [] })) };
    const scraped = await scrapeDcgm({ topology: { nodes: { m1: bare } } });
    expect(scraped.has('DCGM_FI_DEV_GPU_UTIL')).toBe(true);
    expect(series(scraped, 'DCGM_FI_DEV_GPU_UTIL')).toEqual([]);
    expect(series(scraped, 'DCGM_FI_DEV_FB_FREE', { Hostname: 'm1' }).map((s) => s.value)).toEqual([40960]);
  });
});

describe('scheduler view', () => {
  const hami = topologyNode('h1', 'NVIDIA-A100-SXM4-80GB', 81920, 2);
  const mig = topologyNode('m1', 'NVIDIA-A100-SXM4-40GB', 40960, 1, 'mixed', true);
  const [h0, h1] = hami.gpus.map((g) => g.id) as [string, string];
  const m0 = mig.gpus[0]!.id;
  const view: SchedulerView = {
    nodes: [
      inventoryOf('h1', hami, 'hami-core'),
      inventoryOf('m1', mig, 'mig', {
        0: [
          { profile: '3g.20gb', start: 4, gpuInstanceId: 2, migDeviceUuid: 'MIG-a' },
          { profile: '1g.5gb', start: 0, gpuInstanceId: 13, migDeviceUuid: 'MIG-b' },
        ],
      }),
    ],
    pods: [
      {
        decision: decision({ uid: 'u1', name: 'p1', namespace: 'team' }, 'h1', [
          ['a', [{ uuid: h0, index: 0, memoryMiB: 20480, cores: 30 }]],
          ['b', [{ uuid: h0, index: 0, memoryMiB: 10240, cores: 20 }]],
        ]),
        bindPhase: 'success',
      },
      {
        decision: decision(
          { uid: 'u2', name: 'p2' },
          'm1',
          [['main', [{ uuid: m0, index: 0, memoryMiB: 19968, cores: 100, mig: { profile: '3g.20gb', start: 4, plan: [{ action: 'create', profile: '3g.20gb', start: 4 }] } }]]],
          'mig',
        ),
        bindPhase: 'allocating',
      },
      { decision: decision({ uid: 'u3', name: 'p3' }, 'h1', [['main', [{ uuid: h1, index: 1, memoryMiB: 1000, cores: 10 }]]]), bindPhase: 'failed' },
    ],
  };

  it("speaks HAMi's names and labels, per GPU and per container", async () => {
    const scraped = await render((r) => registerSchedulerView(r, () => view, { profiles: catalogProfiles, legacyMigMetric: true }));
    const gpu0 = { zone: 'vGPU', node: 'h1', device_uuid: h0, device_index: '0', device_type: 'NVIDIA-A100-SXM4-80GB' };
    expect(series(scraped, 'hami_gpu_memory_allocated_bytes', gpu0).map((s) => s.value)).toEqual([30720 * MIB]);
    expect(series(scraped, 'hami_gpu_core_allocated_ratio', gpu0).map((s) => s.value)).toEqual([50]);
    expect(series(scraped, 'hami_gpu_shared_count', gpu0).map((s) => s.value)).toEqual([2]);
    expect(series(scraped, 'hami_gpu_memory_limit_bytes', gpu0).map((s) => s.value)).toEqual([81920 * MIB]);
    expect(series(scraped, 'hami_gpu_core_limit_ratio', gpu0).map((s) => s.value)).toEqual([100]);
    // 30720 of 81920 MiB
    expect(series(scraped, 'hami_node_gpu_memory_allocated_ratio', { node: 'h1', device_index: '0' }).map((s) => s.value)).toEqual([0.375]);
    expect(series(scraped, 'hami_node_gpu_overview', { ...gpu0, device_memory_limit: '81920', device_cores: '100' }).map((s) => s.value)).toEqual([30720 * MIB]);
    // The failed bind holds nothing.
    expect(series(scraped, 'hami_gpu_shared_count', { node: 'h1', device_index: '1' }).map((s) => s.value)).toEqual([0]);
    expect(series(scraped, 'hami_vgpu_memory_allocated_bytes', { namespace: 'team', pod: 'p1' }).map((s) => [s.labels.container_index, s.value])).toEqual([
      ['0', 20480 * MIB],
      ['1', 10240 * MIB],
    ]);
    expect(series(scraped, 'hami_node_gpu_mig_instance_info', { node: 'm1' }).map((s) => s.labels)).toEqual([
      {
        zone: 'vGPU',
        node: 'm1',
        device_uuid: m0,
        device_index: '0',
        mig_uuid: 'MIG-a',
        profile: '3g.20gb',
        gpu_instance_id: '2',
        compute_instance_id: '0',
        placement_start: '4',
        placement_size: '4',
      },
    ]);
    expect(series(scraped, 'nodeGPUMigInstance', { nodeid: 'm1' }).map((s) => [s.labels.migname, s.value])).toEqual([
      ['3g.20gb', 1],
      ['1g.5gb', 0],
    ]);
  });

  it("adds Tessera's gauges: pods in flight, idle MIG instances, fragmentation", async () => {
    const scraped = await render((r) => registerSchedulerView(r, () => view, { profiles: catalogProfiles }));
    expect(scraped.has('nodeGPUMigInstance')).toBe(false);
    expect(series(scraped, 'tessera_pods_in_flight', { node: 'm1' })[0]?.value).toBe(1);
    expect(series(scraped, 'tessera_mig_instances_idle', { node: 'm1' })[0]?.value).toBe(1);
    // The MIG series are the MIG mode's own (SharingMode.metrics): a hami-core node has none.
    expect(series(scraped, 'tessera_mig_instances_idle', { node: 'h1' })).toEqual([]);
    // h1: GPU0 has 81920 - 30720 = 51200 free and is partly used; GPU1 is empty (81920 free): 51200 / 133120.
    expect(series(scraped, 'tessera_gpu_fragmentation_ratio', { node: 'h1' })[0]?.value).toBeCloseTo(51200 / 133120, 10);
  });

  it('fragmentation is 0 with nothing free and with nothing used', () => {
    const gpus = inventoryOf('h1', hami, 'hami-core').gpus;
    expect(fragmentation(gpus, new Map())).toBe(0);
    const full = new Map(gpus.map((g) => [g.uuid, { memoryMiB: g.memoryMiB, cores: 100, containers: 1 }]));
    expect(fragmentation(gpus, full)).toBe(0);
  });
});

describe('decision events', () => {
  const d = decision(
    { uid: 'u', name: 'p' },
    'm1',
    [['main', [{ uuid: 'GPU-1', index: 0, memoryMiB: 1, cores: 1, mig: { profile: '1g.5gb', start: 0, plan: [{ action: 'create', profile: '1g.5gb', start: 0 }] } }]]],
    'mig',
  );

  it('counts a decision once, with its latency from pod creation, and its MIG reconfigurations', async () => {
    const created = Date.parse(d.decidedAt) - 1500;
    const first = podTransition(undefined, { decision: d, rejectionReason: null, rejectionMessage: null, createdAtMs: created });
    expect(first.events).toEqual([
      { kind: 'decided', mode: 'mig', latencySeconds: 1.5, counts: [{ family: expect.objectContaining({ name: 'tessera_mig_reconfigurations_total' }), labels: { node: 'm1' } }] },
    ]);
    expect(podTransition(first.sighting, { decision: d, rejectionReason: null, rejectionMessage: null, createdAtMs: created }).events).toEqual([]);
    const scraped = await render((r) => {
      const metrics = createDecisionMetrics(r);
      first.events.forEach((e) => metrics.observe(e));
      metrics.observe({ kind: 'rejected', reason: 'Unschedulable' });
    });
    expect(series(scraped, 'tessera_decisions_total', { mode: 'mig' })[0]?.value).toBe(1);
    expect(series(scraped, 'tessera_mig_reconfigurations_total', { node: 'm1' })[0]?.value).toBe(1);
    expect(series(scraped, 'tessera_rejections_total', { reason: 'Unschedulable' })[0]?.value).toBe(1);
    expect(series(scraped, 'tessera_decision_latency_seconds')[0]?.value).toBe(1);
  });

  it('counts a rejection each time its message changes', () => {
    const a = podTransition(undefined, { decision: null, rejectionReason: 'Unschedulable', rejectionMessage: 'no GPU', createdAtMs: 0 });
    const b = podTransition(a.sighting, { decision: null, rejectionReason: 'Unschedulable', rejectionMessage: 'no GPU', createdAtMs: 0 });
    const c = podTransition(b.sighting, { decision: null, rejectionReason: 'Unschedulable', rejectionMessage: 'no memory', createdAtMs: 0 });
    expect([a, b, c].map((t) => t.events.length)).toEqual([1, 0, 1]);
  });
});
