import { describe, expect, it } from 'vitest';
import { ClusterState, decide, schedule } from '../../../src/scheduler/core/index.js';
import { hamiPolicy, hamiRawScore } from '../../../src/scheduler/policies/hami.js';
import type { RunContext } from '../../../src/scheduler/policies/index.js';
import { node, pod } from '../core/builders.js';
import type { PodRequest } from '../../../src/request/index.js';

const GPU = 'nvidia.com/gpu';
const MEM = 'nvidia.com/gpumem';
const CORES = 'nvidia.com/gpucores';

function scored(state: ClusterState, request: PodRequest, nodePolicy: 'binpack' | 'spread'): { raw: number; score: number } {
  const context: RunContext = { nodePolicy, gpuPolicy: 'spread' };
  const top = schedule(state, request, hamiPolicy, { context }).ranked[0];
  const view = state.node('a');
  if (!top || !view) throw new Error('expected node a to fit');
  return { raw: hamiRawScore({ node: view, added: top.placement.added }), score: top.score };
}

describe('hami node score: 10 x (slots + cores + memory fractions), after placement', () => {
  // Node a: 2 GPUs of 40,000 MiB, 100 cores, split count 10 -> 20 slots, 200 cores, 80,000 MiB.
  const fresh = (): ClusterState => new ClusterState([node('a').gpus(2, 'A100', 40_000).spec()]);

  it.each<[string, Record<string, string | number>, number, number, number]>([
    // 1 vGPU, 8,000 MiB, 20 cores:  10 x (1/20 + 20/200 + 8,000/80,000) = 10 x (0.05 + 0.1 + 0.1) = 2.5
    //   binpack: 100 x 2.5 / 30 = 8.33;  spread: 100 - 8.33 = 91.67 (HAMi sorts on the float: no truncation)
    ['one small vGPU', { [GPU]: 1, [MEM]: 8000, [CORES]: 20 }, 2.5, 8.33, 91.67],
    // 2 exclusive vGPUs (cores 100, whole memory): 10 x (2/20 + 200/200 + 80,000/80,000) = 10 x 2.1 = 21
    //   binpack: 70;  spread: 30
    ['two whole GPUs', { [GPU]: 2 }, 21, 70, 30],
    // 1 vGPU, 50% memory (20,000 MiB), 0 cores: 10 x (0.05 + 0 + 0.25) = 3;  binpack 10, spread 90
    ['half the memory of one GPU', { [GPU]: 1, 'nvidia.com/gpumem-percentage': 50, [CORES]: 0 }, 3, 10, 90],
  ])('%s', (_label, limits, raw, binpack, spread) => {
    const request = pod().container(limits).request();
    expect(scored(fresh(), request, 'binpack').raw).toBeCloseTo(raw, 10);
    expect(scored(fresh(), request, 'binpack').score).toBeCloseTo(binpack, 2);
    expect(scored(fresh(), request, 'spread').score).toBeCloseTo(spread, 2);
  });

  it('counts what the node already holds', () => {
    const state = fresh();
    const held = decide(
      state,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 20_000, [CORES]: 50 })
        .request(),
      'a',
      hamiPolicy,
    );
    expect(held.ok && state.apply(held.value).ok).toBe(true);
    // Held: 1 slot, 50 cores, 20,000 MiB. Adding 1 vGPU of 8,000 MiB and 20 cores:
    //   10 x (2/20 + 70/200 + 28,000/80,000) = 10 x (0.1 + 0.35 + 0.35) = 8
    //   binpack: 100 x 8 / 30 = 26.67;  spread: 73.33
    const request = pod('p2')
      .container({ [GPU]: 1, [MEM]: 8000, [CORES]: 20 })
      .request();
    expect(scored(state, request, 'binpack')).toEqual({ raw: expect.closeTo(8, 10), score: expect.closeTo(26.67, 2) });
    expect(scored(state, request, 'spread').score).toBeCloseTo(73.33, 2);
  });
});
