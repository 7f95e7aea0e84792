import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SchedulingQueue } from '../../src/localmode/queue.js';

const backoff = { initialMs: 1000, maxMs: 10_000 };

describe('scheduling queue', () => {
  it('serves pods in arrival order, each once while in flight', () => {
    const queue = new SchedulingQueue(backoff);
    queue.add('a', 0);
    queue.add('b', 0);
    expect(queue.next(0)).toEqual({ key: 'a' });
    expect(queue.next(0)).toEqual({ key: 'b' });
    expect(queue.next(0)).toBeNull();
  });

  it('backs a failed pod off 1s, 2s, 4s ... capped at 10s', () => {
    const queue = new SchedulingQueue(backoff);
    queue.add('a', 0);
    let now = 0;
    const waits: number[] = [];
    for (let i = 0; i < 6; i++) {
      expect(queue.next(now)).toEqual({ key: 'a' });
      queue.retryLater('a', now, false);
      const next = queue.next(now);
      if (!next || !('waitMs' in next)) throw new Error('expected a wait');
      waits.push(next.waitMs);
      now += next.waitMs;
    }
    expect(waits).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });

  it('parks an unschedulable pod until the cluster changes, then still honours its backoff', () => {
    const queue = new SchedulingQueue(backoff);
    queue.add('a', 0);
    queue.next(0);
    queue.retryLater('a', 0, true);
    expect(queue.next(5000)).toBeNull();
    queue.wakeAll();
    expect(queue.next(500)).toEqual({ waitMs: 500 });
    expect(queue.next(1000)).toEqual({ key: 'a' });
  });

  it('does not park a pod when the cluster changed during its attempt', () => {
    const queue = new SchedulingQueue(backoff);
    queue.add('a', 0);
    queue.next(0);
    queue.wakeAll();
    queue.retryLater('a', 0, true);
    expect(queue.next(1000)).toEqual({ key: 'a' });
  });

  it('never hands out a removed pod or one already in flight, whatever the order of events', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('add' as const), key: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ kind: fc.constant('remove' as const), key: fc.constantFrom('a', 'b', 'c') }),
      fc.record({ kind: fc.constant('fail' as const), key: fc.constantFrom('a', 'b', 'c'), parked: fc.boolean() }),
      fc.constant({ kind: 'wake' as const }),
      fc.record({ kind: fc.constant('next' as const), advance: fc.integer({ min: 0, max: 20_000 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const queue = new SchedulingQueue(backoff);
        const inFlight = new Set<string>();
        let now = 0;
        for (const o of ops) {
          if (o.kind === 'add') queue.add(o.key, now);
          else if (o.kind === 'remove') {
            queue.remove(o.key);
            inFlight.delete(o.key);
          } else if (o.kind === 'fail') {
            queue.retryLater(o.key, now, o.parked);
            inFlight.delete(o.key);
          } else if (o.kind === 'wake') queue.wakeAll();
          else {
            now += o.advance;
            const next = queue.next(now);
            if (next && 'key' in next) {
              expect(queue.has(next.key)).toBe(true);
              expect(inFlight.has(next.key)).toBe(false);
              inFlight.add(next.key);
            } else if (next) expect(next.waitMs).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
