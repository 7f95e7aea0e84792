/**
 * A bind storm: 1,000 GPU pods bound at once on 20 nodes, every bind in flight concurrently. The API server's
 * record (not the extender's own view) must show no over-commit, every pod either bound with a signed decision or
 * cleanly rejected, and binds on one node overlapping rather than queueing behind one pod.
 */
import type { CoreV1Api, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAMI_POD, TESSERA_POD } from '../../../src/api/annotations.js';
import { decodeDecision, verifyDecision, verifyRelease } from '../../../src/api/decision.js';
import { publicKeyOf } from '../../../src/api/signing.js';
import { EmbeddedCluster } from '../../../src/cluster/index.js';
import type { RunningExtender } from '../../../src/scheduler/extender/service.js';
import { coreApi, eventually, newKey, postJson, startTestExtender } from './cluster-harness.js';
import { gpuNode, gpuPod } from './fixtures.js';

const NODES = Array.from({ length: 20 }, (_, i) => `storm-${i}`);
const PODS = 1000;
// 81,920 MiB GPUs hold four 20,000 MiB shares: 20 nodes x 8 GPUs x 4 = 640 pods fit, 360 must be turned away.
const SHARE_MIB = 20000;
const GPU_MIB = 81920;
const key = newKey();
let cluster: EmbeddedCluster;
let api: CoreV1Api;
let extender: RunningExtender;

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  api = coreApi(cluster);
  for (const name of NODES) await api.createNode({ body: gpuNode(name, { memoryMiB: GPU_MIB }) });
  extender = await startTestExtender(cluster, key);
  await Promise.all(Array.from({ length: PODS }, (_, i) => api.createNamespacedPod({ namespace: 'default', body: gpuPod(`storm-pod-${i}`, { memoryMiB: SHARE_MIB, cores: 20 }) })));
  await eventually(
    'every pod in the view',
    () => [...Array(PODS).keys()].filter((i) => extender.view.pod('default', `storm-pod-${i}`)).length,
    (n) => n === PODS,
    90_000,
  );
}, 120_000);

afterAll(async () => {
  await extender?.stop();
  await cluster?.stop();
});

describe('bind storm', () => {
  it('binds 1,000 pods at once on 20 nodes with no over-commit, each pod bound or cleanly rejected, no node serialised', async () => {
    // Slow Bindings down so that binds on one node must overlap unless something serialises them.
    cluster.faults.addLatency(20, { verb: 'create', resource: 'pods/binding' });
    const spans = new Map<string, Array<{ start: number; end: number }>>();
    const results = await Promise.all(
      Array.from({ length: PODS }, async (_, i) => {
        const name = `storm-pod-${i}`;
        const node = NODES[i % NODES.length] as string;
        const uid = extender.view.pod('default', name)?.metadata?.uid;
        const start = performance.now();
        const reply = (await postJson(`${extender.url}/bind`, { PodName: name, PodNamespace: 'default', PodUID: uid, Node: node })).json as { Error: string };
        if (reply.Error === '') spans.set(node, [...(spans.get(node) ?? []), { start, end: performance.now() }]);
        return reply.Error;
      }),
    );
    cluster.faults.clear();
    expect(results.filter((e) => e === '').length).toBe(640);
    for (const error of results.filter((e) => e !== '')) expect(error).toMatch(/cannot take the pod|Insufficient/);

    // The API server's record, checked on its own terms.
    const pods = (await api.listNamespacedPod({ namespace: 'default' })).items.filter((p: V1Pod) => p.metadata?.name?.startsWith('storm-pod-'));
    const perGpu = new Map<string, number>();
    let bound = 0;
    for (const pod of pods) {
      const annotations = pod.metadata?.annotations ?? {};
      if (pod.spec?.nodeName) {
        bound++;
        const decision = decodeDecision(annotations[TESSERA_POD.decision] ?? '');
        expect(verifyDecision(decision, key)).toBe(true);
        expect(decision.node).toBe(pod.spec.nodeName);
        for (const device of decision.containers.flatMap((c) => c.devices)) perGpu.set(device.uuid, (perGpu.get(device.uuid) ?? 0) + device.memoryMiB);
      } else {
        expect(annotations[HAMI_POD.bindPhase]).toBe('failed');
        // A decision written before the bind failed stays, released by the scheduler's signed mark.
        const text = annotations[TESSERA_POD.decision];
        if (text !== undefined)
          expect(verifyRelease(annotations[TESSERA_POD.release], pod.metadata?.uid ?? '', decodeDecision(text), { scheduler: publicKeyOf(key), node: () => undefined })).toBe(true);
      }
    }
    expect(bound).toBe(640);
    expect(Math.max(...perGpu.values())).toBeLessThanOrEqual(GPU_MIB);
    expect(perGpu.size).toBe(NODES.length * 8);

    // On every node, some successful binds were in flight at the same time.
    for (const node of NODES) {
      const list = spans.get(node) ?? [];
      const overlapping = list.some((a, i) => list.some((b, j) => i !== j && a.start < b.end && b.start < a.end));
      expect(overlapping, node).toBe(true);
    }
  }, 120_000);
});
