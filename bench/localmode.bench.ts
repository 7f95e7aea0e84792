/**
 * Local mode end to end (`tessera up` in-process, no demo): a burst of GPU pods is created through the API server
 * and the scheduling driver places them one at a time, exactly as kube-scheduler would (filter + prioritize over
 * HTTP, then bind through the extender), while the simulated kubelets and fake device plugins run them. Reports
 * pods bound per second over the burst, the driver's p99 decision latency (filter through node choice), how long
 * until every pod has settled (running, or refused by its kubelet), and how many the kubelets refused: any refusal
 * means the extender granted a GPU more than it has.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { startLocalCluster } from '../src/localmode/up.js';
import type { BenchResult, BenchSuite } from './harness.js';
import { ephemeralUpOptions } from '../test/localmode/options.js';

/** Four HAMi-core nodes of 8 x A100-80GB: 32 GPUs, 10 shares each. */
const TOPOLOGY = {
  apiVersion: 'tessera.io/v1',
  kind: 'LocalTopology',
  nodes: Array.from({ length: 4 }, (_, i) => ({ name: `hami-${i}`, mode: 'hami-core', gpuProduct: 'NVIDIA-A100-SXM4-80GB', gpuCount: 8, gpuMemory: 81920, cpu: '256', memory: '2Ti' })),
};
const PODS = 200;

function pod(i: number): V1Pod {
  return {
    metadata: { name: `burst-${i}`, namespace: 'default' },
    spec: {
      schedulerName: 'tessera-scheduler',
      containers: [{ name: 'main', image: 'cuda', resources: { requests: { cpu: '100m' }, limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '4096', 'nvidia.com/gpucores': '5' } } }],
    },
  };
}

async function burst(): Promise<BenchResult> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
  const topologyPath = join(dir, 'topology.yaml');
  await writeFile(topologyPath, stringify(TOPOLOGY));
  const local = await startLocalCluster(ephemeralUpOptions(dir, { topologyPath }));
  try {
    const api = local.kubeConfig.makeApiClient(CoreV1Api);
    const start = performance.now();
    await Promise.all(Array.from({ length: PODS }, (_, i) => api.createNamespacedPod({ namespace: 'default', body: pod(i) })));
    let boundMs = Number.NaN;
    let pods: V1Pod[];
    for (;;) {
      pods = (await api.listNamespacedPod({ namespace: 'default' })).items;
      if (Number.isNaN(boundMs) && pods.every((p) => p.spec?.nodeName)) boundMs = performance.now() - start;
      // Settled: every pod runs, or was refused by its kubelet (which only happens when a GPU was over-committed).
      if (pods.every((p) => p.status?.phase === 'Running' || p.status?.phase === 'Failed')) break;
      if (performance.now() - start > 120_000) throw new Error(`burst did not settle: ${pods.filter((p) => !p.spec?.nodeName).length} pods unbound`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const settledMs = performance.now() - start;
    const stats = (await (await fetch(`${local.urls.dashboard}/api/snapshot`)).json()) as { headline: { p99DecisionMs: number } };
    return {
      name: `local mode: ${PODS}-pod burst, driver -> extender -> kubelet`,
      opsPerSec: Math.round((PODS / boundMs) * 1000),
      p99Ms: stats.headline.p99DecisionMs,
      extra: {
        pods: PODS,
        nodes: TOPOLOGY.nodes.length,
        allBoundMs: Math.round(boundMs),
        settledMs: Math.round(settledMs),
        refusedByKubelet: pods.filter((p) => p.status?.phase === 'Failed').length,
      },
    };
  } finally {
    await local.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export const localModeBench: BenchSuite = {
  name: 'localmode',
  run: async () => [await burst()],
};
