import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseClusterFile } from '../../src/simulator/trace/cluster-file.js';
import { simulatorPolicy } from '../../src/simulator/policy.js';
import { replayTrace } from '../../src/simulator/trace/replay.js';
import { parseTraceFile } from '../../src/simulator/trace/trace-file.js';
import { fieldOf } from '../tessera-error.js';

const CLUSTER = `nodes:
  - name: a100
    count: 2
    mode: mig
    gpu: { model: A100-SXM4-40GB, count: 2 }
  - name: l4
    mode: hami-core
    gpu: { model: L4, count: 1 }
`;

const pod = (name: string, memoryMiB: number): string =>
  JSON.stringify({
    metadata: { name, namespace: 'ns', annotations: { 'nvidia.com/vgpu-mode': 'mig' } },
    spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': String(memoryMiB) } } }] },
  });

describe('cluster file', () => {
  it('expands node groups into node specs with catalog models', () => {
    const nodes = parseClusterFile('c.yaml', CLUSTER);
    expect(nodes.map((n) => `${n.name}:${n.mode}:${n.gpus.length}:${n.gpus[0]?.model}`)).toEqual(['a100-0:mig:2:A100-SXM4-40GB', 'a100-1:mig:2:A100-SXM4-40GB', 'l4:hami-core:1:L4']);
    expect(nodes[0]?.gpus[0]?.migInstances).toEqual([]);
  });

  it.each([
    [CLUSTER.replace('A100-SXM4-40GB', 'Z9000'), 'c.yaml:5: nodes.0.gpu.model'],
    [CLUSTER.replace('mode: hami-core', 'mode: both'), 'c.yaml:7: nodes.1.mode'],
    [CLUSTER.replace('model: L4', 'model: L4').replace('mode: hami-core', 'mode: mig'), 'c.yaml:8: nodes.1.gpu.model'],
    [CLUSTER.replace('count: 2\n    mode', 'count: 0\n    mode'), 'c.yaml:3: nodes.0.count'],
    ['nodes: [', 'c.yaml:1'],
  ])('names file, line and field (%#)', (text, field) => {
    expect(fieldOf(() => parseClusterFile('c.yaml', text))).toBe(field);
  });
});

describe('trace file', () => {
  it('orders events by time, stably', () => {
    const events = parseTraceFile('t.jsonl', [`{"at": 5, "pod": ${pod('b', 4096)}}`, `{"at": 1, "pod": ${pod('a', 4096)}}`, '{"at": 5, "delete": "ns/a"}'].join('\n'));
    expect(events.map((e) => `${e.kind}:${e.key}`)).toEqual(['pod:ns/a', 'pod:ns/b', 'delete:ns/a']);
  });

  it.each([
    ['{"at": 1, "pod": {', 't.jsonl:1: (line)'],
    [`{"pod": ${pod('a', 1)}}`, 't.jsonl:1: at'],
    ['{"at": 1}', 't.jsonl:1: (event)'],
    ['{"at": 1, "delete": "no-namespace"}', 't.jsonl:1: delete'],
    [`\n{"at": 1, "pod": ${pod('a', 4096).replace('"4096"', '"lots"')}}`, 't.jsonl:2: pod.spec.containers[0].resources.limits.nvidia.com/gpumem'],
  ])('names file, line and field (%#)', (text, field) => {
    expect(fieldOf(() => parseTraceFile('t.jsonl', text))).toBe(field);
  });
});

describe('MIG fixture replay', () => {
  const dir = path.resolve(import.meta.dirname, '../../bench/fixtures/mig');
  const nodes = parseClusterFile('cluster.yaml', readFileSync(path.join(dir, 'cluster.yaml'), 'utf8'));
  const events = parseTraceFile('trace.jsonl', readFileSync(path.join(dir, 'trace.jsonl'), 'utf8'));
  const run = (name: string) => replayTrace(nodes, events, simulatorPolicy(name));

  it('tessera places more pods than HAMi v2.9 and v2.10 with fewer reconfigurations than v2.10, and every departure frees its capacity', () => {
    const tessera = run('tessera');
    const v210 = run('hami-v2.10-mig');
    const v29 = run('hami-v2.9-mig');
    expect(tessera.placed).toBeGreaterThan(v29.placed);
    expect(tessera.placed).toBeGreaterThan(v210.placed);
    // v2.9 changes fewer layouts than tessera (38 against 148 on the fixture): it keeps a GPU's geometry while
    // anything runs there and refuses what that geometry cannot hold (it places 287 fewer pods).
    expect(tessera.migReconfigurations).toBeLessThan(v210.migReconfigurations);
    for (const outcome of [tessera, v210, v29]) {
      expect(outcome.placed + outcome.failed).toBe(outcome.decisions);
      // Every pod of the fixture departs: nothing may still hold a GPU at the end.
      expect(outcome.layouts.every((g) => (g.instances ?? []).every((i) => i.pod === null) && (g.pods ?? []).length === 0)).toBe(true);
    }
  }, 20_000);
});
