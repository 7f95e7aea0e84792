import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ClusterState, decide, schedule, type NodeSpec } from '../../../src/scheduler/core/index.js';
import { fgdPlacement, gradientPlacement } from '../../../src/scheduler/policies/fgd.js';
import { reachFragmentation } from '../../../src/scheduler/policies/tessera.js';
import type { TypicalShape } from '../../../src/scheduler/policies/frag.js';
import { fgdPolicy, oneWayFragment } from '../../../src/scheduler/policies/gradient.js';
import { DEFAULT_RUN_CONTEXT, POLICIES, tesseraPolicy } from '../../../src/scheduler/policies/index.js';
import { node, pod } from '../core/builders.js';
import { openbNodeSpec, openbRequest } from '../../../src/simulator/openb/replay.js';

const GPU = 'nvidia.com/gpu';
const MEM = 'nvidia.com/gpumem';
const CORES = 'nvidia.com/gpucores';
/** 10,000 MiB and 100 core units per GPU: a share of c cores and 100c MiB is exactly 10c milli-GPU. */
const GPU_MIB = 10_000;

const shapeArb: fc.Arbitrary<TypicalShape> = fc.record({
  cpu: fc.integer({ min: 0, max: 8 }).map((c) => c * 1000),
  milli: fc.integer({ min: 0, max: 100 }).map((c) => c * 10),
  gpus: fc.integer({ min: 0, max: 3 }),
  models: fc.constant([]),
  freq: fc.constant(0),
});
const typicalArb = fc.array(shapeArb, { minLength: 1, maxLength: 4 }).map((shapes) => shapes.map((s) => ({ ...s, freq: 1 / shapes.length })));

describe('fgd on the allocator', () => {
  it('is registered with the other allocator policies', () => {
    expect(POLICIES.fgd).toBe(fgdPolicy);
  });

  it('scores and chooses exactly as the published FGD (fgd.ts) on the same fractional node', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 16 }),
        typicalArb,
        (usedTenths, podTenths, cpuCores, typical) => {
          const spec: NodeSpec = node('n', 'hami-core')
            .gpus(usedTenths.length, 'T4', GPU_MIB)
            .resources(cpuCores * 1000 + 1000, 64_000)
            .spec();
          const state = new ClusterState([spec]);
          // Use each GPU to its tenth with one pod pinned to it.
          usedTenths.forEach((tenths, g) => {
            if (tenths === 0) return;
            const filler = pod(`fill-${g}`)
              .container({ [GPU]: 1, [MEM]: tenths * 1000, [CORES]: tenths * 10 }, { cpu: '0' })
              .annotate('nvidia.com/use-gpuuuid', `GPU-n-${g}`)
              .request();
            const placed = decide(state, filler, 'n', fgdPolicy);
            if (!placed.ok || !state.apply(placed.value).ok) throw new Error('filler must fit');
          });
          const request = pod('p')
            .container({ [GPU]: 1, [MEM]: podTenths * 1000, [CORES]: podTenths * 10 }, { cpu: '1' })
            .request();
          const context = { ...DEFAULT_RUN_CONTEXT, typical };
          const [top] = schedule(state, request, fgdPolicy, { context }).ranked;
          const view = state.node('n');
          const published = view
            ? fgdPlacement({ model: 'T4', cpuLeft: view.cpuLeft, gpuLeft: Array.from(view.gpuLeft), gpuTasks: [] }, { cpu: 1000, milli: podTenths * 100, gpus: 1, models: [] }, typical)
            : null;
          const fits = usedTenths.some((t) => t + podTenths <= 10);
          expect(top !== undefined).toBe(fits);
          if (!top || !published) return;
          expect(top.score).toBe(published.score);
          expect(top.placement.containers[0]?.map((o) => o.gpu)).toEqual(published.gpus);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('tessera ranks HAMi-core nodes by its own fragment gradient when the run knows the typical requests', () => {
    // Two nodes: 'tight' has a GPU with 300 milli left, 'roomy' only empty GPUs. A 300-milli pod on 'tight' leaves
    // no fragment; on 'roomy' it cuts a whole GPU the typical whole-GPU request needs.
    const nodes = [node('roomy', 'hami-core').gpus(2, 'T4', GPU_MIB).spec(), node('tight', 'hami-core').gpus(2, 'T4', GPU_MIB).spec()];
    const state = new ClusterState(nodes);
    const filler = pod('fill')
      .container({ [GPU]: 1, [MEM]: 7000, [CORES]: 70 }, { cpu: '0' })
      .annotate('nvidia.com/use-gpuuuid', 'GPU-tight-0')
      .request();
    const placed = decide(state, filler, 'tight', tesseraPolicy);
    if (!placed.ok || !state.apply(placed.value).ok) throw new Error('filler must fit');
    const whole: TypicalShape = { cpu: 1000, milli: 1000, gpus: 2, models: [], freq: 1 };
    const request = pod('p')
      .container({ [GPU]: 1, [MEM]: 3000, [CORES]: 30 }, { cpu: '1' })
      .request();
    const ranked = schedule(state, request, tesseraPolicy, { context: { ...DEFAULT_RUN_CONTEXT, typical: [whole] } }).ranked;
    expect(ranked[0]?.node).toBe('tight');
    expect(ranked[0]?.placement.containers[0]?.[0]?.gpu).toBe(0);
  });
});

describe('incremental gradient scores', () => {
  const podArb = fc.record({
    cpuMilli: fc.integer({ min: 0, max: 12 }).map((c) => c * 1000 + (c % 3) * 250),
    gpus: fc.constantFrom(0, 1, 1, 1, 2),
    gpuMilli: fc.integer({ min: 1, max: 10 }).map((t) => t * 100),
  });
  const stepArb = fc.record({ pod: podArb, release: fc.boolean(), pick: fc.nat() });
  const cpuTypicalArb = fc
    .array(
      fc.record({
        cpu: fc.integer({ min: 0, max: 8 }).map((c) => c * 1500),
        milli: fc.integer({ min: 1, max: 10 }).map((t) => t * 100),
        gpus: fc.integer({ min: 0, max: 2 }),
        models: fc.constant([]),
        freq: fc.constant(0),
      }),
      { minLength: 1, maxLength: 4 },
    )
    .map((shapes) => shapes.map((s) => ({ ...s, freq: 1 / shapes.length })));

  it('kept scores equal the published search on the node as it is, through placements, releases and CPU changes', () => {
    fc.assert(
      fc.property(cpuTypicalArb, fc.array(stepArb, { minLength: 1, maxLength: 30 }), (typical, steps) => {
        const nodes = ['a', 'b', 'c'].map((name, i) => openbNodeSpec({ name, cpuMilli: 16_000 + i * 8000, memoryMib: 1 << 20, gpus: 2 + i * 2, model: 'G2' }));
        const state = new ClusterState(nodes);
        const context = { ...DEFAULT_RUN_CONTEXT, typical };
        const placed: string[] = [];
        steps.forEach((step, i) => {
          const shape = { ...step.pod, gpuMilli: step.pod.gpus > 1 ? 1000 : step.pod.gpuMilli };
          const request = openbRequest({ name: `p${i}`, memoryMib: 0, gpuSpec: [], ...shape });
          const { ranked } = schedule(state, request, fgdPolicy, { context });
          for (const r of ranked) {
            const view = state.node(r.node);
            if (!view) throw new Error('ranked node must exist');
            const published = fgdPlacement(
              { model: view.model, cpuLeft: view.cpuLeft, gpuLeft: Array.from(view.gpuLeft), gpuTasks: [] },
              { cpu: shape.cpuMilli, milli: shape.gpuMilli, gpus: shape.gpus, models: [] },
              typical,
            );
            expect(r.score).toBe(published?.score);
          }
          // tessera's HAMi-core band over its own measure, against the published search over that measure.
          for (const r of schedule(state, request, tesseraPolicy, { context }).ranked) {
            const view = state.node(r.node);
            if (!view) throw new Error('ranked node must exist');
            // The search reads the node before the pod first; its stranded part counts one way from there.
            const parts = new Float64Array(1);
            let strandedBefore: number | null = null;
            const published = gradientPlacement(
              { model: view.model, cpuLeft: view.cpuLeft, gpuLeft: Array.from(view.gpuLeft), gpuTasks: [] },
              { cpu: shape.cpuMilli, milli: shape.gpuMilli, gpus: shape.gpus, models: [] },
              (n) => {
                const fragment = reachFragmentation(n, typical, undefined, parts);
                if (strandedBefore === null) {
                  strandedBefore = parts[0] ?? 0;
                  return fragment;
                }
                return oneWayFragment(fragment, strandedBefore, parts[0] ?? 0);
              },
            );
            expect(r.score).toBeCloseTo(100 * (2 / 3 + (published?.score ?? 0) / 300), 9);
          }
          const top = ranked[0];
          const decided = top ? decide(state, request, top.node, fgdPolicy, context) : null;
          if (decided?.ok && state.apply(decided.value).ok) placed.push(request.pod.uid);
          if (step.release && placed.length > 0) {
            const [uid] = placed.splice(step.pick % placed.length, 1);
            if (uid) expect(state.release(uid).ok).toBe(true);
          }
        });
      }),
      { numRuns: 150 },
    );
  });
});
