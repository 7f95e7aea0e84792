import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision, DecisionDevice } from '../../src/api/decision.js';
import { leadCount, mayJoinInFlight, pinsGpus, shapeOf, type PodShape, type ShapeContext } from '../../src/api/inflight.js';
import { decisionArb } from './arbitraries.js';

const models: Record<string, string> = { 'GPU-a': 'A100', 'GPU-b': 'A100', 'GPU-c': 'H100' };
const context: ShapeContext = { modelOf: (uuid) => models[uuid], pinned: false };

const dev = (uuid: string, memoryMiB: number, cores: number, profile?: string): DecisionDevice => ({
  uuid,
  index: Number(uuid.charCodeAt(4)),
  memoryMiB,
  cores,
  ...(profile ? { mig: { profile, start: 0, plan: [] } } : {}),
});

function decision(uid: string, containers: DecisionDevice[][], mode: Decision['mode'] = 'hami-core'): Decision {
  return {
    apiVersion: 'tessera.io/v1',
    kind: 'GpuDecision',
    pod: { uid, namespace: 'ns', name: uid },
    node: 'n1',
    mode,
    containers: containers.map((devices, i) => ({ name: `c${i}`, devices })),
    decidedAt: '2026-01-01T00:00:00Z',
  };
}

describe('shapeOf', () => {
  it("ignores which GPU of a model a grant is on, and the order of a container's devices", () => {
    const a = shapeOf(decision('p1', [[dev('GPU-a', 1000, 30), dev('GPU-b', 2000, 30)]]), context);
    const b = shapeOf(decision('p2', [[dev('GPU-a', 2000, 30), dev('GPU-b', 1000, 30)]]), context);
    expect(a.key).toBe(b.key);
  });

  it('tells apart grants that differ in model, memory, cores, MIG profile, mode or container layout', () => {
    const base = shapeOf(decision('p', [[dev('GPU-a', 1000, 30)]]), context).key;
    const variants = [
      decision('p', [[dev('GPU-c', 1000, 30)]]),
      decision('p', [[dev('GPU-a', 1001, 30)]]),
      decision('p', [[dev('GPU-a', 1000, 31)]]),
      decision('p', [[dev('GPU-a', 1000, 30, '1g.10gb')]], 'mig'),
      decision('p', [[dev('GPU-a', 1000, 30)]], 'mig'),
      decision('p', [[dev('GPU-a', 1000, 30)], [dev('GPU-b', 1000, 30)]]),
    ];
    for (const v of variants) expect(shapeOf(v, context).key).not.toBe(base);
  });

  it('skips containers without GPUs, as kubelet does', () => {
    const s = shapeOf(decision('p', [[], [dev('GPU-a', 1, 1), dev('GPU-b', 1, 1)], []]), context);
    expect(s.containers.map((c) => c.count)).toEqual([2]);
    expect(leadCount(s)).toBe(2);
  });

  it('keeps GPUs that pinned pods name, and treats GPUs of unknown model as unique', () => {
    const pinned = { ...context, pinned: true };
    expect(shapeOf(decision('p', [[dev('GPU-a', 1, 1)]]), pinned).key).not.toBe(shapeOf(decision('q', [[dev('GPU-b', 1, 1)]]), pinned).key);
    expect(shapeOf(decision('p', [[dev('GPU-a', 1, 1)]]), pinned).key).toBe(shapeOf(decision('q', [[dev('GPU-a', 1, 1)]]), pinned).key);
    expect(shapeOf(decision('p', [[dev('GPU-x', 1, 1)]]), context).key).not.toBe(shapeOf(decision('q', [[dev('GPU-y', 1, 1)]]), context).key);
  });

  it('reads pinning from the use-gpuuuid annotation only', () => {
    expect(pinsGpus({ 'nvidia.com/use-gpuuuid': 'GPU-a' })).toBe(true);
    expect(pinsGpus({ 'nvidia.com/use-gpuuuid': ' ' })).toBe(false);
    expect(pinsGpus({ 'nvidia.com/nouse-gpuuuid': 'GPU-a' })).toBe(false);
    expect(pinsGpus(undefined)).toBe(false);
  });

  it('is a function of what is granted, not of the pod (fuzz)', () => {
    fc.assert(
      fc.property(decisionArb, fc.uuid(), (d, uid) => {
        const other = { ...d, pod: { ...d.pod, uid }, decidedAt: '2031-01-01T00:00:00.000Z' };
        expect(shapeOf(other, context).key).toBe(shapeOf(d, context).key);
      }),
      { numRuns: 200 },
    );
  });
});

describe('mayJoinInFlight', () => {
  const one = shapeOf(decision('p', [[dev('GPU-a', 1000, 30)]]), context);
  const oneBigger = shapeOf(decision('p', [[dev('GPU-a', 4000, 30)]]), context);
  const two = shapeOf(decision('p', [[dev('GPU-a', 1000, 30), dev('GPU-b', 1000, 30)]]), context);

  it('lets any number of pods of one shape in flight together', () => {
    expect(mayJoinInFlight([one, one, one], one)).toEqual({ join: true });
  });

  it('lets pods of different shapes join when their lead counts differ', () => {
    expect(mayJoinInFlight([one, one], two)).toEqual({ join: true });
    expect(mayJoinInFlight([two], one)).toEqual({ join: true });
  });

  it('makes a pod wait when another shape with its lead count is in flight', () => {
    expect(mayJoinInFlight([two, one], oneBigger)).toEqual({ join: false, conflict: { kind: 'LeadCountTaken', leadCount: 1, inFlightShape: one.key } });
  });

  it('lets a pod without GPU containers through', () => {
    expect(mayJoinInFlight([one], shapeOf(decision('p', [[]]), context))).toEqual({ join: true });
  });

  /** Invariant: admitting pods one by one through the rule keeps every lead count owned by one shape. */
  it('keeps the first kubelet call of every in-flight pod unambiguous (property)', () => {
    const shapeArb = fc
      .array(fc.array(fc.record({ uuid: fc.constantFrom('GPU-a', 'GPU-b', 'GPU-c'), mem: fc.constantFrom(1000, 2000), cores: fc.constantFrom(30, 100) }), { minLength: 1, maxLength: 3 }), {
        minLength: 1,
        maxLength: 2,
      })
      .map((containers) =>
        shapeOf(
          decision(
            'p',
            containers.map((c) => c.map((d) => dev(d.uuid, d.mem, d.cores))),
          ),
          context,
        ),
      );
    fc.assert(
      fc.property(fc.array(shapeArb, { maxLength: 30 }), (candidates) => {
        const inFlight: PodShape[] = [];
        for (const c of candidates) if (mayJoinInFlight(inFlight, c).join) inFlight.push(c);
        const owner = new Map<number, string>();
        for (const s of inFlight) {
          const lead = leadCount(s);
          expect(owner.get(lead) ?? s.key).toBe(s.key);
          owner.set(lead, s.key);
        }
        // Every candidate of an already admitted shape was admitted too: same shapes never wait for each other.
        const admittedKeys = new Set(inFlight.map((s) => s.key));
        expect(candidates.filter((c) => admittedKeys.has(c.key)).length).toBe(inFlight.length);
      }),
      { numRuns: 200 },
    );
  });
});
