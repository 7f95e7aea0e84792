import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseClusterFile } from '../../src/simulator/trace/cluster-file.js';
import { parseTraceFile } from '../../src/simulator/trace/trace-file.js';
import { MIG_FAMILIES, generateMigFamily, migCapacityBound, replayTrace } from '../../src/simulator/trace/index.js';
import { simulatorPolicy } from '../../src/simulator/policy.js';

const ONE_H100 = 'nodes:\n  - name: h\n    count: 1\n    mode: mig\n    gpu: { model: H100-SXM5-80GB, count: 1 }\n    cpuMilli: 64000\n    memoryMiB: 262144\n';

/** A trace of pods (MiB asked, arrival s, departure s). */
function trace(pods: readonly (readonly [number, number, number])[]): ReturnType<typeof parseTraceFile> {
  const lines = pods.flatMap(([mib, at, end], i) => [
    {
      at,
      line: JSON.stringify({
        at,
        pod: {
          metadata: { name: `p${i}`, namespace: 'sim', annotations: { 'nvidia.com/vgpu-mode': 'mig' } },
          spec: { containers: [{ name: 'main', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': String(mib) } } }] },
        },
      }),
    },
    { at: end, line: JSON.stringify({ at: end, delete: `sim/p${i}` }) },
  ]);
  lines.sort((a, b) => a.at - b.at);
  return parseTraceFile('t.jsonl', lines.map((l) => l.line).join('\n'));
}

describe('migCapacityBound', () => {
  const nodes = parseClusterFile('c.yaml', ONE_H100);

  it('counts pods larger than any instance, and the pods memory alone forces out', () => {
    // Three 40 GB pods at once on one 80 GB GPU: one must fail whatever the policy; a 100 GB pod never fits.
    const bound = migCapacityBound(
      nodes,
      trace([
        [40000, 1, 10],
        [40000, 2, 10],
        [40000, 3, 10],
        [100000, 4, 10],
      ]),
    );
    expect(bound).toEqual({ neverFits: 1, strictFailed: 2, pooledFailed: 2, repackFailed: 2 });
    // One after another, all fit.
    expect(
      migCapacityBound(
        nodes,
        trace([
          [40000, 1, 2],
          [40000, 3, 4],
          [40000, 5, 6],
        ]),
      ).strictFailed,
    ).toBe(0);
  });

  it('orders the references: never fits <= strict <= pooled, and no policy fails fewer than the strict bound', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 1000, max: 90000 }), fc.integer({ min: 0, max: 50 }), fc.integer({ min: 1, max: 30 })), { maxLength: 25 }), (pods) => {
        const events = trace(pods.map(([mib, at, life]) => [mib, at, at + life] as const));
        const bound = migCapacityBound(nodes, events);
        expect(bound.neverFits).toBeLessThanOrEqual(bound.strictFailed);
        expect(bound.strictFailed).toBeLessThanOrEqual(bound.pooledFailed);
        expect(bound.strictFailed).toBeLessThanOrEqual(replayTrace(nodes, events, simulatorPolicy('tessera'), { idleMigInstances: 'destroy' }).failed);
      }),
      { numRuns: 40 },
    );
  });

  it('bounds every policy on a family trace', () => {
    const family = MIG_FAMILIES.find((f) => f.name === 'large-a100-h100-lognormal-destroy');
    if (!family) throw new Error('family missing');
    const t = generateMigFamily(family, 0, 300);
    const bound = migCapacityBound(t.nodes, t.events);
    expect(bound.neverFits).toBeGreaterThan(0);
    for (const name of ['tessera', 'hami-v2.10-mig', 'zambianco'])
      expect(replayTrace(t.nodes, t.events, simulatorPolicy(name), { idleMigInstances: t.idle }).failed).toBeGreaterThanOrEqual(bound.strictFailed);
  });
});
