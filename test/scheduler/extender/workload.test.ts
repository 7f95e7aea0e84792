/**
 * The extender learns the workload from the pods it knows (extender/workload.ts): with the tessera policy, a MIG
 * GPU is carved for the sizes the pending pods ask for, in the same change that serves the first of them.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { afterEach, describe, expect, it } from 'vitest';
import { TESSERA_NODE, TESSERA_POD } from '../../../src/api/annotations.js';
import { decodeDecision } from '../../../src/api/decision.js';
import { encodeInventory } from '../../../src/api/inventory.js';
import { EmbeddedCluster } from '../../../src/cluster/index.js';
import { DEFAULT_DEVICE_CONFIG } from '../../../src/config/device-config.js';
import { extenderDeviceOptions } from '../../../src/scheduler/extender/device-options.js';
import type { RunningExtender } from '../../../src/scheduler/extender/service.js';
import { tesseraPolicy, type WorkloadProfile } from '../../../src/scheduler/policies/index.js';
import type { TypicalShape } from '../../../src/scheduler/policies/frag.js';
import { startWorkloadLearner } from '../../../src/scheduler/extender/workload.js';
import { coreApi, eventually, newKey, schedulePod, startTestExtender, testConfig } from './cluster-harness.js';
import { buildHarness, silentLog } from './harness.js';
import { gpuNode, gpuPod, inventoryFor } from './fixtures.js';
import { DEFAULT_REQUEST_CONFIG } from '../../../src/request/index.js';

let cluster: EmbeddedCluster | undefined;
let extender: RunningExtender | undefined;

afterEach(async () => {
  await extender?.stop();
  await cluster?.stop();
  extender = undefined;
  cluster = undefined;
});

/** One empty H100 MIG node, pods asking 9,000 MiB waiting, then the extender; returns the first pod's MIG ops. */
async function firstPlan(workloadRefreshSeconds: number): Promise<string[]> {
  cluster = await EmbeddedCluster.start();
  const api = coreApi(cluster);
  const node = gpuNode('h100', { gpus: 1 });
  const inventory = inventoryFor('h100', { gpus: 1, model: 'NVIDIA H100-SXM5-80GB', memoryMiB: 81_559 });
  const gpu = inventory.gpus[0];
  if (gpu) gpu.mig = { enabled: true, instances: [] };
  node.metadata.annotations[TESSERA_NODE.inventory] = encodeInventory({ ...inventory, mode: 'mig' });
  await api.createNode({ body: node });
  const pods: V1Pod[] = [];
  for (let i = 0; i < 5; i++) pods.push(await api.createNamespacedPod({ namespace: 'default', body: gpuPod(`small-${i}`, { memoryMiB: 9000, annotations: { 'nvidia.com/vgpu-mode': 'mig' } }) }));
  const key = newKey();
  extender = await startTestExtender(cluster, key, testConfig({ workloadRefreshSeconds }), { policy: tesseraPolicy, ...extenderDeviceOptions(DEFAULT_DEVICE_CONFIG, tesseraPolicy) });
  const running = extender;
  await eventually(
    'pods in the view',
    () => pods.every((p) => running.view.pod('default', p.metadata?.name ?? '')),
    (all) => all,
  );
  const [first] = pods;
  if (!first) throw new Error('no pod');
  const { node: chosen, error } = await schedulePod(running, first, ['h100']);
  expect([chosen, error]).toEqual(['h100', '']);
  const stored = await api.readNamespacedPod({ name: 'small-0', namespace: 'default' });
  const decision = decodeDecision(stored.metadata?.annotations?.[TESSERA_POD.decision] ?? '');
  return (decision.containers[0]?.devices[0]?.mig?.plan ?? []).map((op) => `${op.action} ${op.profile}`);
}

describe('workload learned by the extender', () => {
  it('carves the GPU for the waiting pods in the change that serves the first one', async () => {
    const ops = await firstPlan(3600);
    expect(ops.filter((op) => op === 'create 1g.10gb').length).toBe(7);
  }, 20_000);

  it('creates only the instance asked for when learning is off', async () => {
    expect(await firstPlan(0)).toEqual(['create 1g.10gb']);
  }, 20_000);
});

describe('the workload learner', () => {
  it('follows the GPU pods known: changes on arrivals and departures, nothing when nothing changed', () => {
    const { view } = buildHarness();
    view.upsertNode(gpuNode('n', { gpus: 2 }));
    let typical: readonly TypicalShape[] = [];
    const learner = startWorkloadLearner({ view, requestConfig: DEFAULT_REQUEST_CONFIG, refreshMs: 3_600_000, setLearned: (learned) => (typical = learned.typical), log: silentLog });
    // Unscheduled pods as the informer shows them.
    const pending = (pod: ReturnType<typeof gpuPod>, phase = 'Pending') => ({ ...pod, spec: { ...pod.spec, nodeName: '' }, status: { phase } });
    try {
      const small = gpuPod('small', { uid: 'small', memoryMiB: 8192 });
      view.upsertPod(pending(small));
      view.upsertPod({ metadata: { uid: 'cpu-only', name: 'cpu-only', namespace: 'default' }, spec: { nodeName: '' }, status: { phase: 'Pending' } });
      expect(learner.refresh()).toBe(true);
      // 8,192 of the fixture's 81,920 MiB GPUs: a tenth, one GPU; the CPU-only pod is not a GPU workload.
      expect(typical.map((t) => [t.milli, t.gpus, t.freq])).toEqual([[100, 1, 1]]);
      expect(learner.refresh()).toBe(false);
      view.upsertPod(pending(gpuPod('big', { uid: 'big', memoryMiB: 40_960, gpus: 2 })));
      expect(learner.refresh()).toBe(true);
      expect(typical.map((t) => [t.milli, t.gpus])).toEqual([
        [500, 2],
        [100, 1],
      ]);
      view.upsertPod(pending(small, 'Succeeded'));
      expect(learner.refresh()).toBe(true);
      expect(typical.map((t) => [t.milli, t.gpus])).toEqual([[500, 2]]);
    } finally {
      learner.stop();
    }
  });

  it('hands the policy the nodes kept for a pod shape that fits few of them, and lets them go when it leaves', () => {
    const { view } = buildHarness();
    // Ten nodes of 16 cores and one of 128, two GPUs each: a pod asking 64 cores fits one node of eleven.
    for (let i = 0; i < 10; i++) view.upsertNode(gpuNode(`small-${i}`, { gpus: 2, cpu: '16' }));
    view.upsertNode(gpuNode('large', { gpus: 2, cpu: '128' }));
    let learned: Pick<WorkloadProfile, 'typical' | 'scarceHomes'> | undefined;
    const learner = startWorkloadLearner({ view, requestConfig: DEFAULT_REQUEST_CONFIG, refreshMs: 3_600_000, setLearned: (l) => (learned = l), log: silentLog });
    const wide = gpuPod('wide', { uid: 'wide', memoryMiB: 8192 });
    const wideOn64 = {
      ...wide,
      spec: { ...wide.spec, nodeName: '', containers: wide.spec.containers.map((c) => ({ ...c, resources: { limits: { ...c.resources.limits, cpu: '64' } } })) },
      status: { phase: 'Pending' },
    };
    try {
      view.upsertPod(wideOn64);
      expect(learner.refresh()).toBe(true);
      expect([...(learned?.scarceHomes.keptFor ?? [])]).toEqual([['large', 1]]);
      view.upsertPod({ ...wideOn64, status: { phase: 'Succeeded' } });
      expect(learner.refresh()).toBe(true);
      expect(learned?.scarceHomes.keptFor.size).toBe(0);
    } finally {
      learner.stop();
    }
  });
});
