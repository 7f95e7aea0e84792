import { describe, expect, it } from 'vitest';
import { ClusterState, decide, schedule } from '../../../src/scheduler/core/index.js';
import { bestfitPolicy, packingPolicy, type Policy, type RunContext } from '../../../src/scheduler/policies/index.js';
import { node, pod } from '../core/builders.js';
import type { PodRequest } from '../../../src/request/index.js';

const GPU = 'nvidia.com/gpu';
const MEM = 'nvidia.com/gpumem';
const CORES = 'nvidia.com/gpucores';

function topScore(state: ClusterState, request: PodRequest, policy: Policy, nodePolicy: 'binpack' | 'spread'): number | undefined {
  const context: RunContext = { nodePolicy, gpuPolicy: 'spread' };
  return schedule(state, request, policy, { context }).ranked[0]?.score;
}

describe('packing: mean use of GPU memory, CPU and memory after placement', () => {
  // Node: 2 GPUs x 40,000 MiB, 16,000m CPU, 64,000 MiB memory.
  const fresh = (): ClusterState => new ClusterState([node('a').gpus(2, 'A100', 40_000).resources(16_000, 64_000).spec()]);

  it.each<[string, Record<string, string | number>, number, number]>([
    // GPU 8,000/80,000 = 0.1, CPU 4,000/16,000 = 0.25, memory 16,000/64,000 = 0.25: mean 0.2
    //   binpack trunc(100 x 0.2) = 20; spread trunc(100 x 0.8) = 80
    ['shared vGPU', { [GPU]: 1, [MEM]: 8000, cpu: '4', memory: '16000Mi' }, 20, 80],
    // GPU 80,000/80,000 = 1, CPU 0.5, memory 0.5: mean 2/3 -> binpack 66, spread trunc(33.33) = 33
    ['two whole GPUs', { [GPU]: 2, cpu: '8', memory: '32000Mi' }, 66, 33],
  ])('%s', (_label, limits, binpack, spread) => {
    const request = pod().container(limits).request();
    expect(topScore(fresh(), request, packingPolicy, 'binpack')).toBe(binpack);
    expect(topScore(fresh(), request, packingPolicy, 'spread')).toBe(spread);
  });

  it('leaves out terms with no capacity (a node without GPUs)', () => {
    const state = new ClusterState([node('cpu').resources(10_000, 10_000).spec()]);
    // CPU 5,000/10,000 = 0.5, memory 2,500/10,000 = 0.25: mean 0.375 -> 37
    expect(topScore(state, pod().container({ cpu: '5', memory: '2500Mi' }).request(), packingPolicy, 'binpack')).toBe(37);
  });
});

describe('bestfit: how full the chosen GPUs end up', () => {
  it('scores the memory used on the GPUs it takes, pod included', () => {
    const state = new ClusterState([node('a').gpus(2, 'A100', 40_000).spec()]);
    const held = decide(
      state,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 20_000, [CORES]: 10 })
        .request(),
      'a',
      bestfitPolicy,
    );
    expect(held.ok && state.apply(held.value).ok).toBe(true);
    // The tightest GPU is the one holding 20,000 MiB: (20,000 + 10,000) / 40,000 = 0.75 -> 75.
    const request = pod('p2')
      .container({ [GPU]: 1, [MEM]: 10_000, [CORES]: 10 })
      .request();
    expect(topScore(state, request, bestfitPolicy, 'binpack')).toBe(75);
  });

  it('scores CPU-only pods by the CPU they leave', () => {
    const state = new ClusterState([node('a').resources(8000, 8000).spec()]);
    // 2,000 / 8,000 = 0.25 -> 25
    expect(topScore(state, pod().container({ cpu: '2' }).request(), bestfitPolicy, 'binpack')).toBe(25);
  });
});

describe('schedule with a limit', () => {
  it('keeps exactly the head of the full ranking', () => {
    const specs = Array.from({ length: 12 }, (_, i) =>
      node(`n${i}`)
        .gpus(1 + (i % 3), 'A100', 40_000)
        .spec(),
    );
    const state = new ClusterState(specs);
    for (let i = 0; i < 8; i++) {
      const r = decide(
        state,
        pod(`p${i}`)
          .container({ [GPU]: 1, [MEM]: 5000 * (1 + (i % 4)), [CORES]: 10 })
          .request(),
        `n${i}`,
        packingPolicy,
      );
      expect(r.ok && state.apply(r.value).ok).toBe(true);
    }
    const request = pod('q')
      .container({ [GPU]: 1, [MEM]: 4000, [CORES]: 5 })
      .request();
    const full = schedule(state, request, packingPolicy).ranked.map((r) => [r.node, r.score]);
    for (const limit of [1, 3, 5]) {
      expect(schedule(state, request, packingPolicy, { limit }).ranked.map((r) => [r.node, r.score])).toEqual(full.slice(0, limit));
    }
    expect(schedule(state, request, packingPolicy, { explain: false, candidates: ['n0', 'gone'] }).failed).toEqual([]);
  });
});
