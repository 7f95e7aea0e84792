/**
 * `tessera simulate`: replays a workload through the scheduling policies, with no Kubernetes: the openb trace under
 * the FGD paper's protocol (`--fgd-nodes/--fgd-pods`), or a timed trace with departures on any cluster of MIG and
 * HAMi-core nodes (`--cluster/--trace`). Reports placements and allocation ratios per policy and seed.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { TesseraError } from '../../errors.js';
import { DEFAULT_LOAD, type OpenbReport, runOpenb } from '../../simulator/openb/index.js';
import { POLICIES } from '../../scheduler/policies/index.js';
import { runTrace, type TraceReport } from '../../simulator/trace/index.js';
import { PROFILE_SOURCES, type ProfileSource } from '../../simulator/index.js';
import { EXIT_OK, type Command } from '../command.js';

const USAGE = `Usage: tessera simulate --fgd-nodes <csv> --fgd-pods <csv> [options]
       tessera simulate --cluster <yaml> --trace <jsonl> [options]

The first form replays an openb trace (FGD paper protocol: seeded shuffle, inflation to --load x GPU capacity,
each pod scheduled once, no departures) and reports the GPU allocation ratio at that load. The second replays
timed arrivals ({"at": s, "pod": {...}}) and departures ({"at": s, "delete": "ns/name"}) on a cluster of MIG
and HAMi-core nodes (see bench/fixtures/mig/ for both files).

Options:
  --fgd-nodes <csv>     openb node list (sn,cpu_milli,memory_mib,gpu,model)
  --fgd-pods <csv>      openb pod list (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec])
  --cluster <yaml>      cluster file (node groups: name, count, mode, gpu {model, count})
  --trace <jsonl>       timed trace
  --policy <name>       policy to run; repeat to compare (default: tessera): ${Object.keys(POLICIES).join(', ')}
  --seeds <n>           openb: run seeds 0..n-1 (default 1)
  --seed-list <a,b,..>  run exactly these seeds
  --profile <p>         online: learn the workload profile from the pods seen so far, every 60 s (openb: one pod
                        per second), as the extender does (default); oracle: the whole trace's, before the first pod
  --load <x>            arrived GPU request as a multiple of capacity (default ${DEFAULT_LOAD})
  --json                one JSON document on stdout
  --layouts             with --json: the final milli left on every GPU`;

type Input = { kind: 'openb'; nodesFile: string; podsFile: string } | { kind: 'trace'; clusterFile: string; traceFile: string };

interface SimulateOptions {
  input: Input;
  policies: string[];
  seeds: number[];
  load: number;
  profile: ProfileSource;
  json: boolean;
  layouts: boolean;
}

export function parseSimulateArgs(argv: string[]): SimulateOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'fgd-nodes': { type: 'string' },
        'fgd-pods': { type: 'string' },
        cluster: { type: 'string' },
        trace: { type: 'string' },
        policy: { type: 'string', multiple: true },
        seeds: { type: 'string' },
        'seed-list': { type: 'string' },
        load: { type: 'string' },
        profile: { type: 'string' },
        json: { type: 'boolean', default: false },
        layouts: { type: 'boolean', default: false },
      },
    }));
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', (cause as Error).message, { cause });
  }
  const input = inputOf(values['fgd-nodes'], values['fgd-pods'], values.cluster, values.trace);
  if (values.seeds !== undefined && values['seed-list'] !== undefined) {
    throw new TesseraError('INVALID_INPUT', 'give --seeds or --seed-list, not both', { field: '--seed-list' });
  }
  const load = values.load === undefined ? DEFAULT_LOAD : Number(values.load);
  if (!Number.isFinite(load) || load <= 0 || load > 10) throw new TesseraError('INVALID_INPUT', `must be a number in (0, 10], got '${values.load}'`, { field: '--load' });
  const profile = (values.profile ?? 'online') as ProfileSource;
  if (!PROFILE_SOURCES.includes(profile)) throw new TesseraError('INVALID_INPUT', `must be one of ${PROFILE_SOURCES.join(', ')}, got '${values.profile}'`, { field: '--profile' });
  if (values.layouts && !values.json) throw new TesseraError('INVALID_INPUT', 'needs --json', { field: '--layouts' });
  return { input, policies: values.policy ?? ['tessera'], seeds: parseSeeds(values.seeds, values['seed-list']), load, profile, json: values.json, layouts: values.layouts };
}

function inputOf(nodesFile?: string, podsFile?: string, clusterFile?: string, traceFile?: string): Input {
  const openb = nodesFile !== undefined || podsFile !== undefined;
  const trace = clusterFile !== undefined || traceFile !== undefined;
  if (openb && trace) throw new TesseraError('INVALID_INPUT', 'give --fgd-nodes/--fgd-pods or --cluster/--trace, not both', { field: '--cluster' });
  if (trace) {
    if (!clusterFile) throw new TesseraError('INVALID_INPUT', 'required with --trace', { field: '--cluster' });
    if (!traceFile) throw new TesseraError('INVALID_INPUT', 'required with --cluster', { field: '--trace' });
    return { kind: 'trace', clusterFile, traceFile };
  }
  if (!nodesFile) throw new TesseraError('INVALID_INPUT', 'required (or --cluster/--trace)', { field: '--fgd-nodes' });
  if (!podsFile) throw new TesseraError('INVALID_INPUT', 'required', { field: '--fgd-pods' });
  return { kind: 'openb', nodesFile, podsFile };
}

function parseSeeds(count: string | undefined, list: string | undefined): number[] {
  if (list !== undefined) {
    return list.split(',').map((text) => {
      const seed = Number(text.trim());
      if (text.trim() === '' || !Number.isSafeInteger(seed) || seed < 0) throw new TesseraError('INVALID_INPUT', `seeds must be non-negative integers, got '${text}'`, { field: '--seed-list' });
      return seed;
    });
  }
  const n = count === undefined ? 1 : Number(count);
  if (!Number.isSafeInteger(n) || n < 1 || n > 1000) throw new TesseraError('INVALID_INPUT', `must be an integer in 1..1000, got '${count}'`, { field: '--seeds' });
  return Array.from({ length: n }, (_, i) => i);
}

function traceTable(report: TraceReport): string {
  const header = ['policy', 'placed', 'failed', 'alloc % (time avg)', 'MIG reconfigs', 'MIG ops', 'decisions/s'];
  const rows = report.results.map((r) => [
    r.policy,
    String(r.placed),
    String(r.failed),
    r.allocationRatio.toFixed(2),
    String(r.migReconfigurations),
    String(r.migOperations),
    String(r.decisionsPerSec),
  ]);
  return [`trace replay: ${report.cluster.nodes} nodes, ${report.cluster.gpus} GPUs, ${report.trace.events} events, profile ${report.profile}`, ...aligned(header, rows)].join('\n');
}

function aligned(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

function table(report: OpenbReport): string {
  const header = ['policy', 'seeds', 'alloc % (mean)', 'std', 's/seed'];
  const rows = report.summary.map((s) => [s.policy, String(s.seeds), s.meanAllocationRatio.toFixed(2), s.stdAllocationRatio.toFixed(2), s.meanSecondsPerSeed.toFixed(2)]);
  return [
    `openb replay: ${report.nodes.count} nodes, ${report.pods.count} pods, load ${report.load}, profile ${report.profile}`,
    ...aligned(header, rows),
    '',
    ...classTable(report),
    '',
    ...failureTable(report),
  ].join('\n');
}

/** Acceptance per pod class and the allocation curve, per policy (means over seeds). */
function classTable(report: OpenbReport): string[] {
  const classes = [...new Set(report.summary.flatMap((s) => Object.keys(s.classes)))];
  const columns = report.summary[0]?.curve.map((c) => c.arrivedPercent) ?? [];
  const header = ['policy', ...classes.map((c) => `${c} %`), ...columns.map((c) => `alloc@${c}`)];
  const rows = report.summary.map((s) => [s.policy, ...classes.map((c) => s.classes[c]?.acceptedPercent.toFixed(2) ?? '-'), ...s.curve.map((c) => c.allocationRatio.toFixed(2))]);
  return ['accepted % per pod class, and allocation % at each arrived load (over all seeds):', ...aligned(header, rows)];
}

/** Rows of failed pods shown per policy in the text report (all of them are in --json). */
const FAILURE_ROWS = 8;

function failureTable(report: OpenbReport): string[] {
  const header = ['policy', 'shape (GPUs x milli)', 'models', 'failed', 'why'];
  const rows = report.summary.flatMap((s) =>
    s.failures.slice(0, FAILURE_ROWS).map((f) => [
      s.policy,
      f.shape,
      f.models || 'any',
      String(f.failed),
      Object.entries(f.causes)
        .sort((a, b) => b[1] - a[1])
        .map(([cause, n]) => `${cause} ${n}`)
        .join(', '),
    ]),
  );
  return ['failed pods by request shape, over all seeds (most first):', ...aligned(header, rows)];
}

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'replay the openb trace through the scheduling policies and report allocation ratios',
  usage: USAGE,
  async run(argv) {
    const options = parseSimulateArgs(argv);
    if (options.input.kind === 'trace') {
      const report = runTrace({ ...options.input, policies: options.policies, profile: options.profile, layouts: options.layouts });
      console.log(options.json ? JSON.stringify(report) : traceTable(report));
      return EXIT_OK;
    }
    const bar = !options.json && process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
    const report = runOpenb({
      ...options.input,
      policies: options.policies,
      seeds: options.seeds,
      load: options.load,
      profile: options.profile,
      layouts: options.layouts,
      onStart: (total) => bar?.start(total, 0),
      onProgress: (n) => bar?.increment(n),
    });
    bar?.stop();
    console.log(options.json ? JSON.stringify(report) : table(report));
    return EXIT_OK;
  },
};
