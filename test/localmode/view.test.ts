import type { V1Node, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TESSERA_API_VERSION, TESSERA_NODE, TESSERA_POD } from '../../src/api/annotations.js';
import { DECISION_KIND, encodeDecision, type Decision, type DecisionDevice } from '../../src/api/decision.js';
import { INVENTORY_KIND, encodeInventory, type InventoryGpu, type NodeInventory } from '../../src/api/inventory.js';
import { dashboardView } from '../../src/localmode/dashboard/view.js';
import type { DriverStats } from '../../src/localmode/stats.js';
import { decisionArb, inventoryArb } from '../api/arbitraries.js';

const stats: DriverStats = { bound: 3, unschedulable: 1, errors: 0, decisionsPerSecond: 0.4, p99DecisionMs: 2.5, failures: { 'default/waiting': 'extender filter: not ready' } };

const gpu = (index: number, model: string, memoryMiB: number, instances: Array<{ profile: string; start: number }> = []): InventoryGpu => ({
  uuid: `GPU-${index}`,
  index,
  model,
  memoryMiB,
  coreUnits: 100,
  numa: null,
  health: 'Healthy',
  mig: { enabled: instances.length > 0, instances: instances.map((i, n) => ({ ...i, gpuInstanceId: n, migDeviceUuid: `MIG-${index}-${n}` })) },
});

function nodeWith(inventory: Omit<NodeInventory, 'apiVersion' | 'kind' | 'observedAt' | 'splitCount'>): V1Node {
  const full: NodeInventory = { apiVersion: TESSERA_API_VERSION, kind: INVENTORY_KIND, splitCount: 10, observedAt: '2026-01-01T00:00:00Z', ...inventory };
  return { metadata: { name: inventory.node, annotations: { [TESSERA_NODE.inventory]: encodeInventory(full) } }, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
}

function podOn(name: string, node: string, mode: 'mig' | 'hami-core', devices: DecisionDevice[]): V1Pod {
  const decision: Decision = {
    apiVersion: TESSERA_API_VERSION,
    kind: DECISION_KIND,
    pod: { uid: `uid-${name}`, namespace: 'ml', name },
    node,
    mode,
    containers: [{ name: 'c', devices }],
    decidedAt: '2026-01-01T00:00:00Z',
  };
  return { metadata: { name, namespace: 'ml', annotations: { [TESSERA_POD.decision]: encodeDecision(decision) } }, spec: { nodeName: node, containers: [] }, status: { phase: 'Running' } };
}

const A100_40 = 'NVIDIA A100-SXM4-40GB';

describe('dashboard view model', () => {
  it('draws MIG instances at their placements: held, idle, and granted but not yet created', () => {
    const node = nodeWith({
      node: 'mig-1',
      mode: 'mig',
      gpus: [
        gpu(0, A100_40, 40960, [
          { profile: '3g.20gb', start: 4 },
          { profile: '1g.5gb', start: 0 },
        ]),
      ],
    });
    const pods = [
      podOn('a', 'mig-1', 'mig', [{ uuid: 'GPU-0', index: 0, memoryMiB: 19968, cores: 43, mig: { profile: '3g.20gb', start: 4, plan: [] } }]),
      podOn('b', 'mig-1', 'mig', [{ uuid: 'GPU-0', index: 0, memoryMiB: 9856, cores: 29, mig: { profile: '2g.10gb', start: 2, plan: [{ action: 'create', profile: '2g.10gb', start: 2 }] } }]),
    ];
    const view = dashboardView([node], pods, stats);
    const shown = view.nodes[0]?.gpus[0];
    if (shown?.kind !== 'mig') throw new Error('expected a MIG GPU');
    expect(shown.slices).toBe(8);
    expect(shown.instances).toEqual([
      { profile: '1g.5gb', start: 0, size: 1, pod: null, state: 'idle' },
      { profile: '2g.10gb', start: 2, size: 2, pod: 'ml/b', state: 'creating' },
      { profile: '3g.20gb', start: 4, size: 4, pod: 'ml/a', state: 'in-use' },
    ]);
    // Held: 2 + 4 of 8 slices.
    expect(shown.allocated).toBe(0.75);
  });

  it('shows HAMi-core shares per pod and counts the larger of memory and core share', () => {
    const node = nodeWith({ node: 'hami-1', mode: 'hami-core', gpus: [gpu(0, 'NVIDIA A100-SXM4-80GB', 81920), gpu(1, 'NVIDIA A100-SXM4-80GB', 81920)] });
    const pods = [
      podOn('x', 'hami-1', 'hami-core', [{ uuid: 'GPU-0', index: 0, memoryMiB: 20480, cores: 50 }]),
      podOn('y', 'hami-1', 'hami-core', [{ uuid: 'GPU-0', index: 0, memoryMiB: 40960, cores: 10 }]),
    ];
    const view = dashboardView([node], pods, stats);
    const first = view.nodes[0]?.gpus[0];
    if (first?.kind !== 'shared') throw new Error('expected a GPU shared by vGPUs');
    expect(first.shares).toEqual([
      { pod: 'ml/x', memoryMiB: 20480, cores: 50 },
      { pod: 'ml/y', memoryMiB: 40960, cores: 10 },
    ]);
    // memory 61440 / 81920 = 0.75 > cores 60 / 100.
    expect(first.allocated).toBe(0.75);
    // Two GPUs: (0.75 + 0) / 2 allocated; free 0.25 + 1, of which 0.25 sits on a partly used GPU.
    expect(view.headline.allocationRatio).toBe(0.375);
    expect(view.headline.fragmentation).toBeCloseTo(0.25 / 1.25, 10);
    expect(view.headline.placedPods).toBe(2);
  });

  it('lists pending pods with the reason from their condition, else the driver, and reports unreadable records', () => {
    const pending: V1Pod[] = [
      {
        metadata: { name: 'stuck', namespace: 'default' },
        spec: { containers: [] },
        status: { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/4 nodes are available: 4 Insufficient gpumem.' }] },
      },
      { metadata: { name: 'waiting', namespace: 'default' }, spec: { containers: [] }, status: { phase: 'Pending' } },
      { metadata: { name: 'done', namespace: 'default' }, spec: { containers: [] }, status: { phase: 'Succeeded' } },
      {
        metadata: { name: 'refused', namespace: 'default' },
        spec: { nodeName: 'n', containers: [] },
        status: { phase: 'Failed', reason: 'UnexpectedAdmissionError', message: 'nvidia.com/gpu: 1 requested, 0 free' },
      },
    ];
    const broken: V1Pod = { metadata: { name: 'bad', namespace: 'ml', annotations: { [TESSERA_POD.decision]: '{nope' } }, spec: { nodeName: 'n', containers: [] } };
    const bare: V1Node = { metadata: { name: 'n' } };
    const view = dashboardView([bare], [...pending, broken], stats);
    expect(view.pending).toEqual([
      { pod: 'default/stuck', reason: '0/4 nodes are available: 4 Insufficient gpumem.' },
      { pod: 'default/waiting', reason: 'extender filter: not ready' },
    ]);
    expect(view.problems).toEqual([expect.stringMatching(/^ml\/bad: tessera.io\/decision: is not valid JSON/), 'default/refused: UnexpectedAdmissionError: nvidia.com/gpu: 1 requested, 0 free']);
    expect(view.nodes[0]).toMatchObject({ name: 'n', mode: null, problem: 'no GPU inventory published yet', gpus: [] });
    expect(view.headline).toMatchObject({ decisionsPerSecond: 0.4, p99DecisionMs: 2.5, pendingPods: 2 });
  });

  it('keeps its figures in range for any inventories and decisions, never throwing', () => {
    fc.assert(
      fc.property(fc.array(inventoryArb, { maxLength: 3 }), fc.array(decisionArb, { maxLength: 6 }), (inventories, decisions) => {
        const nodes: V1Node[] = inventories.map((inv, i) => ({ metadata: { name: `n${i}`, annotations: { [TESSERA_NODE.inventory]: encodeInventory(inv) } } }));
        const pods: V1Pod[] = decisions.map((d, i) => ({
          metadata: { name: `p${i}`, namespace: 'x', annotations: { [TESSERA_POD.decision]: encodeDecision(d) } },
          spec: { nodeName: `n${i % 3}`, containers: [] },
        }));
        const view = dashboardView(nodes, pods, stats);
        const { allocationRatio, fragmentation } = view.headline;
        for (const figure of [allocationRatio, fragmentation]) expect(figure >= 0 && figure <= 1).toBe(true);
        expect(view.nodes.map((n) => n.gpus.length)).toEqual(inventories.map((inv) => inv.gpus.length));
        for (const g of view.nodes.flatMap((n) => n.gpus)) expect(g.allocated >= 0 && g.allocated <= 1).toBe(true);
      }),
      { numRuns: 150 },
    );
  });
});
