/**
 * Geometry engine speed: planMig calls per second on a half-used H100 (target: 200,000/s on one core), with and
 * without a demand mix and under knownMigGeometries; plus the quality figure, requests served against HAMi v2.10.
 */
import { planMig, resolveGpuModel, type GpuModel, type MigInstance, type MigRequest, type PlanOptions } from '../src/geometry/index.js';
import { engineChooser, hamiV210Chooser, randomEvents, replay } from '../test/geometry/replay.js';
import { measure, type BenchResult, type BenchSuite } from './harness.js';

const PLANS_PER_SECOND_TARGET = 200_000;

function model(name: string): GpuModel {
  const resolved = resolveGpuModel(name);
  if (!resolved.ok) throw resolved.error;
  return resolved.value;
}

/** Four of eight memory slices held (3g@4 in use), one 1g in use, one free 1g. */
const HALF_USED_H100: MigInstance[] = [
  { profile: '3g.40gb', start: 4, inUse: true },
  { profile: '1g.10gb', start: 0, inUse: true },
  { profile: '1g.10gb', start: 1, inUse: false },
];

const REQUESTS: MigRequest[] = [{ memoryMiB: 5000 }, { memoryMiB: 15_000 }, { memoryMiB: 30_000 }, { memoryMiB: 9000, minComputeSlices: 2 }];

function planRate(name: string, gpu: GpuModel, options: PlanOptions): BenchResult {
  const result = measure(name, (i) => planMig(gpu, HALF_USED_H100, REQUESTS[i % REQUESTS.length] as MigRequest, options), { minMs: 1500, warmup: 5000 });
  return { ...result, extra: { targetOpsPerSec: PLANS_PER_SECOND_TARGET, meetsTarget: (result.opsPerSec ?? 0) >= PLANS_PER_SECOND_TARGET ? 'yes' : 'no' } };
}

function servedAgainstHami(name: string, destroyOnRelease: boolean): BenchResult {
  const gpu = model(name);
  let engine = 0;
  let hami = 0;
  for (let seed = 0; seed < 200; seed++) {
    const events = randomEvents(gpu, seed, 300);
    engine += replay(gpu, 4, events, engineChooser, destroyOnRelease).served;
    hami += replay(gpu, 4, events, hamiV210Chooser, destroyOnRelease).served;
  }
  return {
    name: `geometry: served vs HAMi v2.10, ${name}, released instances ${destroyOnRelease ? 'destroyed' : 'kept'}`,
    extra: { engine, hamiV210: hami, marginPct: ((engine / hami - 1) * 100).toFixed(2) },
  };
}

export const geometryBench: BenchSuite = {
  name: 'geometry',
  async run(): Promise<BenchResult[]> {
    const h100 = model('H100-SXM5-80GB');
    return [
      planRate('geometry: planMig, half-used H100', h100, {}),
      planRate('geometry: planMig, half-used H100, limit 1', h100, { limit: 1 }),
      planRate('geometry: planMig, half-used H100, demand mix', h100, { demand: { byMemoryMiB: [{ memoryMiB: 9000, weight: 4 }, { memoryMiB: 40_000, weight: 1 }] } }),
      planRate('geometry: planMig, half-used H100, knownMigGeometries', h100, {
        allowedGeometries: [
          [{ profile: '3g.40gb', count: 1 }, { profile: '1g.10gb', count: 4 }],
          [{ profile: '3g.40gb', count: 1 }, { profile: '2g.20gb', count: 2 }],
        ],
      }),
      ...['A100-SXM4-40GB', 'H100-SXM5-80GB', 'A30'].flatMap((name) => [servedAgainstHami(name, false), servedAgainstHami(name, true)]),
    ];
  },
};
