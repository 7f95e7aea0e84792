import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  TOPOLOGY_KEY,
  gpuHealth,
  migOperationsFail,
  parseNodeTopology,
  parseTopology,
  parseTopologyFile,
  renderManifests,
  renderNodeTopology,
  renderTopology,
  syntheticGpuUuid,
  type Topology,
} from '../../src/topology/topology.js';
import type { TesseraError } from '../../src/errors.js';
import { nodeTopology, topology } from './arbitraries.js';

const legacyText = readFileSync(new URL('../../config/topology-legacy.yaml', import.meta.url), 'utf8');

function parsed(result: ReturnType<typeof parseTopology>): Topology {
  if (!result.ok) throw result.error;
  return result.value;
}

function errorOf(result: { ok: boolean; error?: TesseraError }): TesseraError {
  if (result.ok || !result.error) throw new Error('expected the topology to be rejected');
  return result.error;
}

describe("the seeds' format", () => {
  const legacy = parsed(parseTopology({ [TOPOLOGY_KEY]: legacyText }));

  it('reads nodes, dynamic MIG, MIG devices and their usage', () => {
    const node = legacy.nodes['mig-node-1'];
    expect(node).toMatchObject({ gpuProduct: 'NVIDIA-A100-SXM4-40GB', gpuMemoryMiB: 40960, dynamicMig: true, migStrategy: 'mixed', driverVersion: '520.56.06' });
    const mig = node?.gpus[0]?.migDevices;
    expect(mig).toEqual([
      {
        id: 'MIG-28810d46-0180-5139-a975-020bdc7f9cb1',
        profile: '1g.5gb',
        position: 0,
        gpuInstanceId: 13,
        status: {
          allocatedBy: { namespace: 'team-a', pod: 'job-0-0-0', container: 'job-0' },
          usage: { 'e60f84df-bbb4-444d-b25f-77be1d67a068': { utilization: { min: 80, max: 100 }, fbUsedMiB: 1144, isInferencePod: false, allocatedBy: null } },
        },
      },
      { id: null, profile: '3g.20gb', position: 4, gpuInstanceId: null, status: { allocatedBy: null, usage: {} } },
    ]);
  });

  it('fills GPUs the count names but the list omits with stable UUIDs', () => {
    const gpus = legacy.nodes['mig-node-1']?.gpus ?? [];
    expect(gpus).toHaveLength(2);
    expect(gpus[1]?.id).toBe(syntheticGpuUuid('mig-node-1', 1));
    expect(parsed(parseTopology({ [TOPOLOGY_KEY]: legacyText })).nodes['mig-node-1']?.gpus[1]?.id).toBe(gpus[1]?.id);
  });

  it("reads seed 001's per-GPU metrics shape as one usage entry", () => {
    const gpu = legacy.nodes['share-node-1']?.gpus[0];
    expect(legacy.nodes['share-node-1']?.migStrategy).toBe('none');
    expect(gpu?.status).toEqual({
      allocatedBy: { namespace: 'team-b', pod: 'trainer', container: 'main' },
      usage: { 'team-b/trainer': { utilization: { min: 100, max: 100 }, fbUsedMiB: 20000, isInferencePod: false, allocatedBy: { namespace: 'team-b', pod: 'trainer', container: 'main' } } },
    });
  });

  it('converts to the newer format and back without loss', () => {
    const { cluster, nodes } = renderTopology(legacy);
    expect(cluster[TOPOLOGY_KEY]).toContain('migStrategy: mixed');
    expect(parsed(parseTopology(cluster, nodes))).toEqual(legacy);
  });
});

describe('the example files in config/', () => {
  it('config/topology.yaml (newer format, ConfigMap manifests) loads: pools, nodes, MIG devices, health', () => {
    const topology = parsed(parseTopologyFile(readFileSync(new URL('../../config/topology.yaml', import.meta.url), 'utf8'), 'config/topology.yaml'));
    expect(Object.keys(topology.nodePools)).toEqual(['a100-mig', 'a100-shared']);
    expect(topology.nodes['gpu-mig-1']?.gpus[0]?.migDevices.map((m) => m.profile)).toEqual(['3g.20gb', '2g.10gb']);
    expect(topology.nodes['gpu-shared-1']?.gpus[3]?.health).toBe('Unhealthy');
  });

  it("config/topology-legacy.yaml (the seeds' format) loads as a bare file too", () => {
    expect(parsed(parseTopologyFile(legacyText))).toEqual(parsed(parseTopology({ [TOPOLOGY_KEY]: legacyText })));
  });
});

describe('the newer format', () => {
  it('round-trips any topology through its ConfigMaps', () => {
    fc.assert(
      fc.property(topology, (t) => {
        const { cluster, nodes } = renderTopology(t);
        expect(parsed(parseTopology(cluster, nodes))).toEqual(t);
      }),
      { numRuns: 100 },
    );
  });

  it('round-trips through a manifest file (what kubectl applies)', () => {
    fc.assert(
      fc.property(topology, (t) => {
        expect(parsed(parseTopologyFile(renderManifests(t, 'gpu-operator')))).toEqual(t);
      }),
      { numRuns: 40 },
    );
  });

  it('reads one node ConfigMap alone, as the fake device-plugin backend does', () => {
    fc.assert(
      fc.property(nodeTopology, (node) => {
        const result = parseNodeTopology('n1', renderNodeTopology(node), 'none');
        expect(result).toEqual({ ok: true, value: node });
      }),
      { numRuns: 100 },
    );
  });

  it('takes the node migStrategy from the cluster when the node has none', () => {
    const result = parseTopology({ [TOPOLOGY_KEY]: 'migStrategy: single\n' }, { n1: { [TOPOLOGY_KEY]: 'gpuProduct: Tesla-T4\ngpuMemory: 15360\n' } });
    expect(parsed(result).nodes.n1?.migStrategy).toBe('single');
  });

  it('derives effective health and MIG failure flags from node and GPU', () => {
    const node = parsed(
      parseTopology(
        { [TOPOLOGY_KEY]: 'migStrategy: mixed\n' },
        { n1: { [TOPOLOGY_KEY]: 'gpuProduct: X\ngpuMemory: 100\nfailMigOperations: true\ngpus: [{id: GPU-a}, {id: GPU-b, health: Unhealthy}]\n' } },
      ),
    ).nodes.n1;
    if (!node) throw new Error('node missing');
    expect(node.gpus.map((g) => gpuHealth(node, g))).toEqual(['Healthy', 'Unhealthy']);
    expect(node.gpus.map((g) => migOperationsFail(node, g))).toEqual([true, true]);
    expect(gpuHealth({ ...node, health: 'Unhealthy' }, node.gpus[0]!)).toBe('Unhealthy');
  });
});

describe('bad topologies', () => {
  const cases: Array<[string, Record<string, string>, Record<string, Record<string, string>>, string]> = [
    ['negative memory', { [TOPOLOGY_KEY]: 'nodes: {a: {gpu-count: 1, gpu-memory: -1, gpu-product: X}}' }, {}, 'topology.topology.yml.nodes.a.gpu-memory'],
    ['missing product', { [TOPOLOGY_KEY]: 'nodes: {a: {gpu-count: 1, gpu-memory: 10}}' }, {}, 'topology.topology.yml.nodes.a.gpu-product'],
    ['too many GPUs listed', { [TOPOLOGY_KEY]: 'nodes: {a: {gpu-count: 0, gpu-memory: 10, gpu-product: X, gpus: [{id: GPU-1}]}}' }, {}, 'topology.topology.yml.nodes.a.gpus'],
    ['unknown strategy', { [TOPOLOGY_KEY]: 'migStrategy: half' }, {}, 'topology.topology.yml.migStrategy'],
    ['unknown field', { [TOPOLOGY_KEY]: 'nodePools: {p: {gpuProduct: X, gpuCount: 1, gpuMemory: 1, colour: red}}' }, {}, 'topology.topology.yml.nodePools.p.colour'],
    ['missing key', {}, {}, 'topology.topology.yml'],
    ['a __proto__ pool', { [TOPOLOGY_KEY]: 'nodePools: {__proto__: {gpuProduct: X, gpuCount: 1, gpuMemory: 1}}' }, {}, 'topology.topology.yml.nodePools'],
    [
      'a __proto__ usage key',
      { [TOPOLOGY_KEY]: '{}' },
      { n: { [TOPOLOGY_KEY]: 'gpuProduct: X\ngpuMemory: 10\ngpus: [{id: GPU-1, status: {podGpuUsageStatus: {__proto__: {utilization: {min: 1, max: 2}, fbUsed: 1}}}}]' } },
      'topology-n.topology.yml.gpus.0.status.podGpuUsageStatus',
    ],
    ['not YAML', { [TOPOLOGY_KEY]: 'nodes: [' }, {}, 'topology.topology.yml'],
    ['repeated GPU', { [TOPOLOGY_KEY]: '{}' }, { n: { [TOPOLOGY_KEY]: 'gpuProduct: X\ngpuMemory: 10\ngpus: [{id: GPU-1}, {id: GPU-1}]' } }, 'topology-n.topology.yml.gpus.1.id'],
    [
      'MIG without a strategy',
      { [TOPOLOGY_KEY]: '{}' },
      { n: { [TOPOLOGY_KEY]: 'gpuProduct: X\ngpuMemory: 10\ngpus: [{id: GPU-1, migDevices: [{name: 1g.5gb}]}]' } },
      'topology-n.topology.yml.gpus.0.migDevices',
    ],
    [
      'memory over the GPU',
      { [TOPOLOGY_KEY]: '{}' },
      { n: { [TOPOLOGY_KEY]: 'gpuProduct: X\ngpuMemory: 10\ngpus: [{id: GPU-1, status: {podGpuUsageStatus: {u: {utilization: {min: 1, max: 2}, fbUsed: 11}}}}]' } },
      'topology-n.topology.yml.gpus.0.status',
    ],
    [
      'inverted utilization',
      { [TOPOLOGY_KEY]: '{}' },
      { n: { [TOPOLOGY_KEY]: 'gpuProduct: X\ngpuMemory: 10\ngpus: [{id: GPU-1, status: {podGpuUsageStatus: {u: {utilization: {min: 9, max: 2}, fbUsed: 1}}}}]' } },
      'topology-n.topology.yml.gpus.0.status.podGpuUsageStatus.u.utilization',
    ],
  ];
  it.each(cases)('%s is rejected naming the field', (_name, cluster, nodes, field) => {
    const error = errorOf(parseTopology(cluster, nodes));
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.field).toBe(field);
  });

  it('never throws on arbitrary text, and every rejection names a field', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), fc.string({ maxLength: 200 }), (cluster, node) => {
        for (const result of [parseTopology({ [TOPOLOGY_KEY]: cluster }), parseTopology({ [TOPOLOGY_KEY]: '{}' }, { n: { [TOPOLOGY_KEY]: node } }), parseTopologyFile(cluster)]) {
          if (!result.ok) expect(result.error.field).toBeTruthy();
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary structured input mutated from a valid topology', () => {
    const mutation = fc.anything({ maxDepth: 2, withNullPrototype: false });
    fc.assert(
      fc.property(topology, fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 3 }), (t, edits) => {
        const { cluster, nodes } = renderTopology(t);
        const docs = [cluster, ...Object.values(nodes)];
        for (const [at, value] of edits) {
          const target = docs[at % docs.length]!;
          const lines = target[TOPOLOGY_KEY]!.split('\n');
          const line = at % Math.max(1, lines.length);
          const indent = /^\s*/.exec(lines[line] ?? '')?.[0] ?? '';
          const key = /^\s*-?\s*([A-Za-z]+):/.exec(lines[line] ?? '')?.[1] ?? 'extra';
          lines[line] = `${indent}${key}: ${JSON.stringify(value) ?? 'null'}`;
          target[TOPOLOGY_KEY] = lines.join('\n');
        }
        const result = parseTopology(cluster, nodes);
        if (!result.ok) expect(result.error.field).toMatch(/^topology(-[a-z0-9-]+)?\.topology\.yml/);
      }),
      { numRuns: 120 },
    );
  });
});
