/**
 * Simulated GPU utilization of a pod (seed 001). `run.ai/simulated-gpu-utilization` gives a fixed value (`70`)
 * or range (`60-80`); `tessera.io/simulated-gpu-utilization-schedule` gives steps played over time, e.g.
 * `{"steps": [{"time": "1h", "utilization": 80}, {"time": "30m", "utilization": "0-5"}], "repeat": 5}` (repeat
 * absent: forever; after the last pass the last step holds). Without either, a running GPU pod is fully busy.
 * Pure: the schedule is evaluated at an elapsed time the caller measures; the caller's timer wakes at `nextChangeMs`.
 */
import { TesseraError } from '../errors.js';
import { ajv, validationError } from '../api/index.js';
import type { UtilizationRange } from '../topology/index.js';

export const UTILIZATION_ANNOTATIONS = {
  fixed: 'run.ai/simulated-gpu-utilization',
  schedule: 'tessera.io/simulated-gpu-utilization-schedule',
} as const;

export const FULLY_BUSY: UtilizationRange = { min: 100, max: 100 };

export interface UtilizationStep {
  durationMs: number;
  utilization: UtilizationRange;
}

export interface UtilizationSchedule {
  steps: UtilizationStep[];
  /** Passes through the steps; null: forever. */
  repeat: number | null;
}

export interface UtilizationNow {
  utilization: UtilizationRange;
  /** Milliseconds until the utilization changes; null when it never will. */
  nextChangeMs: number | null;
}

const RANGE = /^\s*(\d{1,3})\s*(?:-\s*(\d{1,3})\s*)?$/;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/;
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Parses `N` or `min-max` (percent, 0-100). */
export function parseUtilization(text: string, field: string): UtilizationRange {
  const match = RANGE.exec(text);
  const min = Number(match?.[1]);
  const max = match?.[2] === undefined ? min : Number(match[2]);
  if (!match || min > 100 || max > 100 || min > max) {
    throw new TesseraError('INVALID_INPUT', `must be a percentage 'N' or a range 'min-max' within 0-100, got '${text.slice(0, 40)}'`, { field });
  }
  return { min, max };
}

function parseDuration(value: string | number, field: string): number {
  if (typeof value === 'number') return value * 1000;
  const match = DURATION.exec(value.trim());
  if (!match) throw new TesseraError('INVALID_INPUT', `must be a duration like '90s', '5m' or '1h', got '${value.slice(0, 40)}'`, { field });
  return Number(match[1]) * UNIT_MS[(match[2] ?? 's') as keyof typeof UNIT_MS];
}

const scheduleSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['steps'],
  properties: {
    steps: {
      type: 'array',
      minItems: 1,
      maxItems: 100,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['time', 'utilization'],
        properties: {
          time: {
            anyOf: [
              { type: 'number', exclusiveMinimum: 0 },
              { type: 'string', maxLength: 32 },
            ],
          },
          utilization: {
            anyOf: [
              { type: 'integer', minimum: 0, maximum: 100 },
              { type: 'string', maxLength: 16 },
            ],
          },
        },
      },
    },
    repeat: { type: 'integer', minimum: 1 },
  },
} as const;
const checkSchedule = ajv.compile(scheduleSchema);

/** Parses the schedule annotation (JSON); errors name the step and field. */
export function parseSchedule(text: string): UtilizationSchedule {
  const field = UTILIZATION_ANNOTATIONS.schedule;
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', 'is not valid JSON', { field, cause });
  }
  if (!checkSchedule(value)) throw validationError(checkSchedule.errors, field);
  const raw = value as { steps: Array<{ time: string | number; utilization: string | number }>; repeat?: number };
  const steps = raw.steps.map((step, i) => {
    const durationMs = parseDuration(step.time, `${field}.steps.${i}.time`);
    if (!(durationMs > 0) || !Number.isFinite(durationMs)) throw new TesseraError('INVALID_INPUT', 'must be a positive duration', { field: `${field}.steps.${i}.time` });
    return { durationMs, utilization: parseUtilization(String(step.utilization), `${field}.steps.${i}.utilization`) };
  });
  return { steps, repeat: raw.repeat ?? null };
}

/**
 * The utilization `elapsedMs` after the pod started, and how long it holds.
 * Details: with period P = sum of step durations, pass = floor(elapsed / P); past the last pass the last step
 * holds forever; otherwise the step is the one whose cumulative span contains (elapsed mod P).
 */
export function utilizationAt(schedule: UtilizationSchedule, elapsedMs: number): UtilizationNow {
  const period = schedule.steps.reduce((sum, s) => sum + s.durationMs, 0);
  const last = schedule.steps[schedule.steps.length - 1];
  const elapsed = Math.max(0, elapsedMs);
  if (!last) return { utilization: FULLY_BUSY, nextChangeMs: null };
  if (schedule.repeat !== null && elapsed >= period * schedule.repeat) return { utilization: last.utilization, nextChangeMs: null };
  let offset = elapsed % period;
  for (const step of schedule.steps) {
    if (offset < step.durationMs) return { utilization: step.utilization, nextChangeMs: step.durationMs - offset };
    offset -= step.durationMs;
  }
  return { utilization: last.utilization, nextChangeMs: null };
}

/**
 * A pod's utilization now from its annotations; a malformed annotation falls back to fully busy and is reported
 * in `problem` (the caller logs it with the field).
 */
export function podUtilization(annotations: Readonly<Record<string, string>>, elapsedMs: number): UtilizationNow & { problem: TesseraError | null } {
  try {
    const schedule = annotations[UTILIZATION_ANNOTATIONS.schedule];
    if (schedule !== undefined) return { ...utilizationAt(parseSchedule(schedule), elapsedMs), problem: null };
    const fixed = annotations[UTILIZATION_ANNOTATIONS.fixed];
    if (fixed !== undefined) return { utilization: parseUtilization(fixed, UTILIZATION_ANNOTATIONS.fixed), nextChangeMs: null, problem: null };
    return { utilization: FULLY_BUSY, nextChangeMs: null, problem: null };
  } catch (error) {
    if (!(error instanceof TesseraError)) throw error;
    return { utilization: FULLY_BUSY, nextChangeMs: null, problem: error };
  }
}
