/**
 * `tessera simulate`: replays the openb trace (the FGD paper's protocol) through the scheduling policies, with no
 * Kubernetes, and reports the allocation ratio per policy and seed.
 */
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { TesseraError } from '../../errors.js';
import { DEFAULT_LOAD } from '../../simulator/openb/protocol.js';
import { runOpenb, type OpenbReport } from '../../simulator/openb/run.js';
import { SHARE_POLICIES } from '../../simulator/policies/index.js';
import { EXIT_OK, type Command } from '../command.js';

const USAGE = `Usage: tessera simulate --fgd-nodes <csv> --fgd-pods <csv> [options]

Replays an openb trace (FGD paper protocol: seeded shuffle, inflation to --load x GPU capacity, each pod
scheduled once, no departures) and reports the GPU allocation ratio at that load.

Options:
  --fgd-nodes <csv>     openb node list (sn,cpu_milli,memory_mib,gpu,model)
  --fgd-pods <csv>      openb pod list (name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec])
  --policy <name>       policy to run; repeat to compare (default: tessera). Known: ${Object.keys(SHARE_POLICIES).join(', ')}
  --seeds <n>           run seeds 0..n-1 (default 1)
  --seed-list <a,b,..>  run exactly these seeds
  --load <x>            arrived GPU request as a multiple of capacity (default ${DEFAULT_LOAD})
  --json                one JSON document on stdout
  --layouts             with --json: the final milli left on every GPU`;

interface SimulateOptions {
  nodesFile: string;
  podsFile: string;
  policies: string[];
  seeds: number[];
  load: number;
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
        policy: { type: 'string', multiple: true },
        seeds: { type: 'string' },
        'seed-list': { type: 'string' },
        load: { type: 'string' },
        json: { type: 'boolean', default: false },
        layouts: { type: 'boolean', default: false },
      },
    }));
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', (cause as Error).message, { cause });
  }
  const nodesFile = values['fgd-nodes'];
  const podsFile = values['fgd-pods'];
  if (!nodesFile) throw new TesseraError('INVALID_INPUT', 'required', { field: '--fgd-nodes' });
  if (!podsFile) throw new TesseraError('INVALID_INPUT', 'required', { field: '--fgd-pods' });
  if (values.seeds !== undefined && values['seed-list'] !== undefined) {
    throw new TesseraError('INVALID_INPUT', 'give --seeds or --seed-list, not both', { field: '--seed-list' });
  }
  const load = values.load === undefined ? DEFAULT_LOAD : Number(values.load);
  if (!Number.isFinite(load) || load <= 0 || load > 10) throw new TesseraError('INVALID_INPUT', `must be a number in (0, 10], got '${values.load}'`, { field: '--load' });
  if (values.layouts && !values.json) throw new TesseraError('INVALID_INPUT', 'needs --json', { field: '--layouts' });
  return { nodesFile, podsFile, policies: values.policy ?? ['tessera'], seeds: parseSeeds(values.seeds, values['seed-list']), load, json: values.json, layouts: values.layouts };
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

function table(report: OpenbReport): string {
  const header = ['policy', 'seeds', 'alloc % (mean)', 'std', 's/seed'];
  const rows = report.summary.map((s) => [s.policy, String(s.seeds), s.meanAllocationRatio.toFixed(2), s.stdAllocationRatio.toFixed(2), s.meanSecondsPerSeed.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  return [
    `openb replay: ${report.nodes.count} nodes, ${report.pods.count} pods, load ${report.load}`,
    line(header),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...rows.map(line),
  ].join('\n');
}

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'replay the openb trace through the scheduling policies and report allocation ratios',
  usage: USAGE,
  async run(argv) {
    const options = parseSimulateArgs(argv);
    const bar = !options.json && process.stderr.isTTY ? new cliProgress.SingleBar({ stream: process.stderr }, cliProgress.Presets.shades_classic) : null;
    const report = runOpenb({
      ...options,
      onStart: (total) => bar?.start(total, 0),
      onProgress: (n) => bar?.increment(n),
    });
    bar?.stop();
    console.log(options.json ? JSON.stringify(report) : table(report));
    return EXIT_OK;
  },
};
