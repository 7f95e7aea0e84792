import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/api/decision.js';
import { Reservations, type Reservation } from '../../../src/scheduler/extender/reservations.js';

const decision = (uid: string, node: string): Decision => ({
  apiVersion: 'tessera.io/v1',
  kind: 'GpuDecision',
  pod: { uid, namespace: 'ns', name: uid },
  node,
  mode: 'hami-core',
  containers: [],
  decidedAt: '2026-01-01T00:00:00.000Z',
});

type Op = { kind: 'hold'; pod: number; node: number; at: number } | { kind: 'confirm'; pod: number } | { kind: 'release'; pod: number } | { kind: 'expire'; at: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('hold' as const), pod: fc.nat(9), node: fc.nat(2), at: fc.nat(1000) }),
  fc.record({ kind: fc.constant('confirm' as const), pod: fc.nat(9) }),
  fc.record({ kind: fc.constant('release' as const), pod: fc.nat(9) }),
  fc.record({ kind: fc.constant('expire' as const), at: fc.nat(2000) }),
);

describe('reservations book', () => {
  it('applies every grant exactly once and releases it exactly once, whatever the order of events', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        // Capacity held per node, as the allocator would see it through the hooks.
        const held = new Map<string, number>();
        const change = (r: Reservation<number>, delta: number): void => {
          held.set(r.node, (held.get(r.node) ?? 0) + delta * r.allocation);
        };
        const book = new Reservations<number>({ apply: (r) => change(r, 1), release: (r) => change(r, -1) });
        for (const o of ops) {
          if (o.kind === 'hold') book.hold({ podUid: `p${o.pod}`, node: `n${o.node}`, decision: decision(`p${o.pod}`, `n${o.node}`), allocation: 1, phase: 'reserved', since: o.at });
          else if (o.kind === 'confirm') book.confirm(`p${o.pod}`);
          else if (o.kind === 'release') book.release(`p${o.pod}`);
          else for (const uid of book.expired(o.at, 500)) book.release(uid);
        }
        const expected = new Map<string, number>();
        for (const r of book.all()) expected.set(r.node, (expected.get(r.node) ?? 0) + 1);
        for (const [node, count] of held) expect(count, node).toBe(expected.get(node) ?? 0);
        for (const [node, count] of expected) expect(book.onNode(node).size).toBe(count);
        for (let n = 0; n < 3; n++) expect(book.reservedOn(`n${n}`)).toBe([...book.onNode(`n${n}`)].filter((r) => r.phase === 'reserved').length);
      }),
      { numRuns: 200 },
    );
  });

  it('expires only unconfirmed grants older than the TTL', () => {
    const book = new Reservations<number>({ apply: () => undefined, release: () => undefined });
    book.hold({ podUid: 'old', node: 'n', decision: decision('old', 'n'), allocation: 1, phase: 'reserved', since: 0 });
    book.hold({ podUid: 'confirmed', node: 'n', decision: decision('confirmed', 'n'), allocation: 1, phase: 'reserved', since: 0 });
    book.hold({ podUid: 'young', node: 'n', decision: decision('young', 'n'), allocation: 1, phase: 'reserved', since: 900 });
    book.confirm('confirmed');
    expect(book.expired(1000, 500)).toEqual(['old']);
    expect(book.hold({ podUid: 'old', node: 'm', decision: decision('old', 'm'), allocation: 1, phase: 'reserved', since: 0 })).toBe(false);
  });
});
