import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nodeFragmentation, type ShareNodeView, type TypicalShape } from '../../../src/scheduler/policies/frag.js';
import { HELD_BACK_POINTS, STRANDED_WEIGHT, reachFragmentation, tesseraPolicy } from '../../../src/scheduler/policies/tessera.js';
import { scarceHomes } from '../../../src/scheduler/policies/workload.js';
import { ClusterState, DEFAULT_RUN_CONTEXT, decide, schedule } from '../../../src/scheduler/core/index.js';
import { openbNodeSpec, openbRequest } from '../../../src/simulator/openb/replay.js';
import type { MigOption } from '../../../src/scheduler/core/mig.js';
import { OVERSIZE, WELL_FITTING, migOptionValue } from '../../../src/scheduler/policies/mig-value.js';

const view = (cpuLeft: number, gpuLeft: number[]): ShareNodeView => ({ model: 'G2', cpuLeft, gpuLeft, gpuTasks: gpuLeft.map(() => 0) });
const T: TypicalShape = { cpu: 2000, milli: 500, gpus: 1, models: [], freq: 1 };

describe('tessera fragment', () => {
  it('counts GPU room the CPU cannot reach at STRANDED_WEIGHT', () => {
    // 2.5 cores reach floor(2500 / 2000) = 1 copy of T; two GPUs have room, so the smaller room (1000) is stranded.
    // FGD sees no fragment; tessera sees 0 + 1/8 x 1000 = 125.
    expect(STRANDED_WEIGHT).toBe(0.125);
    const node = view(2500, [1000, 1000]);
    expect(nodeFragmentation(node, [T])).toBe(0);
    expect(reachFragmentation(node, [T])).toBe(STRANDED_WEIGHT * 1000);
    // With 4 cores both GPUs are reachable.
    expect(reachFragmentation(view(4000, [1000, 1000]), [T])).toBe(0);
  });

  it('strands the smallest rooms first', () => {
    // 1 copy reachable among rooms [600, 900, 700]: 600 and 700 stranded -> 1/8 x 1300.
    expect(reachFragmentation(view(2000, [600, 900, 700]), [T])).toBe(162.5);
  });

  it('lies between FGD fragment and all GPU left, and equals FGD when CPU is plentiful', () => {
    const typical: TypicalShape[] = [
      { ...T, freq: 0.6 },
      { cpu: 8000, milli: 1000, gpus: 2, models: [], freq: 0.4 },
    ];
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 96_000 }), fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 8 }), (cpu, gpus) => {
        const node = view(cpu, gpus);
        const fgd = nodeFragmentation(node, typical);
        const reach = reachFragmentation(node, typical);
        const all = gpus.reduce((a, b) => a + b, 0);
        expect(reach).toBeGreaterThanOrEqual(fgd - 1e-9);
        expect(reach).toBeLessThanOrEqual(all + 1e-9);
        if (cpu >= 64_000) expect(reach).toBeCloseTo(fgd, 9);
      }),
      { numRuns: 300 },
    );
  });

  it('counts stranded room one way: a pod that shrinks it scores no higher than FGD', () => {
    // 6 cores and four free GPUs: 3 copies of T reach, one room (1000) is stranded. A 1-GPU pod of T leaves three
    // rooms, all reachable: FGD's fragment stays 0 and tessera's stranded part falls, which earns the node nothing.
    const state = new ClusterState([openbNodeSpec({ name: 'n', cpuMilli: 6000, memoryMib: 64_000, gpus: 4, model: 'G2' })]);
    const pod = openbRequest({ name: 'p', cpuMilli: 0, memoryMib: 0, gpus: 1, gpuMilli: 1000, gpuSpec: [] });
    const context = { ...DEFAULT_RUN_CONTEXT, typical: [T] };
    const [ranked] = schedule(state, pod, tesseraPolicy, { context }).ranked;
    expect(ranked?.score).toBeCloseTo(100 * (WELL_FITTING + (1 - WELL_FITTING) * 0.5), 9);
  });

  it('prefers the GPU that keeps reachable room', () => {
    // A node of 4 cores and two GPUs with [500, 1000] milli left, in the allocator (the openb mapping: milli = MiB).
    const state = new ClusterState([openbNodeSpec({ name: 'n', cpuMilli: 4000, memoryMib: 64_000, gpus: 2, model: 'G2' })]);
    const held = { pod: { uid: 'held', namespace: 'openb', name: 'held' }, node: 'n', mode: 'hami-core' as const, cpuMilli: 0, memoryMiB: 0 };
    expect(state.apply({ ...held, containers: [{ name: 'main', devices: [{ uuid: 'n-gpu-0', index: 0, memoryMiB: 500, cores: 500 }] }] }).ok).toBe(true);
    // After a 2-core pod, 2 cores remain: one more copy of T. Taking the 500 GPU leaves [0, 1000]: nothing
    // stranded. Taking the 1000 GPU leaves [500, 500]: one room stranded.
    const pod = openbRequest({ name: 'p', cpuMilli: 2000, memoryMib: 0, gpus: 1, gpuMilli: 500, gpuSpec: [] });
    const decided = decide(state, pod, 'n', tesseraPolicy, { ...DEFAULT_RUN_CONTEXT, typical: [T] });
    expect(decided.ok && decided.value.containers[0]?.devices.map((d) => d.index)).toEqual([0]);
  });
});

describe('tessera and scarce homes', () => {
  // Twenty 8-GPU nodes: one of 128 cores (kept for 120-core 8-GPU pods), nineteen of 96; the fixed rank puts the
  // kept node first, so without holding it back every tie would go to it.
  const state = (): ClusterState =>
    new ClusterState([
      openbNodeSpec({ name: 'wide', cpuMilli: 128_000, memoryMib: 512_000, gpus: 8, model: 'G3' }),
      ...Array.from({ length: 19 }, (_, i) => openbNodeSpec({ name: `n-${String(i).padStart(2, '0')}`, cpuMilli: 96_000, memoryMib: 512_000, gpus: 8, model: 'G2' })),
    ]);
  const ask = (name: string, cpuMilli: number, gpus: number, gpuSpec: string[] = []) => openbRequest({ name, cpuMilli, memoryMib: 1024, gpus, gpuMilli: 1000, gpuSpec });
  const rankFirst = (name: string): number => (name === 'wide' ? 0 : 1 + Number(name.slice(2)));
  const contextFor = (s: ClusterState) => ({
    ...DEFAULT_RUN_CONTEXT,
    nodeRank: rankFirst,
    typical: [{ ...T, cpu: 8000, milli: 1000 }],
    scarceHomes: scarceHomes(s.nodes(), [ask('whole-wide', 120_000, 8)]),
  });

  it('sends a pod that fits many nodes elsewhere, HELD_BACK_POINTS lower on the kept node', () => {
    const s = state();
    const context = contextFor(s);
    expect([...(context.scarceHomes.keptFor ?? [])]).toEqual([['wide', 1]]);
    const { ranked } = schedule(s, ask('one', 8000, 1), tesseraPolicy, { context });
    expect(ranked[0]?.node).toBe('n-00');
    const kept = ranked.find((r) => r.node === 'wide');
    expect((ranked[0]?.score ?? 0) - (kept?.score ?? 0)).toBeCloseTo(HELD_BACK_POINTS * (1 - WELL_FITTING), 9);
    // Without the kept nodes the same pod takes the first-ranked node.
    expect(schedule(s, ask('one', 8000, 1), tesseraPolicy, { context: { ...context, scarceHomes: undefined } }).ranked[0]?.node).toBe('wide');
  });

  it('holds back no pod from the nodes it is kept for, nor a pod that names its GPU types', () => {
    const s = state();
    const context = contextFor(s);
    expect(schedule(s, ask('whole-wide', 120_000, 8), tesseraPolicy, { context }).ranked.map((r) => r.node)).toEqual(['wide']);
    // Named to G3 or G2, it fits every node and still takes the first-ranked one.
    expect(schedule(s, ask('named', 8000, 1, ['G3', 'G2']), tesseraPolicy, { context }).ranked[0]?.node).toBe('wide');
  });

  it('changes only scores, never which nodes fit, and by HELD_BACK_POINTS exactly (property)', () => {
    const cpus = [32_000, 64_000, 96_000, 128_000];
    const nodeArb = fc.record({ cpu: fc.constantFrom(...cpus), gpus: fc.constantFrom(1, 2, 4, 8) });
    const askArb = fc.record({ cpu: fc.integer({ min: 0, max: 130_000 }), gpus: fc.constantFrom(0, 1, 2, 4, 8), named: fc.boolean() });
    fc.assert(
      fc.property(fc.array(nodeArb, { minLength: 1, maxLength: 40 }), fc.array(askArb, { maxLength: 6 }), askArb, (nodes, seenAsks, podAsk) => {
        const s = new ClusterState(nodes.map((n, i) => openbNodeSpec({ name: `n-${String(i).padStart(2, '0')}`, cpuMilli: n.cpu, memoryMib: 512_000, gpus: n.gpus, model: 'G2' })));
        const asOpenb = (a: { cpu: number; gpus: number; named: boolean }, name: string) => ask(name, a.cpu, a.gpus, a.named ? ['G2'] : []);
        const homes = scarceHomes(
          s.nodes(),
          seenAsks.map((a, i) => asOpenb(a, `seen-${i}`)),
        );
        const base = { ...DEFAULT_RUN_CONTEXT, typical: [{ ...T, cpu: 8000, milli: 1000 }] };
        const pod = asOpenb(podAsk, 'pod');
        const without = schedule(s, pod, tesseraPolicy, { context: base }).ranked;
        const withKept = schedule(s, pod, tesseraPolicy, { context: { ...base, scarceHomes: homes } }).ranked;
        expect(withKept.map((r) => r.node).sort()).toEqual(without.map((r) => r.node).sort());
        const before = new Map(without.map((r) => [r.node, r.score]));
        for (const r of withKept) {
          const kept = homes.keptFor.get(r.node);
          const heldBack = kept !== undefined && homes.homesOf(pod) > kept;
          const drop = (before.get(r.node) ?? 0) - r.score;
          if (heldBack) expect(drop).toBeGreaterThan(0);
          else expect(drop).toBe(0);
          expect(drop).toBeLessThanOrEqual(HELD_BACK_POINTS * (1 - WELL_FITTING) + 1e-9);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('goes to a kept node when nothing else fits', () => {
    const s = state();
    const context = contextFor(s);
    // 100 cores fit only the 128-core node.
    expect(schedule(s, ask('wide-one', 100_000, 1), tesseraPolicy, { context }).ranked.map((r) => r.node)).toEqual(['wide']);
  });
});

describe('migOptionValue', () => {
  const option = (memoryMiB: number, changes: boolean, lostCapacity = 0.5): MigOption => ({
    profile: 'x',
    start: 0,
    memoryMiB,
    computeShare: 0.5,
    keptCapacity: 1 - lostCapacity,
    lostCapacity,
    plan: changes ? [{ action: 'create', profile: 'x', start: 0 }] : [],
    layout: [{ profile: 'x', start: 0, inUse: true }],
  });

  it('ranks a fitting free instance over any change, any change over a free instance more than OVERSIZE times too big', () => {
    const fitting = migOptionValue(option(4096 * OVERSIZE, false), 4096);
    const bestChange = migOptionValue(option(4096, true, 0), 4096);
    const worstChange = migOptionValue(option(40_000, true, 1), 4096);
    const oversized = migOptionValue(option(4096 * OVERSIZE + 1, false), 4096);
    expect(fitting).toBeGreaterThanOrEqual(WELL_FITTING);
    expect(bestChange).toBeLessThanOrEqual(WELL_FITTING);
    expect(worstChange).toBeGreaterThan(oversized);
    // Within a band: tighter first; less capacity taken first, among changes and among free instances alike.
    expect(migOptionValue(option(5000, false), 4096)).toBeGreaterThan(migOptionValue(option(10_000, false), 4096));
    expect(migOptionValue(option(5000, true, 0.2), 4096)).toBeGreaterThan(migOptionValue(option(5000, true, 0.9), 4096));
    expect(migOptionValue(option(5000, false, 0.2), 4096)).toBeGreaterThan(migOptionValue(option(5000, false, 0.9), 4096));
    // A percentage or no memory asked fits anything; a free instance that takes nothing the workload wants is worth 1.
    expect(migOptionValue(option(80_000, false, 0), 0)).toBe(1);
  });
});
