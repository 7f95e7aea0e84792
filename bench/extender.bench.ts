/**
 * The extender as kube-scheduler sees it: filter then prioritize for one pod over real HTTP on loopback
 * (nodeCacheCapable: node names only), on clusters of 8-GPU nodes about 80% full. Goals: p99 <= 2 ms at 1,000
 * nodes and <= 10 ms at 5,000 nodes, since kube-scheduler runs both inside its one-pod-at-a-time loop.
 */
import { DEFAULT_REQUEST_CONFIG, decide, parsePodRequest } from '../src/scheduler/core/index.js';
import { hamiPolicy } from '../src/scheduler/policies/index.js';
import { decisionOf } from '../src/scheduler/extender/decision-map.js';
import { buildHarness } from '../test/scheduler/extender/harness.js';
import { gpuNode, gpuPod } from '../test/scheduler/extender/fixtures.js';
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

async function post(url: string, body: string): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

async function filterPrioritize(nodes: number, goalMs: number): Promise<BenchResult> {
  const cluster = await filledExtender(nodes);
  try {
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
    return { ...result, extra: { nodes, gpus: nodes * 8, grants: cluster.grants, goalP99Ms: goalMs } };
  } finally {
    await cluster.close();
  }
}

export const extenderBench: BenchSuite = {
  name: 'extender',
  async run() {
    return [await filterPrioritize(1000, 2), await filterPrioritize(5000, 10)];
  },
};
