import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FULLY_BUSY, UTILIZATION_ANNOTATIONS, parseSchedule, parseUtilization, podUtilization, utilizationAt } from '../../src/fakeoperator/utilization.js';
import { TesseraError } from '../../src/errors.js';

describe('utilization annotations', () => {
  it('reads N and min-max', () => {
    expect(parseUtilization('70', 'f')).toEqual({ min: 70, max: 70 });
    expect(parseUtilization('60-80', 'f')).toEqual({ min: 60, max: 80 });
    for (const bad of ['101', '80-60', 'x', '', '-5']) expect(() => parseUtilization(bad, 'f')).toThrow(TesseraError);
  });

  it('treats a running pod without annotations as fully busy (seed 001)', () => {
    expect(podUtilization({}, 0)).toEqual({ utilization: FULLY_BUSY, nextChangeMs: null, problem: null });
  });

  it('falls back to fully busy on a malformed annotation and names the field', () => {
    const now = podUtilization({ [UTILIZATION_ANNOTATIONS.fixed]: 'lots' }, 0);
    expect(now.utilization).toEqual(FULLY_BUSY);
    expect(now.problem?.field).toBe(UTILIZATION_ANNOTATIONS.fixed);
    expect(podUtilization({ [UTILIZATION_ANNOTATIONS.schedule]: '{"steps":[{"time":"1x","utilization":5}]}' }, 0).problem?.field).toBe(`${UTILIZATION_ANNOTATIONS.schedule}.steps.0.time`);
  });
});

describe('utilization schedules', () => {
  // 1h at 80, 30m at 0-5, five passes: period 90 minutes.
  const schedule = parseSchedule('{"steps":[{"time":"1h","utilization":80},{"time":"30m","utilization":"0-5"}],"repeat":5}');
  const min = 60_000;

  it('plays steps in order, wraps, and holds the last step after the last pass', () => {
    expect(utilizationAt(schedule, 0)).toEqual({ utilization: { min: 80, max: 80 }, nextChangeMs: 60 * min });
    expect(utilizationAt(schedule, 61 * min)).toEqual({ utilization: { min: 0, max: 5 }, nextChangeMs: 29 * min });
    // 95 minutes: second pass, 5 minutes into the first step.
    expect(utilizationAt(schedule, 95 * min)).toEqual({ utilization: { min: 80, max: 80 }, nextChangeMs: 55 * min });
    expect(utilizationAt(schedule, 450 * min)).toEqual({ utilization: { min: 0, max: 5 }, nextChangeMs: null });
  });

  it('repeats forever without repeat, and durations take s, ms and bare seconds', () => {
    const forever = parseSchedule('{"steps":[{"time":2,"utilization":10},{"time":"500ms","utilization":20}]}');
    expect(forever.steps.map((s) => s.durationMs)).toEqual([2000, 500]);
    expect(utilizationAt(forever, 1_000_000 * 2500 + 2100).utilization).toEqual({ min: 20, max: 20 });
  });

  it('always answers a step of the schedule and a positive wait no longer than that step', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ durationMs: fc.integer({ min: 1, max: 10_000 }), utilization: fc.constant({ min: 1, max: 2 }) }), { minLength: 1, maxLength: 5 }),
        fc.option(fc.integer({ min: 1, max: 5 }), { nil: null }),
        fc.integer({ min: 0, max: 10_000_000 }),
        (steps, repeat, elapsed) => {
          const now = utilizationAt({ steps, repeat }, elapsed);
          if (now.nextChangeMs !== null) {
            expect(now.nextChangeMs).toBeGreaterThan(0);
            expect(now.nextChangeMs).toBeLessThanOrEqual(Math.max(...steps.map((s) => s.durationMs)));
            // Just before the change the value is the same; at the change the schedule moves on.
            expect(utilizationAt({ steps, repeat }, elapsed + now.nextChangeMs - 1).utilization).toEqual(now.utilization);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('rejects malformed schedules naming the field, never throwing anything else', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        try {
          parseSchedule(text);
        } catch (error) {
          expect(error).toBeInstanceOf(TesseraError);
          expect((error as TesseraError).field).toMatch(/^tessera\.io\/simulated-gpu-utilization-schedule/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
