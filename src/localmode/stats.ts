/**
 * The driver's figures for the dashboard: outcome counters, decisions per second over a sliding window, and the
 * p99 of decision latency over the most recent decisions. The caller passes the time.
 */
import { CircularBuffer } from 'mnemonist';

export interface DriverStats {
  bound: number;
  unschedulable: number;
  errors: number;
  /** Decisions (bound or unschedulable) per second over the last `RATE_WINDOW_MS`. */
  decisionsPerSecond: number;
  /** p99 of the last `LATENCY_SAMPLES` decision latencies (ms, filter through node choice), null before any. */
  p99DecisionMs: number | null;
  /** Pod key (`namespace/name`) -> the message of its last failed attempt. */
  failures: Record<string, string>;
}

export const RATE_WINDOW_MS = 10_000;
export const LATENCY_SAMPLES = 1000;

/** The nearest-rank percentile of `samples` (0 < p <= 1). */
export function percentile(samples: readonly number[], p: number): number | null {
  if (samples.length === 0) return null;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] as number;
}

export class DriverStatsRecorder {
  private boundCount = 0;
  private unschedulableCount = 0;
  private errorCount = 0;
  private readonly latencies = new CircularBuffer<number>(Array, LATENCY_SAMPLES);
  /** Times of recent decisions, oldest first. */
  private readonly decisionTimes: number[] = [];

  decided(latencyMs: number): void {
    this.latencies.push(latencyMs);
  }

  bound(now: number): void {
    this.boundCount++;
    this.decisionTimes.push(now);
  }

  unschedulable(now: number): void {
    this.unschedulableCount++;
    this.decisionTimes.push(now);
  }

  failed(): void {
    this.errorCount++;
  }

  snapshot(now: number, failures: Record<string, string>): DriverStats {
    while (this.decisionTimes.length > 0 && (this.decisionTimes[0] as number) <= now - RATE_WINDOW_MS) this.decisionTimes.shift();
    return {
      bound: this.boundCount,
      unschedulable: this.unschedulableCount,
      errors: this.errorCount,
      decisionsPerSecond: this.decisionTimes.length / (RATE_WINDOW_MS / 1000),
      p99DecisionMs: percentile(this.latencies.toArray() as number[], 0.99),
      failures,
    };
  }
}
