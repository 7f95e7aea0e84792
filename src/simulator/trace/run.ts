/**
 * Runs a timed trace on a cluster file for several policies and gathers the report `tessera simulate` prints.
 * The edge of the trace simulator: it reads the files and the clock (decisions per second).
 */
import { readTextFile } from '../openb/index.js';
import { parseClusterFile } from './cluster-file.js';
import { simulatorPolicy, type ProfileSource } from '../policy.js';
import { replayTrace, type TraceOutcome } from './replay.js';
import { parseTraceFile } from './trace-file.js';

export interface TraceRunResult extends Omit<TraceOutcome, 'layouts'> {
  policy: string;
  seed: number;
  decisionsPerSec: number;
  seconds: number;
  layouts?: TraceOutcome['layouts'];
}

export interface TraceReport {
  mode: 'trace';
  profile: ProfileSource;
  cluster: { file: string; nodes: number; gpus: number };
  trace: { file: string; events: number };
  results: TraceRunResult[];
}

export interface TraceRunOptions {
  clusterFile: string;
  traceFile: string;
  policies: readonly string[];
  profile: ProfileSource;
  layouts: boolean;
}

export function runTrace(options: TraceRunOptions): TraceReport {
  const nodes = parseClusterFile(options.clusterFile, readTextFile(options.clusterFile, '--cluster'));
  const events = parseTraceFile(options.traceFile, readTextFile(options.traceFile, '--trace'));
  const chosen = options.policies.map((name) => simulatorPolicy(name));
  const results = chosen.map((policy): TraceRunResult => {
    const t0 = performance.now();
    const { layouts, ...outcome } = replayTrace(nodes, events, policy, { profile: options.profile });
    const seconds = (performance.now() - t0) / 1000;
    return {
      policy: policy.name,
      seed: 0,
      ...outcome,
      decisionsPerSec: seconds > 0 ? Math.round(outcome.decisions / seconds) : 0,
      seconds,
      ...(options.layouts ? { layouts } : {}),
    };
  });
  return {
    mode: 'trace',
    profile: options.profile,
    cluster: { file: options.clusterFile, nodes: nodes.length, gpus: nodes.reduce((s, n) => s + n.gpus.length, 0) },
    trace: { file: options.traceFile, events: events.length },
    results,
  };
}
