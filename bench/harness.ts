/** Shared measurement helpers for `npm run bench`. Each suite returns rows; bench/run.ts prints and saves them. */
export interface BenchResult {
  name: string;
  opsPerSec?: number;
  p50Ms?: number;
  p99Ms?: number;
  heapMiB?: number;
  /** Anything else worth reporting (targets, sizes, quality figures). */
  extra?: Record<string, number | string>;
}

export interface BenchSuite {
  name: string;
  run(): Promise<BenchResult[]>;
}

/** Percentile of an ascending-sorted sample, nearest-rank. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

/**
 * Times `op` one call at a time for at least `minMs` (after a warm-up) and reports throughput and latency
 * percentiles. `op` receives the iteration number so it can cycle through prepared inputs.
 */
export function measure(name: string, op: (i: number) => unknown, options: { minMs?: number; warmup?: number } = {}): BenchResult {
  const minMs = options.minMs ?? 1000;
  for (let i = 0; i < (options.warmup ?? 200); i++) op(i);
  const samples: number[] = [];
  const start = performance.now();
  let i = 0;
  while (performance.now() - start < minMs) {
    const t0 = performance.now();
    op(i++);
    samples.push(performance.now() - t0);
  }
  const elapsed = performance.now() - start;
  samples.sort((a, b) => a - b);
  return { name, opsPerSec: Math.round((i / elapsed) * 1000), p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) };
}

/** Async variant of `measure` for I/O-bound operations (HTTP, watches). */
export async function measureAsync(name: string, op: (i: number) => Promise<unknown>, options: { minMs?: number; warmup?: number } = {}): Promise<BenchResult> {
  const minMs = options.minMs ?? 1000;
  for (let i = 0; i < (options.warmup ?? 20); i++) await op(i);
  const samples: number[] = [];
  const start = performance.now();
  let i = 0;
  while (performance.now() - start < minMs) {
    const t0 = performance.now();
    await op(i++);
    samples.push(performance.now() - t0);
  }
  const elapsed = performance.now() - start;
  samples.sort((a, b) => a - b);
  return { name, opsPerSec: Math.round((i / elapsed) * 1000), p50Ms: percentile(samples, 50), p99Ms: percentile(samples, 99) };
}

/** Heap growth, in MiB, caused by building what `build` returns (kept alive until measured). */
export function heapGrowthMiB<T>(build: () => T): { value: T; heapMiB: number } {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const before = process.memoryUsage().heapUsed;
  const value = build();
  gc?.();
  const after = process.memoryUsage().heapUsed;
  return { value, heapMiB: (after - before) / (1024 * 1024) };
}

/** Extra Node flags for the processes a bench starts (`BENCH_CHILD_FLAGS`, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`). */
export const childFlags = (process.env['BENCH_CHILD_FLAGS'] ?? '').split(' ').filter((flag) => flag !== '');
