/**
 * Embedded cluster speed, over real HTTP on loopback (as clients on the same machine reach it): create throughput, in memory and with a state file (every
 * write durable before its reply), the latency of listing 10,000 pods (with 1,000 nodes stored beside them), and
 * how long a write takes to reach 10 open watches.
 */
import { CoreV1Api, Watch } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedCluster } from '../src/cluster/index.js';
import { heapGrowthMiB, measureAsync, percentile, type BenchResult, type BenchSuite } from './harness.js';

const PODS = 10_000;
const NODES = 1_000;
const WATCHERS = 10;

const podBody = (name: string, node: string): object => ({
  metadata: { name, namespace: 'default', labels: { app: 'bench', 'tessera.io/pool': 'gpu' }, annotations: { 'nvidia.com/vgpu-mode': 'mig' } },
  spec: {
    nodeName: node,
    containers: [{ name: 'main', image: 'cuda:12', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '10000' } } }],
  },
  status: { phase: 'Running' },
});

async function writes(cluster: EmbeddedCluster): Promise<BenchResult> {
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  // The harness restarts its counter after the warm-up, so names come from a counter of our own.
  let next = 0;
  return measureAsync('cluster: create configmap (HTTP, client-node)', () => {
    const i = next++;
    return core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `w-${i}` }, data: { i: String(i) } } });
  });
}

const IN_FLIGHT = 32;

/**
 * Creates with a state file, `inFlight` clients each sending its next create when the last is answered, as a
 * burst of binds from several controllers arrives: writes per second and each create's round trip.
 */
async function persistedWrites(inFlight: number): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-state-'));
  const cluster = await EmbeddedCluster.start({ persistPath: join(dir, 'state.json') });
  try {
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    let next = 0;
    const create = (): Promise<unknown> => core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `p-${next++}` }, data: { i: String(next) } } });
    for (let i = 0; i < 50; i++) await create();
    const samples: number[] = [];
    const start = performance.now();
    const client = async (): Promise<void> => {
      while (performance.now() - start < 3000) {
        const t0 = performance.now();
        await create();
        samples.push(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: inFlight }, client));
    const seconds = (performance.now() - start) / 1000;
    samples.sort((a, b) => a - b);
    return {
      name: `cluster: create configmap with --state, ${inFlight} in flight (HTTP, client-node)`,
      opsPerSec: Math.round(samples.length / seconds),
      p50Ms: percentile(samples, 50),
      p99Ms: percentile(samples, 99),
      extra: { inFlight },
    };
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function listLatency(cluster: EmbeddedCluster): Promise<BenchResult> {
  const { heapMiB } = heapGrowthMiB(() => {
    for (let n = 0; n < NODES; n++) cluster.store.create('nodes', { metadata: { name: `node-${n}`, labels: { gpu: 'a100' } } });
    for (let p = 0; p < PODS; p++) cluster.store.create('pods', podBody(`pod-${p}`, `node-${p % NODES}`));
  });
  const url = `${cluster.loopbackUrl}/api/v1/pods`;
  const headers = { authorization: `Bearer ${cluster.token}` };
  const result = await measureAsync(
    `cluster: list ${PODS} pods (HTTP, parsed)`,
    async () => {
      const list = (await (await fetch(url, { headers })).json()) as { items: unknown[] };
      if (list.items.length !== PODS) throw new Error(`listed ${list.items.length} pods`);
    },
    { minMs: 3000, warmup: 2 },
  );
  return { ...result, heapMiB, extra: { pods: PODS, nodes: NODES, target: 'p50 < 1000 ms' } };
}

/** Time from a write's start until each of 10 client-node watches has seen it. */
async function fanOut(cluster: EmbeddedCluster): Promise<BenchResult> {
  const kc = cluster.kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  let pending: { started: number; remaining: number; resolve: () => void } | undefined;
  const delays: number[] = [];
  const aborts = await Promise.all(
    Array.from({ length: WATCHERS }, () =>
      new Watch(kc).watch(
        '/api/v1/namespaces/default/configmaps',
        { resourceVersion: cluster.store.resourceVersion, labelSelector: 'fanout=yes' },
        () => {
          if (!pending) return;
          delays.push(performance.now() - pending.started);
          if (--pending.remaining === 0) pending.resolve();
        },
        () => undefined,
      ),
    ),
  );
  const rounds = 300;
  const perRound: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const seen = new Promise<void>((resolve) => (pending = { started: performance.now(), remaining: WATCHERS, resolve }));
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `f-${i}`, labels: { fanout: 'yes' } } } });
    await seen;
    perRound.push(Math.max(...delays.splice(0)));
  }
  for (const request of aborts) request.abort();
  perRound.sort((a, b) => a - b);
  return {
    name: `cluster: write seen by all ${WATCHERS} watches`,
    p50Ms: percentile(perRound, 50),
    p99Ms: percentile(perRound, 99),
    extra: { rounds, watchers: WATCHERS, includes: 'create round trip' },
  };
}

export const clusterBench: BenchSuite = {
  name: 'cluster',
  async run(): Promise<BenchResult[]> {
    const persisted = [await persistedWrites(1), await persistedWrites(IN_FLIGHT)];
    const cluster = await EmbeddedCluster.start({ historySize: 20_000 });
    try {
      return [await writes(cluster), ...persisted, await listLatency(cluster), await fanOut(cluster)];
    } finally {
      await cluster.stop();
    }
  },
};
