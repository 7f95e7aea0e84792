import { describe, expect, it } from 'vitest';
import { workloadProfile } from '../../../src/scheduler/policies/workload.js';
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
    expect(workloadProfile(gpus, [])).toEqual({ typical: [], migDemand: { byMemoryMiB: [] } });
  });
});
