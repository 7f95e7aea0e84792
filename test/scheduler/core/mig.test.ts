import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveGpuModel, validateLayout, type MigInstance } from '../../../src/geometry/index.js';
import { ClusterState, createGeometryPlanner, decide, schedule, type Allocation, type NodeSpec } from '../../../src/scheduler/core/index.js';
import { POLICIES, hamiPolicy, tesseraPolicy } from '../../../src/scheduler/policies/index.js';
import { tesseraMigPlanner } from '../../../src/scheduler/policies/frag-mig.js';
import { nodeSpecArb, requestArb } from './arbitraries.js';
import { node, pod } from './builders.js';
import type { PodRequest } from '../../../src/request/index.js';

const GPU = 'nvidia.com/gpu';
const MEM = 'nvidia.com/gpumem';
const A100 = 'NVIDIA A100-SXM4-40GB';
const H100 = 'NVIDIA H100-SXM5-80GB';
const planner = createGeometryPlanner();

/** A pod asking one vGPU of `memoryMiB`. */
const oneVgpu = (name: string, memoryMiB: number): PodRequest =>
  pod(name)
    .container({ [GPU]: 1, [MEM]: memoryMiB })
    .request();

function place(state: ClusterState, request: PodRequest, nodeName: string, policy = hamiPolicy): Allocation {
  const decided = decide(state, request, nodeName, policy);
  if (!decided.ok) throw new Error(`expected a fit: ${JSON.stringify(decided.error)}`);
  const applied = state.apply(decided.value);
  if (!applied.ok) throw new Error(`apply refused: ${JSON.stringify(applied.error)}`);
  return decided.value;
}

describe('MIG through the geometry engine', () => {
  it('creates the smallest instance that holds the request, and records the plan', () => {
    const state = new ClusterState([node('m', 'mig').gpus(1, A100, 40_960).spec()], { migPlanner: planner });
    const allocation = place(
      state,
      pod()
        .container({ [GPU]: 1, [MEM]: 9000 })
        .request(),
      'm',
    );
    const device = allocation.containers[0]?.devices[0];
    // 1g.5gb holds 4,864 MiB: too small; 1g.10gb and 2g.10gb hold 9,856 MiB; the engine prefers the smaller compute.
    expect(device?.mig?.profile).toBe('1g.10gb');
    expect(device?.memoryMiB).toBe(9856);
    expect(device?.mig?.plan).toEqual([{ action: 'create', profile: '1g.10gb', start: device?.mig?.start }]);
    // 1 of 7 compute slices: floor(100 / 7) = 14 core units.
    expect(device?.cores).toBe(14);
  });

  it('keeps option lists per model, memory and layout, apart from the objects the caller passed', () => {
    const layout = (): MigInstance[] => [
      { profile: '1g.5gb', start: 0, inUse: true },
      { profile: '3g.20gb', start: 4, inUse: false },
    ];
    const kept = createGeometryPlanner();
    const instances = layout();
    const first = kept.options(A100, instances, 9000);
    expect(first.length).toBeGreaterThan(0);
    // The state marks its own instances in use and free again after it has asked.
    for (const instance of instances) instance.inUse = !instance.inUse;
    const again = kept.options(A100, layout(), 9000);
    expect(again).toBe(first);
    expect(again).toEqual(createGeometryPlanner().options(A100, layout(), 9000));
    expect(kept.options(A100, instances, 9000)).toEqual(createGeometryPlanner().options(A100, instances, 9000));
  });

  it('reuses a free instance without any op, and never hands out an instance twice', () => {
    const spec = node('m', 'mig')
      .gpus(1, A100, 40_960, { migInstances: [{ profile: '3g.20gb', start: 4 }] })
      .spec();
    const state = new ClusterState([spec], { migPlanner: planner });
    const first = place(state, oneVgpu('p1', 19_000), 'm');
    expect(first.containers[0]?.devices[0]?.mig).toEqual({ profile: '3g.20gb', start: 4, plan: [] });
    const second = place(state, oneVgpu('p2', 19_000), 'm');
    expect(second.containers[0]?.devices[0]?.mig).toMatchObject({ start: 0 });
    const third = decide(state, oneVgpu('p3', 19_000), 'm', hamiPolicy);
    expect(third).toMatchObject({ ok: false, error: { outcome: 'unschedulable', reasons: [{ kind: 'InsufficientResource', resource: 'mig' }] } });
  });

  it('puts several instances of one container on one GPU', () => {
    const state = new ClusterState([node('m', 'mig').gpus(1, A100, 40_960).spec()], { migPlanner: planner });
    const allocation = place(
      state,
      pod()
        .container({ [GPU]: 3, [MEM]: 4000 })
        .request(),
      'm',
    );
    const starts = allocation.containers[0]?.devices.map((d) => d.mig?.start);
    expect(new Set(starts).size).toBe(3);
  });

  it('says no profile can hold a request larger than the GPU, and maps 100% to the largest instance', () => {
    const state = new ClusterState([node('m', 'mig').gpus(1, A100, 40_960).spec()], { migPlanner: planner });
    expect(
      decide(
        state,
        pod()
          .container({ [GPU]: 1, [MEM]: 41_000 })
          .request(),
        'm',
        hamiPolicy,
      ),
    ).toMatchObject({
      ok: false,
      error: { outcome: 'unresolvable', reasons: [{ kind: 'NoMigProfile', memoryMiB: 41_000 }] },
    });
    const whole = place(
      state,
      pod()
        .container({ [GPU]: 1 })
        .request(),
      'm',
    );
    expect(whole.containers[0]?.devices[0]).toMatchObject({ memoryMiB: 40_192, cores: 100, mig: { profile: '7g.40gb' } });
  });

  it('serves a pod without vgpu-mode from either pool, and one that names a mode from that pool only', () => {
    const state = new ClusterState([node('m', 'mig').gpus(1, A100, 40_960).spec(), node('h').gpus(1, A100, 40_960).spec()], { migPlanner: planner });
    const either = schedule(
      state,
      pod()
        .container({ [GPU]: 1, [MEM]: 4000 })
        .request(),
      hamiPolicy,
    ).ranked.map((r) => r.node);
    expect(either.sort()).toEqual(['h', 'm']);
    const mig = schedule(
      state,
      pod()
        .container({ [GPU]: 1, [MEM]: 4000 })
        .annotate('nvidia.com/vgpu-mode', 'mig')
        .request(),
      hamiPolicy,
    );
    expect(mig.ranked.map((r) => r.node)).toEqual(['m']);
  });

  it('rebuilds from the node inventory after a restart: instances already created are taken as they are', () => {
    const spec = node('m', 'mig').gpus(1, A100, 40_960).spec();
    const before = new ClusterState([spec], { migPlanner: planner });
    const held = place(before, oneVgpu('p1', 9000), 'm');
    const device = held.containers[0]?.devices[0];
    expect(device?.mig?.plan.length).toBeGreaterThan(0);
    // The device plugin created the instance; the inventory now reports it.
    const created = { ...spec, gpus: spec.gpus.map((g) => ({ ...g, migInstances: [{ profile: device?.mig?.profile ?? '', start: device?.mig?.start ?? -1 }] })) };
    const { state, rejected } = ClusterState.fromAllocations([created], [held], { migPlanner: planner });
    expect(rejected).toEqual([]);
    expect(state.snapshot('m')).toEqual(before.snapshot('m'));
  });

  it('applies a grant again after the instances its plan carved were taken by others: only what is not there yet runs', () => {
    // As the extender does when a granted pod's decision is rewritten (the device plugin names the instance) or
    // replayed after a restart: release, then apply the same allocation. Its carve's extra instances now belong to
    // other pods; before, the whole plan ran again, failed, and left the pod's slices free for a third pod.
    const carving = createGeometryPlanner({ carve: { byMemoryMiB: [{ memoryMiB: 9000, weight: 1 }] } });
    const state = new ClusterState([node('h100', 'mig').gpus(1, H100, 81_920).spec()], { migPlanner: carving });
    const first = place(state, oneVgpu('first', 9000), 'h100');
    const own = first.containers[0]?.devices[0]?.mig;
    const carved = (own?.plan ?? []).filter((op) => op.action === 'create' && op.start !== own?.start);
    expect(carved.length).toBeGreaterThan(0);
    const second = place(state, oneVgpu('second', 9000), 'h100');
    expect(second.containers[0]?.devices[0]?.mig?.plan).toEqual([]);
    const before = state.snapshot('h100');
    expect(state.release(first.pod.uid).ok).toBe(true);
    expect(state.apply(first)).toEqual({ ok: true, value: undefined });
    expect(state.snapshot('h100')).toEqual(before);
    const third = decide(state, oneVgpu('third', 9000), 'h100', hamiPolicy);
    expect(third.ok && third.value.containers[0]?.devices[0]?.mig?.start).not.toBe(own?.start);
  });

  it('refuses a MIG allocation that would take an instance in use or destroy one', () => {
    const state = new ClusterState([node('m', 'mig').gpus(1, A100, 40_960).spec()], { migPlanner: planner });
    const held = place(state, oneVgpu('p1', 4000), 'm');
    const device = held.containers[0]?.devices[0];
    if (!device?.mig) throw new Error('expected a MIG device');
    const same = { ...held, pod: { ...held.pod, uid: 'p2' }, containers: [{ name: 'c', devices: [{ ...device, mig: { ...device.mig, plan: [] } }] }] };
    expect(state.apply(same)).toMatchObject({ ok: false, error: { kind: 'Inconsistent' } });
    const destroy = {
      ...same,
      containers: [{ name: 'c', devices: [{ ...device, mig: { ...device.mig, plan: [{ action: 'destroy' as const, profile: device.mig.profile, start: device.mig.start }, ...device.mig.plan] } }] }],
    };
    expect(state.apply(destroy)).toMatchObject({ ok: false, error: { kind: 'Inconsistent' } });
  });
});

describe("idle MIG instances with idleMigInstances: 'keep'", () => {
  it('release leaves the instance free in the layout, a second identical request reuses it, accounting returns exactly', () => {
    const state = new ClusterState([node('m', 'mig').gpus(1, A100, 40_960).spec()], { migPlanner: planner, idleMigInstances: 'keep' });
    const other = place(state, oneVgpu('p0', 19_000), 'm');
    const before = state.snapshot('m');
    const first = place(state, oneVgpu('p1', 9000), 'm');
    const mig = first.containers[0]?.devices[0]?.mig;
    if (!mig) throw new Error('expected a MIG device');
    expect(mig.plan.some((op) => op.action === 'create')).toBe(true);
    expect(state.migOpsApplied.created).toBeGreaterThanOrEqual(2);
    expect(state.release('uid-p1').ok).toBe(true);
    const released = state.snapshot('m');
    const gpu = released?.gpus[0];
    // Accounting back to exactly the values before apply; the instance stays, free.
    expect({ ...released, gpus: released?.gpus.map((g) => ({ ...g, migInstances: null })) }).toEqual({ ...before, gpus: before?.gpus.map((g) => ({ ...g, migInstances: null })) });
    expect(gpu?.migInstances).toContainEqual({ profile: mig.profile, start: mig.start, inUse: false });
    // The instance in use (p0's) is untouched.
    const held = other.containers[0]?.devices[0]?.mig;
    expect(gpu?.migInstances).toContainEqual({ profile: held?.profile, start: held?.start, inUse: true });
    const opsBefore = { ...state.migOpsApplied };
    const second = place(state, oneVgpu('p2', 9000), 'm');
    const again = second.containers[0]?.devices[0]?.mig;
    expect(again).toMatchObject({ profile: mig.profile, start: mig.start });
    expect(again?.plan.some((op) => op.action === 'create')).toBe(false);
    expect(state.migOpsApplied).toEqual(opsBefore);
    expect(state.snapshot('m')?.gpus[0]?.migInstances).toContainEqual({ profile: held?.profile, start: held?.start, inUse: true });
  });

  it("defaults to 'destroy': release takes the created instance away", () => {
    const state = new ClusterState([node('m', 'mig').gpus(1, A100, 40_960).spec()], { migPlanner: planner });
    const before = state.snapshot('m');
    place(state, oneVgpu('p1', 9000), 'm');
    expect(state.release('uid-p1').ok).toBe(true);
    expect(state.snapshot('m')).toEqual(before);
  });
});

describe('allocator properties (mixed MIG and hami-core)', () => {
  const MODELS = [{ model: A100, memoryMiB: 40_960 }];
  const clusterArb: fc.Arbitrary<NodeSpec[]> = fc.tuple(nodeSpecArb('mig0', 'mig', MODELS), nodeSpecArb('mig1', 'mig', MODELS), nodeSpecArb('core0', 'hami-core', MODELS));
  const model = resolveGpuModel(A100);
  let placed = 0;
  afterAll(() => expect(placed).toBeGreaterThan(100));

  it('never gives an instance twice, never moves or destroys one in use, keeps layouts legal, and releases exactly', () => {
    if (!model.ok) throw new Error('catalog lacks the A100');
    const steps = fc.array(fc.tuple(requestArb('x'), fc.constantFrom(...Object.keys(POLICIES)), fc.nat(), fc.boolean()), { maxLength: 25 });
    // The plain engine, and Tessera's planner, which carves and never reshapes a busy GPU.
    const planners = [
      planner,
      tesseraMigPlanner({
        demand: {
          byMemoryMiB: [
            { memoryMiB: 4000, weight: 3 },
            { memoryMiB: 19_000, weight: 1 },
          ],
        },
      }),
    ];
    fc.assert(
      fc.property(clusterArb, steps, fc.constantFrom(...planners), (specs, stream, migPlanner) => {
        const state = new ClusterState(specs, { migPlanner });
        let uid = 0;
        for (const [template, policyName, pick, release] of stream) {
          if (release) {
            const held = state.allocations();
            const victim = held[pick % Math.max(1, held.length)];
            if (victim) expect(state.release(victim.pod.uid).ok).toBe(true);
          } else {
            const request = { ...template, pod: { ...template.pod, uid: `u${uid++}` } };
            const policy = POLICIES[policyName] ?? hamiPolicy;
            const top = schedule(state, request, policy).ranked[0];
            if (top) {
              const decided = decide(state, request, top.node, policy);
              if (!decided.ok) throw new Error(`ranked node refused: ${JSON.stringify(decided.error)}`);
              const before = state.snapshot(top.node);
              expect(state.apply(decided.value).ok).toBe(true);
              expect(state.release(request.pod.uid).ok).toBe(true);
              expect(state.snapshot(top.node)).toEqual(before);
              expect(state.apply(decided.value).ok).toBe(true);
              placed++;
            }
          }
          // Every held MIG device names an instance that exists, is in use, and is held by nobody else.
          for (const spec of specs.filter((s) => s.mode === 'mig')) {
            const view = state.node(spec.name);
            const held = state
              .allocations()
              .filter((a) => a.node === spec.name)
              .flatMap((a) => a.containers.flatMap((c) => c.devices));
            for (const gpu of view?.gpus ?? []) {
              const instances = gpu.migInstances ?? [];
              expect(validateLayout(model.value, instances).ok).toBe(true);
              const mine = held.filter((d) => d.uuid === gpu.uuid).map((d) => `${d.mig?.profile}@${d.mig?.start}`);
              expect(new Set(mine).size).toBe(mine.length);
              expect(
                instances
                  .filter((i) => i.inUse)
                  .map((i) => `${i.profile}@${i.start}`)
                  .sort(),
              ).toEqual([...mine].sort());
              expect(gpu.usedMemoryMiB).toBeLessThanOrEqual(gpu.memoryMiB);
              expect(gpu.usedCores).toBeLessThanOrEqual(gpu.coreUnits);
            }
          }
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('tessera and MIG layout changes', () => {
  it('ranks a node that serves the pod from a free instance above a fuller node that must reconfigure', () => {
    // 'full' runs a 3g.20gb (half its memory used) and has only empty slices left; 'idle-instance' runs nothing but
    // holds a free 1g.10gb from an earlier pod. Fuller wins on packing alone; no change wins for tessera.
    const nodes = [
      node('full', 'mig')
        .gpus(1, A100, 40_960, { migInstances: [{ profile: '3g.20gb', start: 4 }] })
        .spec(),
      node('idle-instance', 'mig')
        .gpus(1, A100, 40_960, { migInstances: [{ profile: '1g.10gb', start: 0 }] })
        .spec(),
    ];
    const state = new ClusterState(nodes, { migPlanner: planner, idleMigInstances: 'keep' });
    place(state, oneVgpu('running', 19_000), 'full');
    const request = oneVgpu('next', 9000);
    const ranked = schedule(state, request, tesseraPolicy).ranked;
    expect(ranked.map((r) => r.node)).toEqual(['idle-instance', 'full']);
    expect(ranked.map((r) => r.placement.migLayoutChanges)).toEqual([0, 1]);
    const chosen = decide(state, request, 'idle-instance', tesseraPolicy);
    expect(chosen.ok && chosen.value.containers[0]?.devices[0]?.mig).toEqual({ profile: '1g.10gb', start: 0, plan: [] });
    // HAMi's formula packs onto the fuller node, which needs a create.
    expect(schedule(state, request, hamiPolicy).ranked[0]?.node).toBe('full');
  });

  it('counts one reconfiguration per GPU whose layout an apply changes, and every op', () => {
    const state = new ClusterState(
      [
        node('m', 'mig')
          .gpus(2, A100, 40_960, {
            migInstances: [
              { profile: '1g.5gb', start: 0 },
              { profile: '1g.5gb', start: 1 },
            ],
          })
          .spec(),
      ],
      {
        migPlanner: planner,
        idleMigInstances: 'keep',
      },
    );
    // Two 1g.5gb on GPU 0 are free: the first pod reuses one, no change.
    place(state, oneVgpu('small', 4000), 'm');
    expect(state.migOpsApplied).toEqual({ created: 0, destroyed: 0, reconfigurations: 0 });
    // A two-instance pod needing 20 GB each: new instances on both GPUs (or two on one), each GPU counted once.
    const two = place(
      state,
      pod('two')
        .container({ [GPU]: 2, [MEM]: 19_000 })
        .request(),
      'm',
    );
    const gpus = new Set(two.containers[0]?.devices.filter((d) => (d.mig?.plan.length ?? 0) > 0).map((d) => d.uuid));
    const ops = two.containers[0]?.devices.reduce((sum, d) => sum + (d.mig?.plan.length ?? 0), 0) ?? 0;
    expect(state.migOpsApplied.reconfigurations).toBe(gpus.size);
    expect(state.migOpsApplied.created + state.migOpsApplied.destroyed).toBe(ops);
    expect(gpus.size).toBeGreaterThan(0);
  });

  const demand = {
    byMemoryMiB: [
      { memoryMiB: 9000, weight: 3 },
      { memoryMiB: 38_000, weight: 1 },
    ],
  };

  it('puts a 40 GB pod where the change keeps the most room: half an H100, not all of an A100', () => {
    const nodes = [node('a100', 'mig').gpus(1, A100, 40_960).spec(), node('h100', 'mig').gpus(1, H100, 81_920).spec()];
    const state = new ClusterState(nodes, { migPlanner: tesseraMigPlanner({ demand }), idleMigInstances: 'keep' });
    const request = oneVgpu('big', 38_000);
    const [top] = schedule(state, request, tesseraPolicy).ranked;
    expect(top?.node).toBe('h100');
    expect(top?.placement.containers[0]?.[0]?.mig?.profile).toBe('3g.40gb');
  });

  it('carves the rest of the GPU in the same change, so the next pods reuse without changing anything', () => {
    const state = new ClusterState([node('h100', 'mig').gpus(1, H100, 81_920).spec()], { migPlanner: tesseraMigPlanner({ demand }), idleMigInstances: 'keep' });
    const first = place(state, oneVgpu('big', 38_000), 'h100', tesseraPolicy);
    const plan = first.containers[0]?.devices[0]?.mig?.plan ?? [];
    expect(
      plan
        .filter((op) => op.action === 'create')
        .map((op) => op.profile)
        .sort(),
    ).toEqual(['1g.10gb', '1g.10gb', '1g.10gb', '1g.10gb', '3g.40gb']);
    expect(state.migOpsApplied.reconfigurations).toBe(1);
    for (let i = 0; i < 4; i++) {
      const small = decide(
        state,
        pod(`small-${i}`)
          .container({ [GPU]: 1, [MEM]: 9000 })
          .request(),
        'h100',
        tesseraPolicy,
      );
      if (!small.ok) throw new Error('a carved 1g.10gb should take it');
      expect(small.value.containers[0]?.devices[0]?.mig?.plan).toEqual([]);
      expect(state.apply(small.value).ok).toBe(true);
    }
    expect(state.migOpsApplied.reconfigurations).toBe(1);
  });

  it('takes a free instance of about the right size anywhere before a change, but re-carves an idle GPU before wasting a far larger one', () => {
    const nodes = [
      node('carved', 'mig')
        .gpus(1, A100, 40_960, { migInstances: [{ profile: '2g.10gb', start: 0 }] })
        .spec(),
      node('empty', 'mig').gpus(1, A100, 40_960).spec(),
      node('whole', 'mig')
        .gpus(1, A100, 40_960, { migInstances: [{ profile: '7g.40gb', start: 0 }] })
        .spec(),
    ];
    const state = new ClusterState(nodes, { migPlanner: tesseraMigPlanner(), idleMigInstances: 'keep' });
    // 6,000 MiB in a free 2g.10gb (1.6x, within OVERSIZE): no change, ranked first.
    const ranked = schedule(state, oneVgpu('a', 6000), tesseraPolicy).ranked;
    expect(ranked[0]?.node).toBe('carved');
    expect(ranked[0]?.placement.migLayoutChanges).toBe(0);
    // 3,000 MiB in the free 7g.40gb would hold 13x its memory idle: creating a 1g.5gb on the empty GPU wins.
    const small = schedule(state, oneVgpu('b', 3000), tesseraPolicy).ranked;
    expect(small.map((r) => r.node).indexOf('whole')).toBeGreaterThan(small.map((r) => r.node).indexOf('empty'));
  });
});

describe('tessera policy on MIG with hami.io/gpu-scheduler-policy', () => {
  it("binpack puts a pod's instances on one GPU where they fit (HAMi's dynamic_mig_example); the default spreads by value", () => {
    const state = (): ClusterState => new ClusterState([node('m', 'mig').gpus(2, A100, 40_960).spec()], { migPlanner: tesseraMigPlanner() });
    const binpack = pod('bp')
      .container({ [GPU]: 2, [MEM]: 8000 })
      .annotate('hami.io/gpu-scheduler-policy', 'binpack')
      .request();
    const packed = place(state(), binpack, 'm', tesseraPolicy).containers[0]?.devices ?? [];
    expect(packed).toHaveLength(2);
    expect(new Set(packed.map((d) => d.uuid)).size).toBe(1);
    const plain =
      place(
        state(),
        pod('p')
          .container({ [GPU]: 2, [MEM]: 8000 })
          .request(),
        'm',
        tesseraPolicy,
      ).containers[0]?.devices ?? [];
    expect(plain).toHaveLength(2);
  });
});
