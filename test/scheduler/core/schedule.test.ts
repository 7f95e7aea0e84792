import { describe, expect, it } from 'vitest';
import { ClusterState, decide, eachFit, schedule, type Allocation, type NodeFit } from '../../../src/scheduler/core/index.js';
import { hamiPolicy, packingPolicy, bestfitPolicy, type RunContext } from '../../../src/scheduler/policies/index.js';
import { node, pod } from './builders.js';
import type { PodRequest } from '../../../src/request/index.js';

const GPU = 'nvidia.com/gpu';
const MEM = 'nvidia.com/gpumem';
const CORES = 'nvidia.com/gpucores';

function place(state: ClusterState, request: PodRequest, nodeName: string): Allocation {
  const decided = decide(state, request, nodeName, hamiPolicy);
  if (!decided.ok) throw new Error(`expected a fit: ${JSON.stringify(decided.error)}`);
  const applied = state.apply(decided.value);
  if (!applied.ok) throw new Error(`apply refused: ${JSON.stringify(applied.error)}`);
  return decided.value;
}

describe('fit outcomes', () => {
  const state = new ClusterState([node('a').gpus(2).spec(), node('b').gpus(1, 'Tesla T4', 15_360).spec(), node('m', 'mig').gpus(1).spec(), node('cpu').resources(2000, 4096).spec()]);

  it('says which nodes fail and why, with the outcome kind', () => {
    const request = pod()
      .container({ [GPU]: 2, [MEM]: 20_000 })
      .annotate('nvidia.com/vgpu-mode', 'hami-core')
      .request();
    const { ranked, failed } = schedule(state, request, hamiPolicy);
    expect(ranked.map((r) => r.node)).toEqual(['a']);
    expect(failed).toEqual([
      { node: 'b', outcome: 'unresolvable', reasons: [{ kind: 'TooFewGpus', requested: 2, usable: 1 }] },
      { node: 'm', outcome: 'unresolvable', reasons: [{ kind: 'ModeMismatch', requested: 'hami-core', node: 'mig' }] },
      { node: 'cpu', outcome: 'unresolvable', reasons: [{ kind: 'TooFewGpus', requested: 1, usable: 0 }] },
    ]);
  });

  it('treats memory larger than any GPU as unresolvable, and a full GPU as unschedulable', () => {
    const huge = pod('huge')
      .container({ [GPU]: 1, [MEM]: 50_000 })
      .annotate('nvidia.com/vgpu-mode', 'hami-core')
      .request();
    expect(decide(state, huge, 'a', hamiPolicy)).toMatchObject({ ok: false, error: { outcome: 'unresolvable', reasons: [{ resource: 'gpumem' }] } });
    const whole = pod('whole')
      .container({ [GPU]: 1 })
      .request();
    const local = new ClusterState([node('b').gpus(1, 'Tesla T4', 15_360).spec()]);
    place(local, whole, 'b');
    expect(
      decide(
        local,
        pod('next')
          .container({ [GPU]: 1, [MEM]: 10 })
          .request(),
        'b',
        hamiPolicy,
      ),
    ).toMatchObject({
      ok: false,
      error: { outcome: 'unschedulable', reasons: [{ kind: 'InsufficientResource' }] },
    });
  });

  it('filters by type and UUID, case-insensitively for types', () => {
    const t4 = pod()
      .container({ [GPU]: 1, [MEM]: 1000 })
      .annotate('nvidia.com/use-gputype', 't4')
      .request();
    expect(schedule(state, t4, hamiPolicy).ranked.map((r) => r.node)).toEqual(['b']);
    const notA = pod()
      .container({ [GPU]: 1, [MEM]: 1000 })
      .annotate('nvidia.com/nouse-gpuuuid', 'GPU-a-0,GPU-a-1')
      .request();
    const result = decide(state, notA, 'a', hamiPolicy);
    expect(result).toMatchObject({ ok: false, error: { outcome: 'unresolvable', reasons: [{ kind: 'NoEligibleGpu', filter: 'uuid' }] } });
  });

  it('keeps a mutex pod off GPUs other tasks use, and mps pods off every Tessera node', () => {
    const local = new ClusterState([node('a').gpus(2).spec()]);
    const first = place(
      local,
      pod('first')
        .container({ [GPU]: 1, [MEM]: 1000 })
        .annotate('hami.io/gpu-scheduler-policy', 'binpack')
        .request(),
      'a',
    );
    const used = first.containers[0]?.devices[0]?.uuid;
    // Binpack would share the used GPU; mutex takes the other one (HAMi: a GPU with Used > 0 is skipped).
    const mutex = pod('mutex')
      .container({ [GPU]: 1, [MEM]: 1000 })
      .annotate('hami.io/gpu-scheduler-policy', 'mutex')
      .request();
    const second = place(local, mutex, 'a');
    expect(second.containers[0]?.devices[0]?.uuid).not.toBe(used);
    expect(
      decide(
        local,
        pod('third')
          .container({ [GPU]: 1, [MEM]: 1000 })
          .annotate('hami.io/gpu-scheduler-policy', 'mutex')
          .request(),
        'a',
        hamiPolicy,
      ),
    ).toMatchObject({ ok: false });
    expect(
      decide(
        local,
        pod('shared')
          .container({ [GPU]: 1, [MEM]: 1000 })
          .request(),
        'a',
        hamiPolicy,
      ),
    ).toMatchObject({ ok: true });
    const mps = pod('mps')
      .container({ [GPU]: 1 })
      .annotate('nvidia.com/vgpu-mode', 'mps')
      .request();
    expect(decide(state, mps, 'a', hamiPolicy)).toMatchObject({ ok: false, error: { outcome: 'unresolvable', reasons: [{ kind: 'ModeMismatch', requested: 'mps', node: 'hami-core' }] } });
  });

  it('checks CPU and memory, and lets CPU-only pods use any node', () => {
    const big = pod().container({ cpu: '3' }).request();
    expect(decide(state, big, 'cpu', hamiPolicy)).toMatchObject({ ok: false, error: { reasons: [{ kind: 'InsufficientResource', resource: 'cpu' }] } });
    expect(schedule(state, pod().container({ cpu: '1' }).request(), hamiPolicy).ranked).toHaveLength(4);
  });

  it('reports an unknown candidate', () => {
    const result = schedule(state, pod().container({ cpu: '1' }).request(), hamiPolicy, { candidates: ['nope', 'a'] });
    expect(result.failed).toEqual([{ node: 'nope', outcome: 'unresolvable', reasons: [{ kind: 'UnknownNode', node: 'nope' }] }]);
    expect(result.ranked.map((r) => r.node)).toEqual(['a']);
  });
});

describe('HAMi-core sharing rules', () => {
  it('keeps an exclusive vGPU alone and refuses a 0-core task on a GPU whose cores are taken', () => {
    const state = new ClusterState([node('a').gpus(1).spec()]);
    place(
      state,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 1000, [CORES]: 100 })
        .request(),
      'a',
    );
    expect(
      decide(
        state,
        pod('p2')
          .container({ [GPU]: 1, [MEM]: 1000 })
          .request(),
        'a',
        hamiPolicy,
      ).ok,
    ).toBe(false);
    const other = new ClusterState([node('a').gpus(1).spec()]);
    place(
      other,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 1000, [CORES]: 10 })
        .request(),
      'a',
    );
    expect(
      decide(
        other,
        pod('p2')
          .container({ [GPU]: 1, [MEM]: 1000, [CORES]: 100 })
          .request(),
        'a',
        hamiPolicy,
      ).ok,
    ).toBe(false);
  });

  it('caps tasks per GPU at the split count', () => {
    const state = new ClusterState([node('a').gpus(1).splitCount(2).spec()]);
    place(
      state,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 10 })
        .request(),
      'a',
    );
    place(
      state,
      pod('p2')
        .container({ [GPU]: 1, [MEM]: 10 })
        .request(),
      'a',
    );
    expect(
      decide(
        state,
        pod('p3')
          .container({ [GPU]: 1, [MEM]: 10 })
          .request(),
        'a',
        hamiPolicy,
      ),
    ).toMatchObject({
      ok: false,
      error: { outcome: 'unschedulable', reasons: [{ resource: 'gpuslots', requested: 1, used: 2, capacity: 2 }] },
    });
  });

  it("puts one container's vGPUs on distinct GPUs, and may reuse a GPU across containers", () => {
    const state = new ClusterState([node('a').gpus(2).spec()]);
    const allocation = place(
      state,
      pod()
        .container({ [GPU]: 2, [MEM]: 1000 })
        .container({ [GPU]: 1, [MEM]: 1000 })
        .request(),
      'a',
    );
    const first = allocation.containers[0]?.devices.map((d) => d.uuid) ?? [];
    expect(new Set(first).size).toBe(2);
    expect(allocation.containers[1]?.devices).toHaveLength(1);
  });

  it('resolves percentages against each GPU', () => {
    const state = new ClusterState([node('a').gpus(1, 'A100', 40_000).spec()]);
    const allocation = place(
      state,
      pod()
        .container({ [GPU]: 1, 'nvidia.com/gpumem-percentage': 25 })
        .request(),
      'a',
    );
    expect(allocation.containers[0]?.devices[0]).toMatchObject({ memoryMiB: 10_000, cores: 0 });
  });
});

describe('GPU and node packing', () => {
  const ctx = (gpuPolicy: 'binpack' | 'spread', nodePolicy: 'binpack' | 'spread'): RunContext => ({ gpuPolicy, nodePolicy });

  it('GPU binpack stacks on the used GPU, spread takes the empty one', () => {
    const state = new ClusterState([node('a').gpus(2).spec()]);
    place(
      state,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 1000, [CORES]: 10 })
        .request(),
      'a',
    );
    const request = pod('p2')
      .container({ [GPU]: 1, [MEM]: 1000, [CORES]: 10 })
      .request();
    const gpuOf = (c: RunContext): string | undefined => {
      const r = decide(state, request, 'a', hamiPolicy, c);
      return r.ok ? r.value.containers[0]?.devices[0]?.uuid : undefined;
    };
    expect(gpuOf(ctx('binpack', 'binpack'))).toBe('GPU-a-0');
    expect(gpuOf(ctx('spread', 'binpack'))).toBe('GPU-a-1');
  });

  it('node binpack prefers the fuller node, spread the emptier, and the annotation overrides the default', () => {
    const state = new ClusterState([node('a').gpus(1).spec(), node('b').gpus(1).spec()]);
    place(
      state,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 20_000, [CORES]: 50 })
        .request(),
      'b',
    );
    const request = pod('p2')
      .container({ [GPU]: 1, [MEM]: 1000, [CORES]: 10 })
      .request();
    for (const policy of [hamiPolicy, packingPolicy]) {
      expect(schedule(state, request, policy, { context: ctx('spread', 'binpack') }).ranked[0]?.node).toBe('b');
      expect(schedule(state, request, policy, { context: ctx('spread', 'spread') }).ranked[0]?.node).toBe('a');
      const annotated = pod('p3')
        .container({ [GPU]: 1, [MEM]: 1000, [CORES]: 10 })
        .annotate('hami.io/node-scheduler-policy', 'spread')
        .request();
      expect(schedule(state, annotated, policy, { context: ctx('spread', 'binpack') }).ranked[0]?.node).toBe('a');
    }
  });

  it('bestfit takes the GPU the request fills most tightly', () => {
    const state = new ClusterState([node('a').gpus(2).spec()]);
    place(
      state,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 30_000, [CORES]: 10 })
        .request(),
      'a',
    );
    const r = decide(
      state,
      pod('p2')
        .container({ [GPU]: 1, [MEM]: 10_000, [CORES]: 10 })
        .request(),
      'a',
      bestfitPolicy,
    );
    expect(r.ok && r.value.containers[0]?.devices[0]?.uuid).toBe('GPU-a-0');
  });

  it("breaks score ties by the caller's node rank, then by name", () => {
    const state = new ClusterState(['x', 'y', 'z'].map((n) => node(n).gpus(1).spec()));
    const request = pod()
      .container({ [GPU]: 1, [MEM]: 1000 })
      .request();
    const rank = new Map([
      ['z', 0],
      ['x', 1],
    ]);
    const ranked = schedule(state, request, hamiPolicy, { context: { ...ctx('spread', 'binpack'), nodeRank: (n) => rank.get(n) } }).ranked;
    expect(ranked.map((r) => r.node)).toEqual(['z', 'x', 'y']);
    expect(schedule(state, request, hamiPolicy, { limit: 1 }).ranked.map((r) => r.node)).toEqual(['x']);
  });

  it('eachFit visits the nodes schedule ranks, in candidate order, with the same scores, placements and failures', () => {
    const state = new ClusterState(['c', 'a', 'b', 'full'].map((n) => node(n).gpus(2).spec()));
    place(
      state,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 30_000, [CORES]: 40 })
        .request(),
      'b',
    );
    place(
      state,
      pod('p2')
        .container({ [GPU]: 2, [MEM]: 40_960, [CORES]: 100 })
        .request(),
      'full',
    );
    const request = pod()
      .container({ [GPU]: 1, [MEM]: 1000 })
      .request();
    const candidates = ['b', 'missing', 'full', 'c', 'a'];
    const ranked = schedule(state, request, hamiPolicy, { candidates });
    const visited: Array<{ node: string; score: number; version: number; devices: string }> = [];
    const failed: NodeFit[] = [];
    eachFit(
      state,
      request,
      hamiPolicy,
      { candidates },
      (fit) => visited.push({ node: fit.node, score: fit.score, version: fit.version, devices: JSON.stringify(fit.placement.containers) }),
      (fit) => failed.push(fit),
    );
    expect(ranked.ranked.map((r) => r.node)).toEqual(['b', 'a', 'c']);
    expect(visited.map((v) => v.node)).toEqual(['b', 'c', 'a']);
    for (const r of ranked.ranked) {
      expect(visited.find((v) => v.node === r.node)).toEqual({ node: r.node, score: r.score, version: r.version, devices: JSON.stringify(r.placement.containers) });
    }
    expect(failed).toEqual(ranked.failed);
    expect(failed.map((f) => f.node)).toEqual(['missing', 'full']);
  });
});

describe('ClusterState', () => {
  it('refuses an allocation that would over-commit, changing nothing', () => {
    const state = new ClusterState([node('a').gpus(1).spec()]);
    const before = state.snapshot('a');
    const allocation: Allocation = {
      pod: { uid: 'u', namespace: 'n', name: 'p' },
      node: 'a',
      mode: 'hami-core',
      cpuMilli: 0,
      memoryMiB: 0,
      containers: [
        {
          name: 'c',
          devices: [
            { uuid: 'GPU-a-0', index: 0, memoryMiB: 30_000, cores: 10 },
            { uuid: 'GPU-a-0', index: 0, memoryMiB: 30_000, cores: 10 },
          ],
        },
      ],
    };
    expect(state.apply(allocation)).toMatchObject({ ok: false, error: { kind: 'Inconsistent' } });
    expect(state.snapshot('a')).toEqual(before);
    expect(state.apply({ ...allocation, containers: [{ name: 'c', devices: [{ uuid: 'GPU-a-0', index: 0, memoryMiB: 50_000, cores: 10 }] }] })).toMatchObject({
      ok: false,
      error: { kind: 'InsufficientResource', resource: 'gpumem' },
    });
    expect(state.snapshot('a')).toEqual(before);
  });

  it('rebuilds from allocations, leaving out what no longer fits', () => {
    const source = new ClusterState([node('a').gpus(1).spec()]);
    const kept = place(
      source,
      pod('p1')
        .container({ [GPU]: 1, [MEM]: 30_000 })
        .request(),
      'a',
    );
    const extra: Allocation = { ...kept, pod: { ...kept.pod, uid: 'other' } };
    const { state, rejected } = ClusterState.fromAllocations([node('a').gpus(1).spec()], [kept, extra]);
    expect(state.allocations()).toEqual([kept]);
    expect(rejected).toEqual([{ allocation: extra, reason: expect.objectContaining({ resource: 'gpumem' }) }]);
    expect(state.snapshot('a')).toEqual(source.snapshot('a'));
  });

  it('bumps the node version on every change, and refuses to drop a node that holds pods', () => {
    const state = new ClusterState([node('a').gpus(1).spec()]);
    const v0 = state.node('a')?.version ?? 0;
    const allocation = place(
      state,
      pod()
        .container({ [GPU]: 1, [MEM]: 10 })
        .request(),
      'a',
    );
    expect(state.node('a')?.version).toBeGreaterThan(v0);
    expect(state.removeNode('a').ok).toBe(false);
    expect(state.release(allocation.pod.uid).ok).toBe(true);
    expect(state.release(allocation.pod.uid).ok).toBe(false);
    expect(state.removeNode('a').ok).toBe(true);
  });
});
