import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AllocationRecorder, roundHalfEven } from '../../src/simulator/metric.js';
import type { OpenbNode, OpenbPod } from '../../src/simulator/openb/csv.js';
import { inflate, prepareOpenbRun, totalMilli } from '../../src/simulator/openb/protocol.js';
import { Rng } from '../../src/simulator/rng.js';

const pod = (name: string, gpuMilli: number, gpus = gpuMilli > 0 ? 1 : 0): OpenbPod => ({ name, cpuMilli: 1000, memoryMib: 1024, gpus, gpuMilli, gpuSpec: [] });
const node = (name: string, gpus: number): OpenbNode => ({ name, cpuMilli: 64000, memoryMib: 262144, gpus, model: 'T4' });

describe('Rng', () => {
  it('is a pure function of its seed', () => {
    fc.assert(
      fc.property(fc.nat(), (seed) => {
        const a = new Rng(seed);
        const b = new Rng(seed);
        return Array.from({ length: 20 }, () => a.uint32()).join() === Array.from({ length: 20 }, () => b.uint32()).join();
      }),
      { numRuns: 100 },
    );
  });

  it('shuffle and perm return permutations, intn stays in range', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 200 }), (seed, n) => {
        const rng = new Rng(seed);
        const perm = rng.perm(n);
        expect([...perm].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        const x = rng.intn(n);
        return x >= 0 && x < n;
      }),
      { numRuns: 200 },
    );
  });

  it('intn is roughly uniform', () => {
    const rng = new Rng(7);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 50_000; i++) counts[rng.intn(5)]!++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(400);
  });
});

describe('openb protocol', () => {
  const nodes = [node('b', 2), node('a', 1), node('c', 1)];
  const pods = [pod('p3', 500), pod('p1', 1000), pod('p2', 0), pod('p4', 1000, 2)];

  it('is deterministic per seed and differs across seeds', () => {
    const names = (seed: number): string =>
      prepareOpenbRun(nodes, pods, seed)
        .pods.map((p) => p.name)
        .join();
    expect(names(3)).toBe(names(3));
    const distinct = new Set(Array.from({ length: 10 }, (_, s) => names(s)));
    expect(distinct.size).toBeGreaterThan(1);
  });

  it('keeps every original once, in front, then appends clones; sorts nodes by name and ranks them by a permutation', () => {
    fc.assert(
      fc.property(fc.nat(), fc.double({ min: 0.5, max: 3, noNaN: true }), (seed, load) => {
        const run = prepareOpenbRun(nodes, pods, seed, load);
        expect(
          run.pods
            .slice(0, pods.length)
            .map((p) => p.name)
            .sort(),
        ).toEqual(['p1', 'p2', 'p3', 'p4']);
        expect(run.pods.slice(pods.length).every((p) => p.name.includes('-clone-'))).toBe(true);
        expect(run.nodes.map((n) => n.name)).toEqual(['a', 'b', 'c']);
        expect([...run.nodeRank].sort()).toEqual([0, 1, 2]);
        expect(run.originals.map((p) => p.name)).toEqual(['p1', 'p2', 'p3', 'p4']);
      }),
      { numRuns: 100 },
    );
  });

  it('inflates until the next sample per-GPU milli would pass the target, adding milli x GPUs', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 0, max: 20_000 }), (seed, target) => {
        const originals = [pod('a', 300), pod('b', 1000, 4), pod('c', 0)];
        const start = 1000;
        const clones = inflate(originals, start, target, new Rng(seed));
        const total = start + clones.reduce((s, p) => s + totalMilli(p), 0);
        // Each accepted clone passed the per-GPU check: total before it + its milli <= target.
        let running = start;
        for (const c of clones) {
          expect(running + c.gpuMilli).toBeLessThanOrEqual(target);
          running += totalMilli(c);
        }
        // Overshoot is bounded by the largest multi-GPU extra: 4 x 1000 - 1000.
        return total <= Math.max(start, target) + 3000;
      }),
      { numRuns: 200 },
    );
  });

  it('never inflates from a trace without GPU pods', () => {
    expect(inflate([pod('c', 0)], 0, 10_000, new Rng(1))).toEqual([]);
  });
});

describe('allocation-ratio metric (fgd.md §1)', () => {
  it('rounds half to even like Python', () => {
    expect(roundHalfEven(0.5)).toBe(0);
    expect(roundHalfEven(1.5)).toBe(2);
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(129.5)).toBe(130);
    expect(roundHalfEven(130.5)).toBe(130);
    expect(roundHalfEven(95.125, 2)).toBe(95.12);
    expect(roundHalfEven(95.135, 2)).toBe(95.14);
  });

  it('averages the rounded allocated % over events whose arrived % rounds to the column', () => {
    // 10 GPUs = 10,000 milli. Arrived % = A / 10 GPUs / 10.
    const r = new AllocationRecorder(10_000);
    r.record(9_000, 12_940); // arrived 129.4 -> 129: not in column 130
    r.record(9_100, 12_950); // 129.5 -> 130 (half to even): allocated 91.00
    r.record(9_150, 13_000); // 130.0 -> 130: allocated 91.50
    r.record(9_200, 13_050); // 130.5 -> 130 (half to even): allocated 92.00
    r.record(9_300, 13_150); // 131.5 -> 132
    expect(r.column(130)).toBeCloseTo((91 + 91.5 + 92) / 3, 10);
    // No event rounds to 131: fall back to 130..132 -> (91 + 91.5 + 92 + 93) / 4.
    expect(r.column(131)).toBeCloseTo((91 + 91.5 + 92 + 93) / 4, 10);
    expect(r.column(200)).toBeNaN();
  });
});
