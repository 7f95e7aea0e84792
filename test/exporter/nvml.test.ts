/**
 * The exporter on a real GPU node (`--source nvml`), over real HTTP: nvidia-smi's answer replayed at the OS
 * boundary (test/fixtures/nvidia-smi/a100x2-query-gpu.csv), the node's pods from the embedded API server.
 */
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAMI_POD } from '../../src/api/annotations.js';
import { parseExporterFlags } from '../../src/cli/commands/exporter.js';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import type { CommandOutput, Executor } from '../../src/deviceplugin/nvml/index.js';
import { NVML_QUERY_ARGS, parseGpuQuery } from '../../src/exporter/nvml-source.js';
import { startExporter, type Exporter } from '../../src/exporter/index.js';
import { catalogProfiles } from '../../src/geometry/index.js';
import { TestCluster, eventually } from '../fakeoperator/cluster-helpers.js';
import { decision } from '../fakeoperator/fixtures.js';
import { scrape, series } from './scrape.js';

const CSV = readFileSync(new URL('../fixtures/nvidia-smi/a100x2-query-gpu.csv', import.meta.url), 'utf8');
const GPU0 = 'GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f';
const GPU1 = 'GPU-1d2e36b5-8f7d-8d61-7a5e-0f0ab5a3c1b2';
const MIB = 1024 * 1024;

/** nvidia-smi as the exporter calls it, answering the fixture; every other command fails. */
const smi: Executor = {
  run(command: string, args: readonly string[]): Promise<CommandOutput> {
    if (command === 'nvidia-smi' && args.join(' ') === NVML_QUERY_ARGS.join(' ')) return Promise.resolve({ stdout: CSV, stderr: '' });
    return Promise.reject(new Error(`unexpected command: ${command} ${args.join(' ')}`));
  },
  readFile: () => Promise.resolve(undefined),
};

describe('tessera exporter --source nvml', () => {
  let cluster: EmbeddedCluster;
  let exporter: Exporter;
  beforeAll(async () => {
    cluster = await EmbeddedCluster.start();
    const k8s = new TestCluster(cluster.kubeConfig(), 'gpu-operator');
    await k8s.namespaces('gpu-operator', 'team');
    await k8s.node('gpu-7');
    await k8s.runningPod('gpu-7', 'trainer', ['main'], (uid) => ({
      ...TestCluster.decisionAnnotation(decision({ uid, name: 'trainer', namespace: 'team' }, 'gpu-7', [['main', [{ uuid: GPU1, index: 1, memoryMiB: 40000, cores: 50 }]]])),
      [HAMI_POD.bindPhase]: 'success',
    }));
    await k8s.runningPod('gpu-7', 'mig-job', ['main'], (uid) => ({
      ...TestCluster.decisionAnnotation(
        decision(
          { uid, name: 'mig-job', namespace: 'team' },
          'gpu-7',
          [['main', [{ uuid: GPU0, index: 0, memoryMiB: 9728, cores: 14, mig: { profile: '1g.10gb', start: 0, plan: [], migDeviceUuid: 'MIG-9', gpuInstanceId: 9 } }]]],
          'mig',
        ),
      ),
      [HAMI_POD.bindPhase]: 'success',
    }));
    exporter = await startExporter({
      kubeConfig: cluster.kubeConfig(),
      namespace: 'gpu-operator',
      log: pino({ level: 'silent' }),
      profiles: catalogProfiles,
      nvml: { node: 'gpu-7', executor: smi, pollMs: 60_000 },
    });
    await exporter.synced;
  });
  afterAll(async () => {
    await exporter?.stop();
    await cluster?.stop();
  });

  it("reports what nvidia-smi reads as dcgm-exporter's series, with the one container holding a GPU", async () => {
    const metrics = await eventually(async () => {
      const m = await scrape(exporter.url);
      expect(series(m, 'DCGM_FI_DEV_GPU_UTIL', { UUID: GPU1 })[0]?.labels.pod).toBe('trainer');
      return m;
    });
    expect(series(metrics, 'DCGM_FI_DEV_GPU_UTIL', { UUID: GPU1 })[0]).toMatchObject({
      value: 87,
      labels: {
        gpu: '1',
        pci_bus_id: '00000000:0F:00.0',
        device: 'nvidia1',
        modelName: 'NVIDIA A100-SXM4-80GB',
        Hostname: 'gpu-7',
        DCGM_FI_DRIVER_VERSION: '550.54.15',
        namespace: 'team',
        pod: 'trainer',
        container: 'main',
      },
    });
    const of = (name: string, uuid: string): number[] => series(metrics, name, { UUID: uuid }).map((s) => s.value);
    expect([
      of('DCGM_FI_DEV_FB_USED', GPU1),
      of('DCGM_FI_DEV_FB_FREE', GPU1),
      of('DCGM_FI_DEV_GPU_TEMP', GPU1),
      of('DCGM_FI_DEV_POWER_USAGE', GPU1),
      of('DCGM_FI_DEV_SM_CLOCK', GPU1),
      of('DCGM_FI_DEV_MEM_CLOCK', GPU1),
      of('DCGM_FI_DEV_MEM_COPY_UTIL', GPU1),
    ]).toEqual([[30001], [50904], [58], [312.45], [1395], [1593], [41]]);
    // GPU 0 is in MIG mode: the driver gives no utilization, so there is none; a MIG instance is not the GPU, so no pod.
    expect(of('DCGM_FI_DEV_GPU_UTIL', GPU0)).toEqual([]);
    expect(series(metrics, 'DCGM_FI_DEV_FB_USED', { UUID: GPU0 })[0]).toMatchObject({ value: 10240, labels: { pod: '', container: '' } });
    expect(series(metrics, 'hami_host_gpu_memory_used_bytes', { node: 'gpu-7', device_uuid: GPU1 }).map((s) => s.value)).toEqual([30001 * MIB]);
    expect(series(metrics, 'hami_host_gpu_utilization_ratio', { node: 'gpu-7' }).map((s) => s.labels.device_uuid)).toEqual([GPU1]);
    expect(series(metrics, 'hami_mig_device_info').map((s) => s.labels)).toEqual([
      {
        zone: 'vGPU',
        namespace: 'team',
        pod: 'mig-job',
        container: 'main',
        vdevice_index: '0',
        device_uuid: GPU0,
        mig_uuid: 'MIG-9',
        profile: '1g.10gb',
        gpu_instance_id: '9',
        compute_instance_id: '0',
      },
    ]);
    // Nothing modelled and nothing cluster-wide: no fake counters, no scheduler view, no decision counts.
    for (const name of ['DCGM_FI_PROF_GR_ENGINE_ACTIVE', 'hami_gpu_memory_allocated_bytes', 'tessera_decisions_total']) expect(series(metrics, name)).toEqual([]);
  });
});

describe('nvidia-smi --query-gpu parsing and the exporter flags', () => {
  it('refuses a line that is not the queried fields, naming the query', () => {
    expect(() => parseGpuQuery('0, GPU-x, NVIDIA A100\n')).toThrow(/nvidia-smi --query-gpu: line 1 is not 13 fields/);
    expect(parseGpuQuery('\n')).toEqual([]);
  });

  it('takes --source nvml with the node from NODE_NAME, and refuses what does not fit', () => {
    expect(parseExporterFlags(['--source', 'nvml', '--poll-interval', '10'], { NODE_NAME: 'gpu-7' }).nvml).toEqual({ node: 'gpu-7', pollMs: 10_000 });
    expect(parseExporterFlags([], {}).nvml).toBeUndefined();
    expect(() => parseExporterFlags(['--source', 'nvml'], {})).toThrow(/--node: is required with --source nvml/);
    expect(() => parseExporterFlags(['--source', 'dcgm'], {})).toThrow(/--source: must be fake or nvml/);
    expect(() => parseExporterFlags(['--node', 'n'], {})).toThrow(/--node: applies only with --source nvml/);
    expect(() => parseExporterFlags(['--source', 'nvml', '--poll-interval', '0'], { NODE_NAME: 'n' })).toThrow(/--poll-interval/);
  });
});
