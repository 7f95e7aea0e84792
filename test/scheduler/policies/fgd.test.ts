import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fgdPlacement, fgdScoreOf } from '../../../src/scheduler/policies/fgd.js';
import { nodeFragmentation, typicalShapes, type ShareNodeView, type TypicalShape } from '../../../src/scheduler/policies/frag.js';

const view = (cpuLeft: number, gpuLeft: number[], model = 'T4'): ShareNodeView => ({ model, cpuLeft, gpuLeft, gpuTasks: gpuLeft.map(() => 0) });

// Two typical requests, half each: A = (1 core, 500 milli x 1), B = (2 cores, 1000 milli x 1).
const A: TypicalShape = { cpu: 1000, milli: 500, gpus: 1, models: [], freq: 0.5 };
const B: TypicalShape = { cpu: 2000, milli: 1000, gpus: 1, models: [], freq: 0.5 };

describe('FGD by hand', () => {
  it('scores a shared request on each GPU and keeps the best integer score', () => {
    const node = view(8000, [1000, 600]);
    // F0: A fits (GPUs with >= 500: both), nothing below 500 -> 0. B fits on GPU 0; GPU 1 (600 < 1000) is
    // fragment -> 600. F0 = 0.5 x 0 + 0.5 x 600 = 300.
    expect(nodeFragmentation(node, [A, B])).toBe(300);
    // Pod (1 core, 500 milli):
    // on GPU 0 -> [500, 600]: A fits, 0; B has no 1000 GPU -> all 1100. F' = 550, Δ = -250,
    //   int(sigmoid(-0.25) x 100) = int(43.78) = 43.
    expect(fgdScoreOf(300, 550)).toBe(43);
    // on GPU 1 -> [1000, 100]: A fits, 100 below 500 -> 100; B fits, 100 below -> 100. F' = 100, Δ = 200,
    //   int(sigmoid(0.2) x 100) = int(54.98) = 54.
    expect(fgdScoreOf(300, 100)).toBe(54);
    expect(fgdPlacement(node, { cpu: 1000, milli: 500, gpus: 1, models: [] }, [A, B])).toEqual({ score: 54, gpus: [1] });
  });

  it('counts everything as fragment for a typical request the node cannot serve (model, CPU, GPUs) and for CPU-only ones', () => {
    const cpuOnly: TypicalShape = { cpu: 4000, milli: 0, gpus: 0, models: [], freq: 0.5 };
    const v100: TypicalShape = { cpu: 1000, milli: 500, gpus: 1, models: ['V100M32'], freq: 0.5 };
    // All 1600 left count for both: 0.5 x 1600 + 0.5 x 1600.
    expect(nodeFragmentation(view(8000, [1000, 600]), [cpuOnly, v100])).toBe(1600);
    // CPU short of B's 2 cores: B counts all 1600; A still fits -> 0.
    expect(nodeFragmentation(view(1500, [1000, 600]), [A, B])).toBe(800);
  });

  it('places whole and multi-GPU requests on the lowest-index free GPUs', () => {
    const placement = fgdPlacement(view(8000, [600, 1000, 1000, 1000]), { cpu: 1000, milli: 1000, gpus: 2, models: [] }, [A, B]);
    expect(placement?.gpus).toEqual([1, 2]);
  });

  it('picks the first GPU that reaches the best score', () => {
    const placement = fgdPlacement(view(8000, [1000, 1000, 1000]), { cpu: 1000, milli: 500, gpus: 1, models: [] }, [A, B]);
    expect(placement?.gpus).toEqual([0]);
  });

  it('scores stay on 0..100 and a fragment-neutral move scores 50', () => {
    expect(fgdScoreOf(1000, 1000)).toBe(50);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 64_000 }), fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 8 }), (cpu, gpus) => {
        const p = fgdPlacement(view(cpu + 1000, gpus), { cpu: 1000, milli: 300, gpus: 1, models: [] }, [A, B]);
        return p === null ? gpus.every((g) => g < 300) : p.score >= 0 && p.score <= 100 && (gpus[p.gpus[0] ?? -1] ?? 0) >= 300;
      }),
      { numRuns: 200 },
    );
  });
});

describe('typical shapes', () => {
  it('takes the most frequent shapes until they cover 95% of pods and renormalises', () => {
    const shape = (cpu: number, milli: number) => ({ cpu, milli, gpus: milli > 0 ? 1 : 0, models: [] });
    // 60 x a, 30 x b, 6 x c, 4 x d: a+b = 90% < 95%, a+b+c = 96% -> {a, b, c}, freq over 96.
    const pods = [
      ...Array.from({ length: 60 }, () => shape(1000, 500)),
      ...Array.from({ length: 30 }, () => shape(2000, 1000)),
      ...Array.from({ length: 6 }, () => shape(4000, 0)),
      ...Array.from({ length: 4 }, () => shape(500, 250)),
    ];
    const typical = typicalShapes(pods);
    expect(typical.map((t) => [t.cpu, t.freq])).toEqual([
      [1000, 60 / 96],
      [2000, 30 / 96],
      [4000, 6 / 96],
    ]);
  });

  it('breaks count ties by the shape tuple, descending', () => {
    const typical = typicalShapes(
      [
        { cpu: 1000, milli: 500, gpus: 1, models: [] },
        { cpu: 3000, milli: 500, gpus: 1, models: [] },
      ],
      1,
    );
    expect(typical.map((t) => t.cpu)).toEqual([3000, 1000]);
  });
});
