import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ClusterState, DEFAULT_RUN_CONTEXT, allocationOf, schedule, type Allocation, type NodeSpec, type RunContext, type TypicalShape } from '../../../src/scheduler/core/index.js';
import { POLICIES } from '../../../src/scheduler/policies/index.js';
import { nodeSpecArb, requestArb } from './arbitraries.js';
import type { PodRequest } from '../../../src/request/index.js';

const MODELS = [
  { model: 'NVIDIA A100-SXM4-40GB', memoryMiB: 40_960 },
  { model: 'Tesla T4', memoryMiB: 15_360 },
];

type Step = { kind: 'place'; request: PodRequest; policy: string } | { kind: 'release'; pick: number };

const stepsArb: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('place' as const), request: requestArb('x', [null, 'hami-core']), policy: fc.constantFrom(...Object.keys(POLICIES)) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  ),
  { maxLength: 30 },
);

const clusterArb: fc.Arbitrary<NodeSpec[]> = fc.integer({ min: 1, max: 4 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => nodeSpecArb(`n${i}`, 'hami-core', MODELS))));

/** What every GPU and node must satisfy, recomputed from the allocations held (not from the summaries). */
function checkInvariants(state: ClusterState, specs: readonly NodeSpec[]): void {
  const held = state.allocations();
  for (const spec of specs) {
    const view = state.node(spec.name);
    if (!view) throw new Error('node vanished');
    const mine = held.filter((a) => a.node === spec.name);
    expect(view.cpuUsedMilli).toBe(mine.reduce((s, a) => s + a.cpuMilli, 0));
    expect(view.cpuUsedMilli).toBeLessThanOrEqual(view.cpuMilli);
    expect(view.memoryUsedMiB).toBeLessThanOrEqual(view.memoryMiB);
    for (const gpu of view.gpus) {
      const devices = mine.flatMap((a) => a.containers.flatMap((c) => c.devices)).filter((d) => d.uuid === gpu.uuid);
      expect(gpu.usedSlots).toBe(devices.length);
      expect(gpu.usedMemoryMiB).toBe(devices.reduce((s, d) => s + d.memoryMiB, 0));
      expect(gpu.usedCores).toBe(devices.reduce((s, d) => s + d.cores, 0));
      expect(gpu.usedSlots).toBeLessThanOrEqual(view.splitCount);
      expect(gpu.usedMemoryMiB).toBeLessThanOrEqual(gpu.memoryMiB);
      expect(gpu.usedCores).toBeLessThanOrEqual(gpu.coreUnits);
      if (devices.some((d) => d.cores >= gpu.coreUnits)) expect(devices).toHaveLength(1);
      if (devices.length > 0) expect(gpu.healthy).toBe(true);
    }
  }
}

describe('allocator properties (hami-core)', () => {
  let placed = 0;
  afterAll(() => {
    // The streams must exercise placement, not just refuse everything.
    expect(placed).toBeGreaterThan(100);
  });

  it('never over-commits, release restores each node exactly, and the state rebuilds from its allocations', () => {
    fc.assert(
      fc.property(clusterArb, stepsArb, (specs, steps) => {
        const state = new ClusterState(specs);
        let uid = 0;
        for (const step of steps) {
          if (step.kind === 'release') {
            const victim = picked(state, step.pick);
            if (victim) expect(state.release(victim.pod.uid).ok).toBe(true);
          } else {
            const request = { ...step.request, pod: { ...step.request.pod, uid: `u${uid++}` } };
            const policy = POLICIES[step.policy];
            if (!policy) throw new Error('unknown policy');
            const top = schedule(state, request, policy).ranked[0];
            if (!top) continue;
            const before = state.snapshot(top.node);
            const allocation = allocationFrom(state, request, top.placement);
            expect(state.apply(allocation)).toEqual({ ok: true, value: undefined });
            expect(state.release(allocation.pod.uid).ok).toBe(true);
            expect(state.snapshot(top.node)).toEqual(before);
            expect(state.apply(allocation).ok).toBe(true);
            placed++;
          }
          checkInvariants(state, specs);
        }
        const { state: rebuilt, rejected } = ClusterState.fromAllocations(specs, state.allocations());
        expect(rejected).toEqual([]);
        for (const spec of specs) expect(rebuilt.snapshot(spec.name)).toEqual(state.snapshot(spec.name));
      }),
      { numRuns: 150 },
    );
  });

  it('ranks with kept verdicts and scores exactly as a state that kept none, as nodes change under alike requests', () => {
    fc.assert(
      fc.property(clusterArb, stepsArb, fc.constantFrom(...Object.keys(POLICIES)), (specs, steps, policyName) => {
        const policy = POLICIES[policyName];
        if (!policy) throw new Error('unknown policy');
        const state = new ClusterState(specs);
        const asked: PodRequest[] = [];
        // Every node's score, and the devices chosen on each (read after the scan, as the extender reads the best).
        const ranking = (on: ClusterState, request: PodRequest): [string, number, unknown][] => schedule(on, request, policy).ranked.map((r) => [r.node, r.score, r.placement.containers]);
        let uid = 0;
        for (const step of steps) {
          if (step.kind === 'release') {
            const victim = picked(state, step.pick);
            if (victim) state.release(victim.pod.uid);
          } else {
            const request = { ...step.request, pod: { ...step.request.pod, uid: `u${uid++}` } };
            asked.push(request);
            const top = schedule(state, request, policy).ranked[0];
            if (top) state.apply(allocationFrom(state, request, top.placement));
          }
          // The last few requests again (alike pods: the kept columns serve them) against a state rebuilt from scratch.
          const fresh = ClusterState.fromAllocations(specs, state.allocations()).state;
          for (const request of asked.slice(-3)) expect(ranking(state, request)).toEqual(ranking(fresh, request));
        }
      }),
      { numRuns: 100 },
    );
  });
});

/** A few GPU shapes, each asked with many CPUs: what a kept score per CPU step serves. */
const alikeStepsArb: fc.Arbitrary<Step[]> = fc.array(
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('place' as const),
        request: fc.tuple(requestArb('x', [null]), fc.nat(2), fc.integer({ min: 0, max: 12_000 })).map(([request, shape, cpuMilli]) => ({
          ...request,
          containers: [
            {
              name: 'main',
              gpu:
                [
                  { count: 1, memory: { mib: 6000 }, cores: 30 },
                  { count: 1, memory: { percent: 100 }, cores: 100 },
                  { count: 2, memory: { mib: 2000 }, cores: 0 },
                ][shape] ?? null,
            },
          ],
          cpuMilli,
          nodePolicy: null,
          gpuPolicy: null,
        })),
        policy: fc.constant(''),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  ),
  { maxLength: 30 },
);

/** Nodes whose CPU runs short of the typical requests', so a pod's CPU moves the gradient. */
const cpuShortClusterArb: fc.Arbitrary<NodeSpec[]> = fc
  .tuple(clusterArb, fc.array(fc.integer({ min: 2000, max: 20_000 }), { minLength: 4, maxLength: 4 }))
  .map(([specs, cpus]) => specs.map((spec, i) => ({ ...spec, cpuMilli: cpus[i] ?? spec.cpuMilli })));

/** A learned workload profile: what the gradient policies read the CPU against, in steps. */
const typicalArb: fc.Arbitrary<TypicalShape[]> = fc
  .array(fc.record({ cpu: fc.integer({ min: 500, max: 8000 }), milli: fc.integer({ min: 100, max: 1000 }), gpus: fc.integer({ min: 1, max: 2 }), weight: fc.integer({ min: 1, max: 5 }) }), {
    minLength: 1,
    maxLength: 4,
  })
  .map((shapes) => {
    const total = shapes.reduce((sum, t) => sum + t.weight, 0);
    return shapes.map(({ weight, ...t }) => ({ ...t, models: [], freq: weight / total }));
  });

describe('scores kept per CPU step', () => {
  // Policies that read the CPU exactly keep scores per whole request (the test above).
  const stepped = Object.keys(POLICIES).filter((name) => POLICIES[name]?.scoreCpu === 'steps');

  it('ranks pods that differ only in CPU exactly as a state that keeps nothing, for every policy that reads CPU in steps', () => {
    expect(stepped).toEqual(expect.arrayContaining(['fgd', 'tessera', 'hami']));
    fc.assert(
      fc.property(cpuShortClusterArb, alikeStepsArb, typicalArb, fc.constantFrom(...stepped), (specs, steps, typical, policyName) => {
        const policy = POLICIES[policyName];
        if (!policy) throw new Error('unknown policy');
        const context: RunContext = { ...DEFAULT_RUN_CONTEXT, typical };
        const state = new ClusterState(specs);
        const asked: PodRequest[] = [];
        const ranking = (on: ClusterState, request: PodRequest): [string, number][] => schedule(on, request, policy, { context }).ranked.map((r) => [r.node, r.score]);
        let uid = 0;
        for (const step of steps) {
          if (step.kind === 'release') {
            const victim = picked(state, step.pick);
            if (victim) state.release(victim.pod.uid);
            continue;
          }
          const request = { ...step.request, pod: { ...step.request.pod, uid: `u${uid++}` } };
          asked.push(request);
          const top = schedule(state, request, policy, { context }).ranked[0];
          if (top) state.apply(allocationFrom(state, request, top.placement));
          // Each recent request against a state rebuilt for it alone: its first ask, so nothing kept serves it.
          for (const earlier of asked.slice(-4)) {
            const fresh = ClusterState.fromAllocations(specs, state.allocations()).state;
            expect(ranking(state, earlier)).toEqual(ranking(fresh, earlier));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

/** The held allocation a release step points at (its pick modulo how many are held), if any is held. */
function picked(state: ClusterState, pick: number): Allocation | undefined {
  const held = state.allocations();
  return held[pick % Math.max(1, held.length)];
}

function allocationFrom(state: ClusterState, request: PodRequest, placement: Parameters<typeof allocationOf>[2]): Allocation {
  const result = allocationOf(state, request, placement);
  if (!result.ok) throw new Error(JSON.stringify(result.error));
  return result.value;
}
