/**
 * Exporter and fake-operator costs at cluster scale: one full /metrics render (DCGM + scheduler view through
 * prom-client), the pure collectors alone, one node's reconcile, and parsing a large topology.
 */
import { Registry } from 'prom-client';
import { TESSERA_API_VERSION } from '../src/api/annotations.js';
import { DECISION_KIND, encodeDecision, type Decision } from '../src/api/decision.js';
import { INVENTORY_KIND, type NodeInventory } from '../src/api/inventory.js';
import { DCGM_FAMILIES, collectDcgm, energyMeter, midpoint } from '../src/exporter/dcgm.js';
import { registerFamilies, registerSchedulerView } from '../src/exporter/registry.js';
import { collectSchedulerView, type SchedulerView } from '../src/exporter/scheduler-view.js';
import { reconcileNode } from '../src/fakeoperator/reconcile.js';
import { nodeFromPool, parseTopology, renderTopology, type Topology } from '../src/topology/topology.js';
import { measure, measureAsync, type BenchResult, type BenchSuite } from './harness.js';
import { catalogProfiles } from '../src/geometry/index.js';

const NODES = 500;
const GPUS = 8;
/** Each GPU shared by this many containers, each with a 4 GiB share. */
const SHARES = 4;

function cluster(): { topology: Topology; view: SchedulerView; decisions: Decision[] } {
  const pool = { gpuProduct: 'NVIDIA-A100-SXM4-80GB', gpuCount: GPUS, gpuMemoryMiB: 81920, driverVersion: '550.54.15', migStrategy: 'none' as const, dynamicMig: false };
  const nodes: Topology['nodes'] = {};
  const inventories: NodeInventory[] = [];
  const decisions: Decision[] = [];
  for (let n = 0; n < NODES; n++) {
    const name = `node-${n}`;
    const node = nodeFromPool(name, pool);
    nodes[name] = node;
    inventories.push({
      apiVersion: TESSERA_API_VERSION,
      kind: INVENTORY_KIND,
      node: name,
      mode: 'hami-core',
      splitCount: 10,
      gpus: node.gpus.map((g, index) => ({ uuid: g.id, index, model: pool.gpuProduct, memoryMiB: 81920, coreUnits: 100, numa: 0, health: 'Healthy', mig: { enabled: false, instances: [] } })),
      observedAt: '2026-01-01T00:00:00Z',
    });
    node.gpus.forEach((gpu, index) => {
      for (let s = 0; s < SHARES; s++) {
        const uid = `${name}-${index}-${s}`;
        const ref = { namespace: 'team', pod: uid, container: 'main' };
        gpu.status.usage[uid] = { utilization: { min: 40, max: 90 }, fbUsedMiB: 4096, isInferencePod: false, allocatedBy: ref };
        decisions.push({
          apiVersion: TESSERA_API_VERSION,
          kind: DECISION_KIND,
          pod: { uid, namespace: 'team', name: uid },
          node: name,
          mode: 'hami-core',
          containers: [{ name: 'main', devices: [{ uuid: gpu.id, index, memoryMiB: 4096, cores: 25 }] }],
          decidedAt: '2026-01-01T00:00:00Z',
        });
      }
    });
  }
  return {
    topology: { migStrategy: 'none', nodePoolLabelKey: 'run.ai/simulated-gpu-node-pool', nodePools: {}, nodes },
    view: { nodes: inventories, pods: decisions.map((decision) => ({ decision, bindPhase: 'success' as const })) },
    decisions,
  };
}

export const exporterBench: BenchSuite = {
  name: 'exporter',
  async run(): Promise<BenchResult[]> {
    const { topology, view, decisions } = cluster();
    const size = { nodes: NODES, gpus: NODES * GPUS, pods: decisions.length };
    const registry = new Registry();
    const energy = energyMeter(Date.now);
    registerFamilies(registry, Object.values(DCGM_FAMILIES), () => collectDcgm({ topology, profiles: catalogProfiles, pickUtilization: midpoint, energy }));
    registerSchedulerView(registry, () => view, { profiles: catalogProfiles });
    const text = await registry.metrics();
    const scrape = await measureAsync('exporter: full /metrics render', () => registry.metrics(), { minMs: 3000, warmup: 3 });
    const dcgm = measure('exporter: collectDcgm (pure)', () => collectDcgm({ topology, profiles: catalogProfiles, pickUtilization: midpoint, energy }), { minMs: 1500, warmup: 5 });
    const schedulerView = measure('exporter: collectSchedulerView (pure)', () => collectSchedulerView(view, { profiles: catalogProfiles }), { minMs: 1500, warmup: 5 });

    const node = topology.nodes['node-0']!;
    const pods = decisions
      .filter((d) => d.node === 'node-0')
      .map((d) => ({ uid: d.pod.uid, namespace: 'team', name: d.pod.name, containers: ['main'], annotations: { 'tessera.io/decision': encodeDecision(d) }, runningSinceMs: 0 }));
    const reconcile = measure(
      'fake operator: reconcileNode (8 GPUs, 32 pods)',
      () => reconcileNode({ base: node, node: { name: 'node-0', labels: {}, annotations: {} }, pods, nowMs: 1, profiles: catalogProfiles }),
      {
        minMs: 1500,
      },
    );

    const rendered = renderTopology(topology);
    const parse = measure(`fake operator: parseTopology (${NODES} node ConfigMaps)`, () => parseTopology(rendered.cluster, rendered.nodes), { minMs: 3000, warmup: 2 });
    return [
      { ...scrape, extra: { ...size, series: text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length, bytes: text.length } },
      { ...dcgm, extra: size },
      { ...schedulerView, extra: size },
      reconcile,
      { ...parse, extra: { nodes: NODES } },
    ];
  },
};
