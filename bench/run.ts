/**
 * `npm run bench [-- --json] [-- --only <substring>]`: runs every suite, prints one table, and with --json writes
 * bench/results/bench-<timestamp>.json (and prints its path). Run with `node --expose-gc` semantics via tsx flags
 * so heap figures are taken after a collection.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { BenchResult, BenchSuite } from './harness.js';
import { allocatorBench } from './allocator.bench.js';
import { clusterBench } from './cluster.bench.js';
import { devicePluginBench } from './deviceplugin.bench.js';
import { exporterBench } from './exporter.bench.js';
import { extenderLatencyBench, extenderThroughputBench } from './extender.bench.js';
import { geometryBench } from './geometry.bench.js';
import { k8sBench } from './k8s.bench.js';
import { localModeBench } from './localmode.bench.js';
import { migFamiliesBench } from './mig.bench.js';
import { simulatorSuite } from './simulator.bench.js';

const SUITES: BenchSuite[] = [
  allocatorBench,
  simulatorSuite,
  migFamiliesBench,
  clusterBench,
  geometryBench,
  exporterBench,
  devicePluginBench,
  localModeBench,
  extenderLatencyBench,
  extenderThroughputBench,
  k8sBench,
];

function format(value: number | undefined, digits: number): string {
  return value === undefined || Number.isNaN(value) ? '' : value.toFixed(digits);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, only: { type: 'string' } } });
  const rows: BenchResult[] = [];
  for (const suite of SUITES) {
    if (values.only && !suite.name.includes(values.only)) continue;
    process.stderr.write(`bench: ${suite.name}...\n`);
    rows.push(...(await suite.run()));
  }
  const header = ['name', 'ops/s', 'p50 ms', 'p99 ms', 'heap MiB', 'extra'];
  const table = rows.map((r) => [
    r.name,
    r.opsPerSec === undefined ? '' : String(r.opsPerSec),
    format(r.p50Ms, 4),
    format(r.p99Ms, 4),
    format(r.heapMiB, 1),
    r.extra
      ? Object.entries(r.extra)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')
      : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table) console.log(line(row));
  if (values.json) {
    mkdirSync('bench/results', { recursive: true });
    const file = `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
    writeFileSync(file, `${JSON.stringify({ node: process.version, results: rows }, null, 2)}\n`);
    console.log(`\nwrote ${file}`);
  }
}

await main();
