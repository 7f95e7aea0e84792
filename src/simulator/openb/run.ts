/**
 * Runs the openb protocol for several policies and seeds and gathers the report `tessera simulate` prints.
 * This is the edge of the simulator: it reads the files and the clock (decisions per second).
 */
import { readFileSync } from 'node:fs';
import { TesseraError } from '../../errors.js';
import { simulatorPolicy, type ProfileSource } from '../policy.js';
import { FailureLog, type FailureRow } from '../failures.js';
import { parseOpenbNodes, parseOpenbPods, type OpenbNode, type OpenbPod } from './csv.js';
import { replayOpenb, type OpenbOutcome } from './replay.js';

export interface OpenbRunResult extends Omit<OpenbOutcome, 'layouts'> {
  policy: string;
  migReconfigurations: number;
  decisionsPerSec: number;
  seconds: number;
  layouts?: OpenbOutcome['layouts'];
}

export interface OpenbSummary {
  policy: string;
  /** Failed pods over all seeds, per request shape, and why. */
  failures: FailureRow[];
  /** Per pod class, over all seeds: arrived, placed, and placed / arrived in %. */
  classes: Record<string, { arrived: number; placed: number; acceptedPercent: number }>;
  /** The allocation curve, mean over seeds, per arrived-load column. */
  curve: { arrivedPercent: number; allocationRatio: number }[];
  seeds: number;
  meanAllocationRatio: number;
  stdAllocationRatio: number;
  meanSecondsPerSeed: number;
}

export interface OpenbReport {
  mode: 'openb';
  load: number;
  profile: ProfileSource;
  nodes: { file: string; count: number };
  pods: { file: string; count: number };
  results: OpenbRunResult[];
  summary: OpenbSummary[];
}

export function readTextFile(file: string, option: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', `cannot read '${file}': ${(cause as Error).message}`, { field: option, cause });
  }
}

export function loadOpenb(nodesFile: string, podsFile: string): { nodes: OpenbNode[]; pods: OpenbPod[] } {
  return {
    nodes: parseOpenbNodes(nodesFile, readTextFile(nodesFile, '--fgd-nodes')),
    pods: parseOpenbPods(podsFile, readTextFile(podsFile, '--fgd-pods')),
  };
}

export interface OpenbRunOptions {
  nodesFile: string;
  podsFile: string;
  policies: readonly string[];
  seeds: readonly number[];
  load: number;
  profile: ProfileSource;
  layouts: boolean;
  /** Called once with the number of decisions the whole run will make. */
  onStart?: (totalDecisions: number) => void;
  /** Called now and then with the number of decisions made since the last call. */
  onProgress?: (decisions: number) => void;
}

export function runOpenb(options: OpenbRunOptions): OpenbReport {
  const factories = options.policies.map((name) => [name, simulatorPolicy(name)] as const);
  const { nodes, pods } = loadOpenb(options.nodesFile, options.podsFile);
  const results: OpenbRunResult[] = [];
  let started = false;
  for (const [policy, factory] of factories) {
    for (const seed of options.seeds) {
      const t0 = performance.now();
      let reported = 0;
      const outcome = replayOpenb(nodes, pods, factory, {
        seed,
        load: options.load,
        profile: options.profile,
        onProgress: (done, total) => {
          if (!started) {
            started = true;
            options.onStart?.(total * factories.length * options.seeds.length);
          }
          if (done % 500 === 0 || done === total) {
            options.onProgress?.(done - reported);
            reported = done;
          }
        },
      });
      const seconds = (performance.now() - t0) / 1000;
      const { layouts, ...rest } = outcome;
      results.push({
        policy,
        ...rest,
        migReconfigurations: 0,
        decisionsPerSec: Math.round(outcome.decisions / seconds),
        seconds,
        ...(options.layouts ? { layouts } : {}),
      });
    }
  }
  return {
    mode: 'openb',
    load: options.load,
    profile: options.profile,
    nodes: { file: options.nodesFile, count: nodes.length },
    pods: { file: options.podsFile, count: pods.length },
    results,
    summary: factories.map(([policy]) =>
      summarize(
        policy,
        results.filter((r) => r.policy === policy),
      ),
    ),
  };
}

function summarize(policy: string, runs: readonly OpenbRunResult[]): OpenbSummary {
  const ratios = runs.map((r) => r.allocationRatio);
  const mean = ratios.reduce((a, b) => a + b, 0) / ratios.length;
  const variance = ratios.reduce((a, b) => a + (b - mean) ** 2, 0) / ratios.length;
  const failures = new FailureLog(() => '');
  for (const r of runs) failures.merge(r.failures);
  const classes: OpenbSummary['classes'] = {};
  for (const r of runs) {
    for (const [name, c] of Object.entries(r.classes)) {
      const sum = (classes[name] ??= { arrived: 0, placed: 0, acceptedPercent: 0 });
      sum.arrived += c.arrived;
      sum.placed += c.placed;
      sum.acceptedPercent = (100 * sum.placed) / sum.arrived;
    }
  }
  const curve = (runs[0]?.curve ?? []).map(({ arrivedPercent }, k) => ({
    arrivedPercent,
    allocationRatio: runs.reduce((a, r) => a + (r.curve[k]?.allocationRatio ?? Number.NaN), 0) / runs.length,
  }));
  return {
    policy,
    failures: failures.table(),
    classes,
    curve,
    seeds: runs.length,
    meanAllocationRatio: mean,
    stdAllocationRatio: Math.sqrt(variance),
    meanSecondsPerSeed: runs.reduce((a, r) => a + r.seconds, 0) / runs.length,
  };
}
