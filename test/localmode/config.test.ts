import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseUpArgs } from '../../src/cli/commands/up.js';
import { TesseraError } from '../../src/errors.js';
import { loadLocalTopology, localTopology, nodeObject, operatorTopology } from '../../src/localmode/topology.js';
import { fieldOf } from '../tessera-error.js';

const node = { name: 'n1', mode: 'mig', gpuProduct: 'NVIDIA-A100-SXM4-40GB', gpuCount: 2, gpuMemory: 40960 };
const doc = (nodes: unknown[]) => ({ apiVersion: 'tessera.io/v1', kind: 'LocalTopology', nodes });

describe('local topology', () => {
  it('loads the default topology: two A100-40GB MIG nodes, one H100 MIG node, one A100-80GB HAMi-core node', () => {
    const topology = loadLocalTopology('config/local-topology.yaml');
    expect(topology.nodes.map((n) => [n.mode, n.gpuProduct, n.gpuCount])).toEqual([
      ['mig', 'NVIDIA-A100-SXM4-40GB', 8],
      ['mig', 'NVIDIA-A100-SXM4-40GB', 8],
      ['mig', 'NVIDIA-H100-80GB-HBM3', 8],
      ['hami-core', 'NVIDIA-A100-SXM4-80GB', 4],
    ]);
  });

  it('names the bad field', () => {
    expect(fieldOf(() => localTopology(doc([{ ...node, mode: 'vgpu' }]), 'f'))).toBe('f.nodes.0.mode');
    expect(fieldOf(() => localTopology(doc([node, { ...node, cpu: 'lots' }]), 'f'))).toBe('f.nodes.1.cpu');
    expect(fieldOf(() => localTopology(doc([node, node]), 'f'))).toBe('f.nodes.1.name');
    expect(fieldOf(() => localTopology(doc([{ ...node, extra: 1 }]), 'f'))).toBe('f.nodes.0.extra');
    expect(fieldOf(() => localTopology({ ...doc([node]), kind: 'Topology' }, 'f'))).toBe('f.kind');
  });

  it('refuses MIG mode on a model that has no MIG, saying which field and what to use', () => {
    const rtx = { ...node, name: 'n2', gpuProduct: 'NVIDIA-GeForce-RTX-4090', gpuMemory: 24564 };
    expect(fieldOf(() => localTopology(doc([node, rtx]), 'f'))).toBe('f.nodes.1.mode');
    expect(() => localTopology(doc([rtx]), 'f')).toThrow(/is mig, but NVIDIA-GeForce-RTX-4090 (does not support MIG|is not a GPU model the MIG catalog knows); use mode: hami-core/);
    expect(localTopology(doc([{ ...rtx, mode: 'hami-core' }]), 'f').nodes[0]?.mode).toBe('hami-core');
  });

  it('answers any input with a topology or a TesseraError', () => {
    const nodeArb = fc.record(
      { name: fc.oneof(fc.constant('n'), fc.string()), mode: fc.constantFrom('mig', 'hami-core', 'x'), gpuProduct: fc.string(), gpuCount: fc.integer({ min: -1, max: 20 }), gpuMemory: fc.integer() },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.array(nodeArb).map(doc)), (value) => {
        try {
          const topology = localTopology(value, 'f');
          expect(topology.nodes.length).toBeGreaterThan(0);
        } catch (error) {
          expect(error).toBeInstanceOf(TesseraError);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('gives each node its GPUs with stable UUIDs, MIG nodes with dynamic MIG, and a Ready Node object', () => {
    const topology = localTopology(doc([node, { ...node, name: 'n2', mode: 'hami-core', gpuCount: 3 }]), 'f');
    const first = operatorTopology(topology);
    const again = operatorTopology(topology);
    expect(first.nodes.n1?.gpus.map((g) => g.id)).toEqual(again.nodes.n1?.gpus.map((g) => g.id));
    expect(first.nodes.n2?.gpus).toHaveLength(3);
    expect([first.nodes.n1?.dynamicMig, first.nodes.n2?.dynamicMig]).toEqual([true, false]);
    const object = nodeObject(topology.nodes[0]!, new Date(0));
    expect(object.status?.allocatable).toEqual({ cpu: '64', memory: '512Gi', pods: '110' });
    expect(object.status?.conditions?.[0]).toMatchObject({ type: 'Ready', status: 'True' });
  });
});

describe('tessera up flags', () => {
  it('has defaults that start the default topology with the demo', () => {
    const options = parseUpArgs([]);
    expect(options).toMatchObject({ apiPort: 6443, extenderPort: 8888, dashboardPort: 8080, exporterPort: 9400, demo: true, host: '127.0.0.1', logLevel: 'warn' });
    expect(options.topologyPath).toMatch(/config\/local-topology\.yaml$/);
    expect(options.statePath).toBeUndefined();
  });

  it('takes --no-demo, --state and ports', () => {
    expect(parseUpArgs(['--demo']).demo).toBe(true);
    expect(parseUpArgs(['--no-demo', '--state', 's.json', '--api-port', '0', '--policy', 'bestfit'])).toMatchObject({ demo: false, statePath: 's.json', apiPort: 0, policy: 'bestfit' });
  });

  it('names the bad flag', () => {
    expect(fieldOf(() => parseUpArgs(['--dashboard-port', '80a']))).toBe('--dashboard-port');
    expect(fieldOf(() => parseUpArgs(['--api-port', '70000']))).toBe('--api-port');
    expect(fieldOf(() => parseUpArgs(['--log-level', 'loud']))).toBe('--log-level');
    expect(() => parseUpArgs(['--frobnicate'])).toThrow(/Unknown option '--frobnicate'/);
  });
});
