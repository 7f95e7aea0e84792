import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  applyOps,
  findProfile,
  geometryPlacements,
  hamiV210Plan,
  hamiV29Plan,
  hamiV29StockGeometries,
  migFragmentation,
  zambiancoPlans,
  listGpuModels,
  MAX_PLAN_SCORE,
  planMig,
  planOps,
  resolveGpuModel,
  validateLayout,
  type GpuModel,
  type MigGeometry,
  type MigInstance,
  type MigPlan,
} from '../../src/geometry/index.js';
import { engineChooser, hamiV210Chooser, randomEvents, replay } from './replay.js';

const MIG_MODELS = listGpuModels().filter((m) => m.mig);

function model(name: string): GpuModel {
  const resolved = resolveGpuModel(name);
  if (!resolved.ok) throw resolved.error;
  return resolved.value;
}

const key = (i: { profile: string; start: number }): string => `${i.profile}@${i.start}`;

/** Every invariant a plan must keep, checked against the layout it was planned on. */
function checkPlan(gpu: GpuModel, before: readonly MigInstance[], memoryMiB: number, plan: MigPlan): void {
  expect(validateLayout(gpu, plan.layout)).toEqual({ ok: true, value: undefined });
  expect(findProfile(gpu, plan.target.profile)?.memoryMiB ?? -1).toBeGreaterThanOrEqual(memoryMiB);
  expect(plan.destroy.every((i) => !i.inUse)).toBe(true);
  for (const held of before.filter((i) => i.inUse)) expect(plan.layout).toContainEqual(held);
  const target = plan.layout.filter((i) => key(i) === key(plan.target));
  expect(target).toHaveLength(1);
  expect(target[0]?.inUse).toBe(true);
  expect(before.some((i) => i.inUse && key(i) === key(plan.target))).toBe(false);
  // The layout is exactly: before - destroyed + created (the target marked in use).
  const destroyed = new Set(plan.destroy.map(key));
  const expected = [...before.filter((i) => !destroyed.has(key(i))).map(key), ...plan.create.map(key)].sort();
  expect(plan.layout.map(key).sort()).toEqual(expected);
  expect(plan.cost).toEqual({ destroyed: plan.destroy.length, created: plan.create.length });
  expect(plan.kind === 'reuse').toBe(plan.destroy.length === 0 && plan.create.length === 0);
  expect(plan.kind === 'reconfigure').toBe(plan.destroy.length > 0);
  expect(planOps(plan).map((op) => op.action)).toEqual([...plan.destroy.map(() => 'destroy'), ...plan.create.map(() => 'create')]);
  expect(plan.score).toBeGreaterThanOrEqual(0);
  expect(plan.score).toBeLessThanOrEqual(MAX_PLAN_SCORE);
  // applyOps leaves what the engine says the plan leaves (the target still free: taking it is the caller's).
  const applied = applyOps(gpu, before, planOps(plan));
  const shape = (i: MigInstance, free = false): string => `${key(i)}:${free ? false : i.inUse}`;
  expect(applied.ok && applied.value.map((i) => shape(i))).toEqual(plan.layout.map((i) => shape(i, key(i) === key(plan.target))));
}

type Step = { kind: 'arrive'; size: number; pick: number } | { kind: 'release'; which: number };
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('arrive' as const), size: fc.nat({ max: 200_000 }), pick: fc.nat({ max: 40 }) }),
  fc.record({ kind: fc.constant('release' as const), which: fc.nat({ max: 64 }) }),
);

/** Applies random requests (taking any of the ranked plans) and releases, checking every plan on the way. */
function runSteps(gpu: GpuModel, steps: readonly Step[], geometries?: readonly MigGeometry[]): void {
  let layout: MigInstance[] = [];
  let next = 0;
  for (const step of steps) {
    if (step.kind === 'release') {
      const held = layout.filter((i) => i.inUse);
      const victim = held[step.which % Math.max(1, held.length)];
      if (victim) layout = layout.map((i) => (i === victim ? { ...i, inUse: false } : i));
      continue;
    }
    const memoryMiB = step.size % (gpu.memoryMiB + 1);
    const plans = planMig(gpu, layout, { memoryMiB }, { limit: 50, ...(geometries ? { allowedGeometries: geometries } : {}) });
    for (let i = 1; i < plans.length; i++) expect((plans[i - 1]?.score ?? 0) >= (plans[i]?.score ?? 0)).toBe(true);
    const plan = plans[step.pick % Math.max(1, plans.length)];
    if (!plan) continue;
    checkPlan(gpu, layout, memoryMiB, plan);
    if (geometries) {
      const placed = geometries.flatMap((g) => {
        const p = geometryPlacements(gpu, g);
        return p.ok ? p.value : [];
      });
      const names = gpu.mig?.profiles ?? [];
      const asKeys = (xs: readonly { p: number; start: number }[]): string =>
        xs
          .map((x) => `${names[x.p]?.name}@${x.start}`)
          .sort()
          .join(' ');
      expect(placed.map(asKeys)).toContain(plan.layout.map(key).sort().join(' '));
    }
    layout = plan.layout.map((i) => (key(i) === key(plan.target) ? { ...i, id: `pod-${next++}` } : i));
  }
}

describe('planMig invariants over random request/release sequences', () => {
  it.each(MIG_MODELS.map((m) => [m.name, m] as const))('%s: legal layouts, nothing in use touched, enough memory', (_name, gpu) => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 40 }), (steps) => runSteps(gpu, steps)),
      { numRuns: 100 },
    );
  });

  it('keeps layouts within the allowed geometries when the operator restricts the model', () => {
    const gpu = model('A100-SXM4-40GB');
    const geometries: MigGeometry[] = [
      [{ profile: '1g.5gb', count: 7 }],
      [
        { profile: '2g.10gb', count: 3 },
        { profile: '1g.5gb', count: 1 },
      ],
      [{ profile: '3g.20gb', count: 2 }],
      [{ profile: '7g.40gb', count: 1 }],
    ];
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 30 }), (steps) => runSteps(gpu, steps, geometries)),
      { numRuns: 100 },
    );
  });
});

describe('planMig cases', () => {
  const h100 = model('H100-SXM5-80GB');

  it('reuses a free instance that fits before creating one (equal score, lower cost)', () => {
    const layout: MigInstance[] = [
      { profile: '3g.40gb', start: 4, inUse: true },
      { profile: '1g.10gb', start: 3, inUse: false, id: 'mig-a' },
    ];
    const [best] = planMig(h100, layout, { memoryMiB: 9000 });
    expect(best?.kind).toBe('reuse');
    expect(best?.target).toEqual({ profile: '1g.10gb', start: 3 });
    expect(best?.layout).toContainEqual({ profile: '1g.10gb', start: 3, inUse: true, id: 'mig-a' });
  });

  it('on an empty GPU puts a 1g where it blocks the fewest larger profiles', () => {
    const [best] = planMig(h100, [], { memoryMiB: 9000 });
    // 1g@6 keeps 7g? no (7g needs all), but keeps 4g@0, 3g@0, 2g@0/2/4, 1g.20gb@0/2/4: the most capacity.
    expect(best?.target).toEqual({ profile: '1g.10gb', start: 6 });
    // HAMi v2.10 lands there too: it places 1g profiles from the top.
    expect(hamiV210Chooser(h100, [], { memoryMiB: 9000 })?.target).toEqual({ profile: '1g.10gb', start: 6 });
  });

  it('reconfigures free instances, never one in use, when nothing else serves', () => {
    const layout: MigInstance[] = [
      { profile: '1g.10gb', start: 0, inUse: false },
      { profile: '1g.10gb', start: 1, inUse: false },
      { profile: '1g.10gb', start: 2, inUse: false },
      { profile: '1g.10gb', start: 3, inUse: false },
      { profile: '3g.40gb', start: 4, inUse: true },
    ];
    const plans = planMig(h100, layout, { memoryMiB: 30_000 });
    expect(plans.map((p) => [p.kind, key(p.target), p.cost.destroyed])).toEqual([
      ['reconfigure', '3g.40gb@0', 4],
      ['reconfigure', '4g.40gb@0', 4],
    ]);
  });

  it('answers no plan (and no exception) for what does not fit, an unknown profile, an illegal layout or a whole GPU', () => {
    expect(planMig(h100, [{ profile: '7g.80gb', start: 0, inUse: true }], { memoryMiB: 1 })).toEqual([]);
    expect(planMig(h100, [], { memoryMiB: 90_000 })).toEqual([]);
    expect(planMig(h100, [], { memoryMiB: 1, profile: '1g.5gb' })).toEqual([]);
    expect(planMig(h100, [{ profile: '3g.40gb', start: 2, inUse: false }], { memoryMiB: 1 })).toEqual([]);
    expect(planMig(model('T4'), [], { memoryMiB: 1 })).toEqual([]);
  });

  it('offers +me only when asked by name, and at most once', () => {
    expect(planMig(h100, [], { memoryMiB: 1 }, { limit: 100 }).some((p) => p.target.profile.endsWith('+me'))).toBe(false);
    const me = planMig(h100, [], { memoryMiB: 1, profile: '1g.10gb+me' });
    expect(me[0]?.target.profile).toBe('1g.10gb+me');
    expect(planMig(h100, [{ profile: '1g.10gb+me', start: 0, inUse: true }], { memoryMiB: 1, profile: '1g.10gb+me' })).toEqual([]);
  });

  it('honours minComputeSlices and the limit', () => {
    const plans = planMig(h100, [], { memoryMiB: 15_000, minComputeSlices: 2 }, { limit: 100 });
    expect(plans.every((p) => (findProfile(h100, p.target.profile)?.computeSlices ?? 0) >= 2)).toBe(true);
    expect(planMig(h100, [], { memoryMiB: 0 }, { limit: 3 })).toHaveLength(3);
  });

  it('weighs the demand mix', () => {
    // 1g@6 in use: a new 1g at 4 or 5 keeps 4g@0 (score 1000); at 0-3 it blocks the only 4g start (score 0).
    const held: MigInstance[] = [{ profile: '1g.10gb', start: 6, inUse: true }];
    const [fourG] = planMig(h100, held, { memoryMiB: 9000 }, { demand: { byProfile: { '4g.40gb': 1 } } });
    expect([fourG?.target.start, fourG?.score]).toEqual([4, MAX_PLAN_SCORE]);
    // 40,000 MiB is served by 3g.40gb: a 1g at 0-3 leaves no 3g (4-7 holds the 1g@6), so the 1g goes to 4.
    const [byMemory] = planMig(h100, held, { memoryMiB: 9000 }, { demand: { byMemoryMiB: [{ memoryMiB: 40_000, weight: 1 }] } });
    expect(byMemory?.target.start).toBe(4);
    // Without a demand mix, every profile counts: still not slice 0, which would block 4g, 3g@0 and 2g@0.
    expect(planMig(h100, held, { memoryMiB: 9000 })[0]?.target.start).not.toBe(0);
  });
});

describe('planMig with reconfigureBusy: false', () => {
  const h100 = model('H100-SXM5-80GB');
  const busy: MigInstance[] = [
    { profile: '1g.10gb', start: 0, inUse: false },
    { profile: '1g.10gb', start: 1, inUse: false },
    { profile: '3g.40gb', start: 4, inUse: true },
  ];

  it('never destroys a free instance on a GPU that runs one: reuse or empty slices only', () => {
    const plans = planMig(h100, busy, { memoryMiB: 9000 }, { reconfigureBusy: false, limit: 100 });
    expect(plans.length).toBeGreaterThan(0);
    expect(plans.every((p) => p.destroy.length === 0)).toBe(true);
    // 19,000 MiB needs 1g.20gb or 2g.20gb: only slices 2-3 are empty, so 1g.20gb@2 or 2g.20gb@2, nothing else.
    expect(
      planMig(h100, busy, { memoryMiB: 19_000 }, { reconfigureBusy: false, limit: 100 })
        .map((p) => key(p.target))
        .sort(),
    ).toEqual(['1g.20gb@2', '2g.20gb@2']);
    // The default reshapes the free instances too.
    expect(planMig(h100, busy, { memoryMiB: 19_000 }, { limit: 100 }).some((p) => p.destroy.length > 0)).toBe(true);
  });

  it('re-carves a GPU with nothing running', () => {
    const idle = busy.map((i) => ({ ...i, inUse: false }));
    const [best] = planMig(h100, idle, { memoryMiB: 70_000 }, { reconfigureBusy: false });
    expect(best?.target).toEqual({ profile: '7g.80gb', start: 0 });
    expect(best?.cost.destroyed).toBe(3);
  });
});

describe('HAMi baselines', () => {
  const a100 = model('A100-SXM4-40GB');
  const a30 = model('A30-24GB');
  const geometries = hamiV29StockGeometries(a100);

  it('v2.9 stock geometries are its chart’s: all 1g, one 1g and three 2g, two 3g, one 7g (A30: 4 x 1g, 2 x 2g, 1 x 4g)', () => {
    expect(geometries).toEqual([
      [{ profile: '1g.5gb', count: 7 }],
      [
        { profile: '1g.5gb', count: 1 },
        { profile: '2g.10gb', count: 3 },
      ],
      [{ profile: '3g.20gb', count: 2 }],
      [{ profile: '7g.40gb', count: 1 }],
    ]);
    expect(hamiV29StockGeometries(a30)).toEqual([[{ profile: '1g.6gb', count: 4 }], [{ profile: '2g.12gb', count: 2 }], [{ profile: '4g.24gb', count: 1 }]]);
  });

  it('v2.9 lays out the first geometry whose first entry fits on an idle GPU, then uses only its free instances', () => {
    const first = hamiV29Plan(a100, [], { memoryMiB: 4000 }, geometries);
    expect(first?.create).toHaveLength(7);
    // 9,000 MiB: the 1g+2g geometry holds a 2g.10gb, but its first entry (1g.5gb) is too small, so HAMi skips it.
    const mid = hamiV29Plan(a100, [], { memoryMiB: 9000 }, geometries);
    expect(mid?.layout.map(key)).toEqual(['3g.20gb@0', '3g.20gb@4']);
    expect(hamiV29Plan(a100, first?.layout ?? [], { memoryMiB: 15_000 }, geometries)).toBeNull();
    expect(hamiV29Plan(a100, first?.layout ?? [], { memoryMiB: 4000 }, geometries)?.kind).toBe('reuse');
    // A free instance must be strictly larger than the request (AddResourceUsage compares with >).
    expect(hamiV29Plan(a100, first?.layout ?? [], { memoryMiB: 4864 }, geometries)).toBeNull();
  });

  it('v2.10 takes the smallest allowed profile, 1g and 3g from the top, others from the bottom', () => {
    const plan = hamiV210Chooser(a100, [{ profile: '1g.5gb', start: 0, inUse: true }], { memoryMiB: 9000 });
    // 1g.10gb is not in the stock migProfileAllowlist: 2g.10gb, at the lowest start clear of the 1g.
    expect(plan?.target).toEqual({ profile: '2g.10gb', start: 2 });
    expect(hamiV210Chooser(a100, [], { memoryMiB: 15_000 })?.target).toEqual({ profile: '3g.20gb', start: 4 });
    expect(hamiV210Plan(a100, [], { memoryMiB: 9000 }, new Set(['1g.10gb']))?.target).toEqual({ profile: '1g.10gb', start: 6 });
  });

  it('v2.10 ignores free instances: it destroys those in the way and reuses one that is exactly its pick', () => {
    const free: MigInstance[] = [
      { profile: '3g.20gb', start: 4, inUse: false },
      { profile: '1g.5gb', start: 0, inUse: true },
    ];
    const plan = hamiV210Chooser(a100, free, { memoryMiB: 4000 });
    expect(plan?.target).toEqual({ profile: '1g.5gb', start: 6 });
    expect(plan?.destroy.map(key)).toEqual(['3g.20gb@4']);
    expect(hamiV210Chooser(a100, free, { memoryMiB: 15_000 })?.kind).toBe('reuse');
  });

  it('zambianco takes the placement whose fragmentation grows least, and measures an empty GPU as least fragmented', () => {
    const [best] = zambiancoPlans(a100, [], { memoryMiB: 4000 });
    expect(best?.target.profile).toBe('1g.5gb');
    expect(migFragmentation(a100, [])).toBeLessThan(migFragmentation(a100, [{ profile: '1g.5gb', start: 3, inUse: true }]));
    const after = (start: number): number => migFragmentation(a100, [{ profile: '1g.5gb', start, inUse: true }]);
    expect(after(best?.target.start ?? -1)).toBe(Math.min(...[0, 1, 2, 3, 4, 5, 6].map(after)));
  });
});

describe('the engine against HAMi v2.10 over random request sequences', () => {
  // 100 seeded sequences of 300 events on 4 GPUs; each request goes to the first GPU with a plan.
  const SEEDS = 100;
  const totals = (gpu: GpuModel, destroyOnRelease: boolean): { engine: number; hami: number } => {
    let engine = 0;
    let hami = 0;
    for (let seed = 0; seed < SEEDS; seed++) {
      const events = randomEvents(gpu, seed, 300);
      engine += replay(gpu, 4, events, engineChooser, destroyOnRelease).served;
      hami += replay(gpu, 4, events, hamiV210Chooser, destroyOnRelease).served;
    }
    return { engine, hami };
  };

  it.each(['A100-SXM4-40GB', 'H100-SXM5-80GB'])('%s: serves at least as many requests when released instances stay', (name) => {
    // HAMi v2.10 ignores free instances (its nodes destroy them when their pod ends) and the engine reclaims them,
    // so keeping them gives neither an edge: measured +2.13% on both models (100 seeds, docs/geometry.md).
    const kept = totals(model(name), false);
    expect(kept.engine).toBeGreaterThanOrEqual(kept.hami);
  });

  it.each(['A100-SXM4-40GB', 'H100-SXM5-80GB'])('%s: stays at parity when released instances vanish for free', (name) => {
    // Placement alone decides here; the engine's one-step look-ahead is within 2% of first fit (measured +0.08% on
    // 4 GPUs, -1.6% on 1 GPU), so this guards against a regression, not a win.
    const vanished = totals(model(name), true);
    expect(vanished.engine).toBeGreaterThanOrEqual(vanished.hami * 0.98);
  });
});

describe('planMig with allowedProfiles (HAMi v2.10 migProfileAllowlist)', () => {
  const h100 = model('H100-SXM5-80GB');
  const allowed = new Set(['1g.10gb', '2g.20gb', '3g.40gb', '7g.80gb']);

  it('reuses and creates only listed profiles, and may destroy free instances of others to make room', () => {
    // 15,000 MiB: 1g.20gb would be the smallest, but it is not listed, so 2g.20gb.
    const plans = planMig(h100, [], { memoryMiB: 15_000 }, { allowedProfiles: allowed, limit: 100 });
    expect(plans.length).toBeGreaterThan(0);
    expect(new Set(plans.map((p) => p.target.profile))).toEqual(new Set(['2g.20gb', '3g.40gb', '7g.80gb']));
    expect(plans.every((p) => p.create.every((i) => allowed.has(i.profile)))).toBe(true);
    // A free 1g.20gb (not listed) is not reused; its slices may be taken over.
    const unlisted: MigInstance[] = [{ profile: '1g.20gb', start: 0, inUse: false }];
    const over = planMig(h100, unlisted, { memoryMiB: 15_000 }, { allowedProfiles: allowed, limit: 100 });
    expect(over.some((p) => p.kind === 'reuse')).toBe(false);
    expect(over.some((p) => p.destroy.some((i) => i.profile === '1g.20gb'))).toBe(true);
  });

  it('gives the best plans the geometry list of the same profiles gives', () => {
    // Every placeable layout of the listed profiles, as the allowlist was applied before.
    const profiles = [...allowed];
    const geometries: MigGeometry[] = [];
    const counts = profiles.map(() => 0);
    const visit = (i: number): void => {
      if (i === profiles.length) {
        const geometry = profiles.flatMap((p, j) => ((counts[j] ?? 0) > 0 ? [{ profile: p, count: counts[j] ?? 0 }] : []));
        if (geometry.length > 0 && geometryPlacements(h100, geometry).ok) geometries.push(geometry);
        return;
      }
      for (let n = 0; n <= 7; n++) {
        counts[i] = n;
        visit(i + 1);
      }
      counts[i] = 0;
    };
    visit(0);
    const layout: MigInstance[] = [
      { profile: '3g.40gb', start: 4, inUse: true },
      { profile: '1g.10gb', start: 0, inUse: true },
      { profile: '1g.10gb', start: 1, inUse: false },
    ];
    for (const memoryMiB of [5000, 15_000, 30_000]) {
      const [byProfiles] = planMig(h100, layout, { memoryMiB }, { allowedProfiles: allowed });
      const [byGeometries] = planMig(h100, layout, { memoryMiB }, { allowedGeometries: geometries });
      expect(byProfiles?.target).toEqual(byGeometries?.target);
    }
  });
});
