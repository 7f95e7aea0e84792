/**
 * Geometry engine speed: planMig calls per second on a half-used H100 (target: 200,000/s on one core), with and
 * without a demand mix and under knownMigGeometries; plus the quality figure, requests served against HAMi v2.10.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadDeviceConfig, migRestrictionFor } from '../src/config/device-config.js';
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

/** The same shape on an A100-40GB: 3g in use at 4, one 1g in use, one free 1g. */
const HALF_USED_A100: MigInstance[] = [
  { profile: '3g.20gb', start: 4, inUse: true },
  { profile: '1g.5gb', start: 0, inUse: true },
  { profile: '1g.5gb', start: 1, inUse: false },
];

const REQUESTS: MigRequest[] = [{ memoryMiB: 5000 }, { memoryMiB: 15_000 }, { memoryMiB: 30_000 }, { memoryMiB: 9000, minComputeSlices: 2 }];

function planRate(name: string, gpu: GpuModel, options: PlanOptions, instances: readonly MigInstance[] = HALF_USED_H100): BenchResult {
  const result = measure(name, (i) => planMig(gpu, instances, REQUESTS[i % REQUESTS.length] as MigRequest, options), { minMs: 1500, warmup: 5000 });
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

/** HAMi v2.10's shipped device config (../shared, see ../shared/README.md), as the extender loads it. */
const HAMI_V210_CONFIG = resolve(import.meta.dirname, '../../shared/data/hami/v2.10.0/device-config.yaml');

/** The planner options HAMi v2.10's migProfileAllowlist gives `gpu`, as the extender builds them; none without ../shared. */
function allowlistOptions(gpu: GpuModel): PlanOptions | undefined {
  let text: string;
  try {
    text = readFileSync(HAMI_V210_CONFIG, 'utf8');
  } catch {
    return undefined;
  }
  const config = loadDeviceConfig(text);
  if (!config.ok) throw config.error;
  return migRestrictionFor(config.value, gpu);
}

export const geometryBench: BenchSuite = {
  name: 'geometry',
  async run(): Promise<BenchResult[]> {
    const h100 = model('H100-SXM5-80GB');
    const a100 = model('A100-SXM4-40GB');
    return [
      planRate('geometry: planMig, half-used H100', h100, {}),
      planRate('geometry: planMig, half-used H100, limit 1', h100, { limit: 1 }),
      planRate('geometry: planMig, half-used H100, demand mix', h100, {
        demand: {
          byMemoryMiB: [
            { memoryMiB: 9000, weight: 4 },
            { memoryMiB: 40_000, weight: 1 },
          ],
        },
      }),
      planRate('geometry: planMig, half-used H100, knownMigGeometries', h100, {
        allowedGeometries: [
          [
            { profile: '3g.40gb', count: 1 },
            { profile: '1g.10gb', count: 4 },
          ],
          [
            { profile: '3g.40gb', count: 1 },
            { profile: '2g.20gb', count: 2 },
          ],
        ],
      }),
      planRate('geometry: planMig, half-used A100', a100, {}, HALF_USED_A100),
      ...(
        [
          [h100, HALF_USED_H100],
          [a100, HALF_USED_A100],
        ] as const
      ).flatMap(([gpu, instances]) => {
        const options = allowlistOptions(gpu);
        return options ? [planRate(`geometry: planMig, half-used ${gpu.name}, HAMi v2.10 migProfileAllowlist`, gpu, options, instances)] : [];
      }),
      ...['A100-SXM4-40GB', 'H100-SXM5-80GB', 'A30'].flatMap((name) => [servedAgainstHami(name, false), servedAgainstHami(name, true)]),
    ];
  },
};
