/**
 * The extender as kube-scheduler sees it.
 * - Filter then prioritize for one pod over real HTTP on loopback (nodeCacheCapable: node names only), on
 *   clusters of 8-GPU nodes about 80% full. Goals: p99 <= 2 ms at 1,000 nodes and <= 10 ms at 5,000 nodes, since
 *   kube-scheduler runs both inside its one-pod-at-a-time loop.
 * - Throughput against the embedded API server: pods go through filter and prioritize one at a time, and their
 *   binds run in the background, as kube-scheduler runs them. Goal: >= 1,000 pods/s.
 */
import { DEFAULT_REQUEST_CONFIG, decide, parsePodRequest } from '../src/scheduler/core/index.js';
import { hamiPolicy } from '../src/scheduler/policies/index.js';
import { decisionOf } from '../src/scheduler/extender/decision-map.js';
import { buildHarness } from '../test/scheduler/extender/harness.js';
import { gpuNode, gpuPod } from '../test/scheduler/extender/fixtures.js';
import { Agent, request } from 'node:http';
import type { V1Pod } from '@kubernetes/client-node';
import { EmbeddedCluster } from '../src/cluster/index.js';
import { coreApi, eventually, schedulePodInBackground, startTestExtender, newKey } from '../test/scheduler/extender/cluster-harness.js';
import { measureAsync, type BenchResult, type BenchSuite } from './harness.js';

const CONTEXT = { nodePolicy: 'binpack', gpuPolicy: 'spread' } as const;

/** Fills every GPU to 80% of its memory and cores (one pod per GPU), and one node in ten completely. */
async function filledExtender(nodes: number): Promise<{ url: string; names: string[]; close: () => Promise<void>; grants: number }> {
  const h = buildHarness();
  const names = Array.from({ length: nodes }, (_, i) => `node-${String(i).padStart(5, '0')}`);
  let grants = 0;
  for (const [n, name] of names.entries()) {
    h.view.upsertNode(gpuNode(name));
    const full = n % 10 === 0;
    for (let g = 0; g < 8; g++) {
      const pod = gpuPod(`fill-${n}-${g}`, { uid: `fill-${n}-${g}`, memoryMiB: full ? 81920 : 65536, cores: full ? 100 : 80 });
      const request = parsePodRequest(pod, DEFAULT_REQUEST_CONFIG);
      if (!request.ok) throw new Error('fill pod invalid');
      const decided = decide(h.view.state, request.value, name, hamiPolicy, CONTEXT);
      if (!decided.ok) throw new Error(`fill pod does not fit ${name}`);
      h.view.book.hold({ podUid: pod.metadata.uid ?? '', node: name, decision: decisionOf(decided.value, new Date(0).toISOString()), allocation: decided.value, phase: 'confirmed', since: 0 });
      grants++;
    }
  }
  const url = await h.server.listen({ host: '127.0.0.1', port: 0 });
  return { url, names, grants, close: () => h.server.close() };
}

// One keep-alive connection, as kube-scheduler's HTTP client keeps one to its extender.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, body: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))) : reject(new Error(`${url}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function filterPrioritize(nodes: number, goalMs: number): Promise<BenchResult> {
  const cluster = await filledExtender(nodes);
  try {
    const cpu = process.cpuUsage();
    const result = await measureAsync(
      `extender filter+prioritize HTTP, ${nodes} nodes`,
      async (i) => {
        const body = JSON.stringify({ Pod: gpuPod(`bench-${i}`, { uid: `bench-${i}`, memoryMiB: 8000, cores: 10 }), Nodes: null, NodeNames: cluster.names });
        const filtered = (await post(`${cluster.url}/filter`, body)) as { NodeNames: string[]; Error: string };
        if (filtered.Error || filtered.NodeNames.length === 0) throw new Error(`filter failed: ${filtered.Error}`);
        await post(`${cluster.url}/prioritize`, JSON.stringify({ Pod: gpuPod(`bench-${i}`, { uid: `bench-${i}`, memoryMiB: 8000, cores: 10 }), Nodes: null, NodeNames: filtered.NodeNames }));
      },
      { minMs: 3000, warmup: 50 },
    );
    // CPU per call (both ends: the client shares the process) says more than wall time on a busy machine.
    const used = process.cpuUsage(cpu);
    const calls = Math.round(((result.opsPerSec ?? 0) * 3000) / 1000) + 50;
    return { ...result, extra: { nodes, gpus: nodes * 8, grants: cluster.grants, goalP99Ms: goalMs, cpuMsPerPod: Number(((used.user + used.system) / 1000 / calls).toFixed(3)) } };
  } finally {
    await cluster.close();
  }
}

async function throughput(nodes: number, pods: number): Promise<BenchResult> {
  const cluster = await EmbeddedCluster.start();
  const extender = await startTestExtender(cluster, newKey());
  try {
    const api = coreApi(cluster);
    const names = Array.from({ length: nodes }, (_, i) => `node-${i}`);
    await Promise.all(names.map((name) => api.createNode({ body: gpuNode(name) })));
    const created: V1Pod[] = [];
    for (let i = 0; i < pods; i += 200) {
      created.push(...(await Promise.all(Array.from({ length: Math.min(200, pods - i) }, (_, j) => api.createNamespacedPod({ namespace: 'default', body: gpuPod(`tp-${i + j}`, { memoryMiB: 4000, cores: 5 }) })))));
    }
    await eventually('pods in the view', () => created.filter((p) => extender.view.pod('default', p.metadata?.name ?? '')).length, (n) => n === pods, 60_000);
    const start = performance.now();
    const binds: Promise<string>[] = [];
    for (const pod of created) binds.push((await schedulePodInBackground(extender, pod, names)).bound);
    const errors = (await Promise.all(binds)).filter((e) => e !== '');
    const seconds = (performance.now() - start) / 1000;
    if (errors.length > 0) throw new Error(`${errors.length} binds failed, first: ${errors[0]}`);
    return { name: `extender throughput, filter+prioritize+bind, ${nodes} nodes`, opsPerSec: Math.round(pods / seconds), extra: { pods, goalPodsPerSec: 1000 } };
  } finally {
    await extender.stop();
    await cluster.stop();
  }
}

export const extenderBench: BenchSuite = {
  name: 'extender',
  async run() {
    return [await filterPrioritize(1000, 2), await filterPrioritize(5000, 10), await throughput(100, 2000)];
  },
};
