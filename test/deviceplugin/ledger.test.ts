/**
 * The ledger against a model of kubelet: pods admitted by the in-flight rule, admitted by kubelet in any order
 * with any interleaving of what the plugin learns afterwards. Every container must be answered with a grant of
 * its own pod's shape, and in the end every pod is recorded with exactly what it was handed, the grants only
 * moved between pods of one shape.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision, DecisionDevice } from '../../src/api/decision.js';
import { mayJoinInFlight, shapeOf, type PodShape } from '../../src/api/inflight.js';
import { Ledger, contentOf, gpuContainersOf, type PendingGrant } from '../../src/deviceplugin/ledger.js';

const context = { modelOf: () => 'A100', pinned: false };
const GPUS = ['GPU-a', 'GPU-b', 'GPU-c', 'GPU-d'];

function decisionFor(uid: string, containers: { count: number; memoryMiB: number }[], gpuOffset: number): Decision {
  return {
    apiVersion: 'tessera.io/v1',
    kind: 'GpuDecision',
    pod: { uid, namespace: 'ns', name: uid },
    node: 'n1',
    mode: 'hami-core',
    containers: containers.map((c, i) => ({
      name: `c${i}`,
      devices: Array.from({ length: c.count }, (_, k): DecisionDevice => {
        const g = (gpuOffset + k) % GPUS.length;
        return { uuid: GPUS[g] ?? '', index: g, memoryMiB: c.memoryMiB, cores: 10 };
      }),
    })),
    decidedAt: '2026-01-01T00:00:00Z',
  };
}

const podArb = fc.record({
  containers: fc.array(fc.record({ count: fc.integer({ min: 0, max: 3 }), memoryMiB: fc.constantFrom(1000, 2000) }), { minLength: 1, maxLength: 3 }),
  gpuOffset: fc.nat(3),
});
type PodSpecArb = typeof podArb extends fc.Arbitrary<infer T> ? T : never;

/** The pods of `specs` that may be in flight together (src/api/inflight.ts), each with at least `minGpuContainers`. */
function grantsInFlight(specs: readonly PodSpecArb[], minGpuContainers: number): PendingGrant[] {
  const shapes: PodShape[] = [];
  const grants: PendingGrant[] = [];
  specs.forEach((spec, i) => {
    const decision = decisionFor(`p${i}`, spec.containers, spec.gpuOffset);
    const shape = shapeOf(decision, context);
    if (shape.containers.length < minGpuContainers || !mayJoinInFlight(shapes, shape).join) return;
    shapes.push(shape);
    grants.push({ pod: decision.pod, decision, shape, order: i });
  });
  return grants;
}

describe('Ledger', () => {
  it("answers every kubelet call with the admitted pod's own shape and records each pod with what it got", () => {
    fc.assert(
      fc.property(fc.array(podArb, { minLength: 1, maxLength: 8 }), fc.infiniteStream(fc.nat()), (specs, choices) => {
        const grants = grantsInFlight(specs, 1);
        const ledger = new Ledger();
        ledger.setPending(grants);
        const pick = choices[Symbol.iterator]();
        const next = (n: number): number => (pick.next().value as number) % n;
        const toAdmit = [...grants];
        const admitted: { grant: PendingGrant; ids: string[][]; got: DecisionDevice[][] }[] = [];
        let serial = 0;
        const learnOne = (): void => {
          const i = admitted.findIndex((a) => ledger.pendingGrants().some((g) => g.pod.uid === a.grant.pod.uid));
          const a = admitted[i];
          if (!a) return;
          const learned = ledger.learn(a.grant.pod, a.ids);
          expect(learned).toBeDefined();
          // Each side of an exchange names the other, so the scheduler applies the two writes together.
          if (learned?.swappedWith) {
            expect(learned.received.decision.exchangedWith).toBe(learned.swappedWith.pod.uid);
            expect(learned.swappedWith.decision.exchangedWith).toBe(a.grant.pod.uid);
          }
        };
        while (toAdmit.length > 0) {
          if (next(3) === 0) learnOne();
          const [grant] = toAdmit.splice(next(toAdmit.length), 1);
          if (!grant) break;
          const ids: string[][] = [];
          const got: DecisionDevice[][] = [];
          for (const want of gpuContainersOf(grant.decision)) {
            const callIds = want.map(() => `dev::${serial++}`);
            const resolution = ledger.resolve(callIds);
            expect(resolution.ok).toBe(true);
            if (!resolution.ok) return;
            // Same shape as the container kubelet is really allocating.
            expect(resolution.devices.map((d) => [d.memoryMiB, d.cores])).toEqual(want.map((d) => [d.memoryMiB, d.cores]));
            if (resolution.known) expect(resolution.known.uid).toBe(grant.pod.uid);
            ledger.commit(resolution, callIds, resolution.devices);
            ids.push(callIds);
            got.push(resolution.devices);
          }
          admitted.push({ grant, ids, got });
        }
        // Learn the rest, in whatever order kubelet's list gives them.
        for (const a of admitted) if (ledger.pendingGrants().some((g) => g.pod.uid === a.grant.pod.uid)) ledger.learn(a.grant.pod, a.ids);
        expect(ledger.pendingGrants()).toEqual([]);
        // What was handed out is the multiset of what was decided: grants moved, never duplicated or invented.
        const decided = grants.map((g) => contentOf(g.decision)).sort();
        const handed = admitted.map((a) => contentOf({ ...a.grant.decision, containers: a.got.map((devices, i) => ({ name: `c${i}`, devices })) })).sort();
        expect(handed).toEqual(decided);
      }),
      { numRuns: 300 },
    );
  });

  it('records pods whose first GPU container is an init container, which kubelet does not list, with what each got', () => {
    // kubelet hands the containers after an init container the IDs it held first (it has finished by then), and its
    // pod-resources record lists the app containers only: their IDs, each at its own position, settle the pod.
    fc.assert(
      fc.property(fc.array(podArb, { minLength: 1, maxLength: 8 }), fc.infiniteStream(fc.nat()), (specs, choices) => {
        const grants = grantsInFlight(specs, 2);
        const ledger = new Ledger();
        ledger.setPending(grants);
        const pick = choices[Symbol.iterator]();
        const next = (n: number): number => (pick.next().value as number) % n;
        const toAdmit = [...grants];
        const admitted: { grant: PendingGrant; listed: (string[] | null)[]; got: DecisionDevice[][] }[] = [];
        let serial = 0;
        while (toAdmit.length > 0) {
          const [grant] = toAdmit.splice(next(toAdmit.length), 1);
          if (!grant) break;
          const listed: (string[] | null)[] = [];
          const got: DecisionDevice[][] = [];
          let reusable: string[] = [];
          gpuContainersOf(grant.decision).forEach((want, position) => {
            const reused = reusable.slice(0, want.length);
            const callIds = [...reused, ...want.slice(reused.length).map(() => `dev::${serial++}`)];
            const resolution = ledger.resolve(callIds);
            expect(resolution.ok).toBe(true);
            if (!resolution.ok) return;
            expect(resolution.position).toBe(position);
            ledger.commit(resolution, callIds, resolution.devices);
            if (position === 0) reusable = callIds;
            else reusable = reusable.filter((id) => !callIds.includes(id));
            listed.push(position === 0 ? null : callIds);
            got.push(resolution.devices);
          });
          admitted.push({ grant, listed, got });
        }
        // kubelet's list comes in any order.
        for (let i = admitted.length - 1; i > 0; i--) {
          const j = next(i + 1);
          [admitted[i], admitted[j]] = [admitted[j] as (typeof admitted)[number], admitted[i] as (typeof admitted)[number]];
        }
        for (const a of admitted) {
          const learned = ledger.learn(a.grant.pod, a.listed);
          expect(learned).toBeDefined();
          expect(gpuContainersOf(learned?.received.decision ?? a.grant.decision)).toEqual(a.got);
        }
        expect(ledger.pendingGrants()).toEqual([]);
        expect(ledger.unresolvedHandouts()).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a call two shapes could answer rather than guess', () => {
    const a = decisionFor('a', [{ count: 1, memoryMiB: 1000 }], 0);
    const b = decisionFor('b', [{ count: 1, memoryMiB: 2000 }], 1);
    const ledger = new Ledger();
    ledger.setPending([a, b].map((d, order) => ({ pod: d.pod, decision: d, shape: shapeOf(d, context), order })));
    const resolution = ledger.resolve(['x::0']);
    expect(resolution).toMatchObject({ ok: false, reason: 'ambiguous' });
  });

  it('answers nothing for a count no pod in flight asks', () => {
    const a = decisionFor('a', [{ count: 1, memoryMiB: 1000 }], 0);
    const ledger = new Ledger();
    ledger.setPending([{ pod: a.pod, decision: a, shape: shapeOf(a, context), order: 0 }]);
    expect(ledger.resolve(['x::0', 'x::1'])).toMatchObject({ ok: false, reason: 'no-grant' });
  });
});
