import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { carveEmptySlices, findProfile, listGpuModels, planMig, resolveGpuModel, validateLayout, type DemandMix, type GpuModel, type MigInstance } from '../../src/geometry/index.js';

const MIG_MODELS = listGpuModels().filter((m) => m.mig);

function model(name: string): GpuModel {
  const resolved = resolveGpuModel(name);
  if (!resolved.ok) throw resolved.error;
  return resolved.value;
}

const count = (xs: readonly { profile: string }[], profile: string): number => xs.filter((x) => x.profile === profile).length;

/** A random legal layout of `gpu`: random requests served by the engine's best plan, some held, some freed. */
const layoutArb = (gpu: GpuModel): fc.Arbitrary<MigInstance[]> =>
  fc.array(fc.record({ memoryMiB: fc.integer({ min: 1, max: gpu.memoryMiB }), held: fc.boolean() }), { maxLength: 8 }).map((steps) => {
    let layout: MigInstance[] = [];
    for (const step of steps) {
      const [plan] = planMig(gpu, layout, { memoryMiB: step.memoryMiB });
      if (plan) layout = plan.layout.map((i) => (i.start === plan.target.start ? { ...i, inUse: step.held } : i));
    }
    return layout;
  });

const demandArb = (gpu: GpuModel): fc.Arbitrary<DemandMix> =>
  fc.array(fc.record({ memoryMiB: fc.integer({ min: 1, max: gpu.memoryMiB + 1000 }), weight: fc.integer({ min: 1, max: 50 }) }), { maxLength: 5 }).map((byMemoryMiB) => ({ byMemoryMiB }));

describe('carveEmptySlices', () => {
  it.each(MIG_MODELS.map((m) => [m.name, m] as const))('%s: only empty slices, a legal layout, nothing demanded left that fits', (_name, gpu) => {
    fc.assert(
      fc.property(layoutArb(gpu), demandArb(gpu), (layout, demand) => {
        const carved = carveEmptySlices(gpu, layout, demand);
        const after = [...layout, ...carved.map((c) => ({ ...c, inUse: false }))];
        // Legal together with what was there (no overlap, starts, max counts, +me), and nothing there touched.
        expect(validateLayout(gpu, after).ok).toBe(true);
        expect(carved.every((c) => !c.profile.endsWith('+me'))).toBe(true);
        // Carving is complete: no demanded size has room left for one more instance of its profile.
        for (const { memoryMiB } of demand.byMemoryMiB ?? []) {
          const creatable = planMig(gpu, after, { memoryMiB }, { limit: 100 }).filter((p) => p.kind === 'create');
          const smallest = Math.min(...(gpu.mig?.profiles ?? []).filter((p) => !p.mediaExtensions && p.memoryMiB >= memoryMiB).map((p) => p.memoryMiB));
          expect(
            creatable.filter((p) => (findProfile(gpu, p.target.profile)?.memoryMiB ?? 0) === smallest && count(after, p.target.profile) < (findProfile(gpu, p.target.profile)?.maxCount ?? 0)),
          ).toEqual([]);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('shares an empty GPU in proportion to the demand', () => {
    const h100 = model('H100-SXM5-80GB');
    // Small requests three times as often as 40 GB ones: one 3g.40gb, the other half in 1g.10gb.
    const carved = carveEmptySlices(h100, [], {
      byMemoryMiB: [
        { memoryMiB: 9000, weight: 3 },
        { memoryMiB: 38_000, weight: 1 },
      ],
    });
    expect([count(carved, '3g.40gb'), count(carved, '1g.10gb')]).toEqual([1, 4]);
    // Only small requests: the most small instances the GPU holds.
    expect(count(carveEmptySlices(h100, [], { byMemoryMiB: [{ memoryMiB: 9000, weight: 1 }] }), '1g.10gb')).toBe(7);
  });

  it('carves nothing for a demand that names nothing on the model, a whole GPU or an illegal layout', () => {
    const a100 = model('A100-SXM4-40GB');
    expect(carveEmptySlices(a100, [], { byMemoryMiB: [{ memoryMiB: 60_000, weight: 1 }] })).toEqual([]);
    expect(carveEmptySlices(model('T4'), [], { byMemoryMiB: [{ memoryMiB: 1000, weight: 1 }] })).toEqual([]);
    expect(carveEmptySlices(a100, [{ profile: '3g.20gb', start: 1, inUse: true }], { byMemoryMiB: [{ memoryMiB: 1000, weight: 1 }] })).toEqual([]);
  });
});
