import { describe, expect, it } from 'vitest';
import { KEPT_HOMES_PER_POD, ProfileLearner, SCARCE_HOMES_SHARE, scarceHomes, workloadProfile } from '../../../src/scheduler/policies/workload.js';
import { ClusterState } from '../../../src/scheduler/core/index.js';
import { openbNodeSpec, openbRequest } from '../../../src/simulator/openb/replay.js';
import { pod } from '../core/builders.js';

const GPU = 'nvidia.com/gpu';
const MEM = 'nvidia.com/gpumem';
const PCT = 'nvidia.com/gpumem-percentage';
const CORES = 'nvidia.com/gpucores';

describe('workloadProfile', () => {
  const gpus = [
    { memoryMiB: 20_000, coreUnits: 100 },
    { memoryMiB: 20_000, coreUnits: 100 },
    { memoryMiB: 80_000, coreUnits: 100 },
  ];

  it('measures shares against the most common GPU, by the larger of memory and cores', () => {
    const requests = [
      pod('a')
        .container({ [GPU]: 1, [MEM]: 5000, [CORES]: 10 }, { cpu: '2' })
        .request(),
      pod('b')
        .container({ [GPU]: 1, [MEM]: 5000, [CORES]: 10 }, { cpu: '2' })
        .request(),
      pod('c')
        .container({ [GPU]: 2, [PCT]: 50, [CORES]: 80 }, { cpu: '1' })
        .request(),
      pod('cpu-only').container({}, { cpu: '1' }).request(),
    ];
    const { typical, migDemand } = workloadProfile(gpus, requests);
    // 5,000 of 20,000 MiB is 250 milli (10 cores would be 100); 50% with 80 cores is 800.
    expect(typical).toEqual([
      { cpu: 2000, milli: 250, gpus: 1, models: [], freq: 2 / 3 },
      { cpu: 1000, milli: 800, gpus: 2, models: [], freq: 1 / 3 },
    ]);
    // Absolute memories only, per vGPU.
    expect(migDemand).toEqual({ byMemoryMiB: [{ memoryMiB: 5000, weight: 2 }] });
  });

  it('is empty without GPUs or GPU requests', () => {
    expect(
      workloadProfile(
        [],
        [
          pod('a')
            .container({ [GPU]: 1, [MEM]: 5000 })
            .request(),
        ],
      ).typical,
    ).toEqual([]);
    const empty = workloadProfile(gpus, []);
    expect([empty.typical, empty.migDemand, empty.scarceHomes.keptFor.size]).toEqual([[], { byMemoryMiB: [] }, 0]);
  });
});

describe('scarceHomes', () => {
  // Eighteen 8-GPU nodes of 96 cores, two of 128, and ten 2-GPU nodes of 64 cores (openb's units).
  const cluster = (): ClusterState =>
    new ClusterState([
      ...Array.from({ length: 18 }, (_, i) => openbNodeSpec({ name: `g2-${i}`, cpuMilli: 96_000, memoryMib: 512_000, gpus: 8, model: 'G2' })),
      ...Array.from({ length: 2 }, (_, i) => openbNodeSpec({ name: `g3-${i}`, cpuMilli: 128_000, memoryMib: 512_000, gpus: 8, model: 'G3' })),
      ...Array.from({ length: 10 }, (_, i) => openbNodeSpec({ name: `t4-${i}`, cpuMilli: 64_000, memoryMib: 256_000, gpus: 2, model: 'T4' })),
    ]);
  const ask = (name: string, cpuMilli: number, gpus: number, gpuSpec: string[] = []) => openbRequest({ name, cpuMilli, memoryMib: 1024, gpus, gpuMilli: 1000, gpuSpec });

  it('keeps the nodes of a shape that fits fewer than a tenth of the GPU nodes, with its number of homes', () => {
    expect(SCARCE_HOMES_SHARE).toBe(0.1);
    // 120 cores and 8 GPUs fit the two 128-core nodes of 30; 88 cores and 8 GPUs fit twenty.
    const homes = scarceHomes(cluster().nodes(), [ask('whole-wide', 120_000, 8), ask('whole', 88_000, 8), ask('one', 8000, 1)]);
    expect([...homes.keptFor]).toEqual([
      ['g3-0', 2],
      ['g3-1', 2],
    ]);
  });

  it('keeps KEPT_HOMES_PER_POD homes per pod of the shape, those with the most GPU left', () => {
    expect(KEPT_HOMES_PER_POD).toBe(4);
    // Seven 128-core nodes of eighty: one pod of the wide shape keeps four of them, not the one half full.
    const state = new ClusterState([
      ...Array.from({ length: 7 }, (_, i) => openbNodeSpec({ name: `g3-${i}`, cpuMilli: 128_000, memoryMib: 512_000, gpus: 8, model: 'G3' })),
      ...Array.from({ length: 73 }, (_, i) => openbNodeSpec({ name: `g2-${i}`, cpuMilli: 96_000, memoryMib: 512_000, gpus: 8, model: 'G2' })),
    ]);
    const half = { pod: { uid: 'half', namespace: 'openb', name: 'half' }, node: 'g3-0', mode: 'hami-core' as const, cpuMilli: 0, memoryMiB: 0 };
    const devices = [0, 1, 2, 3].map((index) => ({ uuid: `g3-0-gpu-${index}`, index, memoryMiB: 1000, cores: 1000 }));
    expect(state.apply({ ...half, containers: [{ name: 'main', devices }] }).ok).toBe(true);
    const wide = ask('whole-wide', 120_000, 8);
    expect([...scarceHomes(state.nodes(), [wide]).keptFor.keys()]).toEqual(['g3-1', 'g3-2', 'g3-3', 'g3-4']);
    // Two pods of it keep all seven, the half-full one last.
    expect(scarceHomes(state.nodes(), [wide, wide]).keptFor.size).toBe(7);
  });

  it('counts a pod by its GPUs alone, and gives a pod that names GPU types no homes to be held back by', () => {
    const homes = scarceHomes(cluster().nodes(), []);
    expect(homes.keptFor.size).toBe(0);
    expect(homes.homesOf(ask('one', 8000, 1))).toBe(30);
    expect(homes.homesOf(ask('whole-wide', 120_000, 8))).toBe(20);
    expect(homes.homesOf(ask('cpu', 8000, 0))).toBe(30);
    expect(homes.homesOf(ask('named', 8000, 1, ['G3']))).toBe(0);
  });

  it('learns nothing from pods that name GPU types, and nothing when a shape fits no node', () => {
    const homes = scarceHomes(cluster().nodes(), [ask('named', 120_000, 8, ['G3']), ask('too-wide', 200_000, 8)]);
    expect(homes.keptFor.size).toBe(0);
  });

  it('makes the learner report a new profile when only the kept nodes change', () => {
    const nodes = cluster().nodes();
    const learner = new ProfileLearner(1000);
    const one = ask('one', 8000, 1);
    expect(learner.learn(0, [], [one], nodes)).not.toBeNull();
    const wide = ask('whole-wide', 120_000, 8);
    // No GPU sizes: no typical shapes, so only the kept nodes tell the two profiles apart.
    const next = learner.learn(1000, [], [one, wide], nodes);
    expect(next?.typical).toEqual([]);
    expect(next?.scarceHomes.keptFor.size).toBe(2);
    expect(learner.learn(2000, [], [one, wide], nodes)).toBeNull();
  });
});
