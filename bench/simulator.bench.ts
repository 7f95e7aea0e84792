/**
 * `tessera simulate` speed on the openb default trace (~10,750 decisions per seed after inflation): seconds per
 * seed and decisions per second, per policy, with the seed's allocation ratio alongside. Target: < 2 s per seed.
 * The full quality table (4 traces x policies x 10 seeds) comes from `tessera simulate --seeds 10`, see
 * docs/policy.md.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { loadOpenb } from '../src/simulator/openb/run.js';
import { replayOpenb } from '../src/simulator/openb/replay.js';
import { simulatorPolicy } from '../src/simulator/policy.js';
import type { BenchResult, BenchSuite } from './harness.js';

const SEEDS = [0, 1, 2];
const POLICIES = ['fgd', 'tessera', 'fgd-bestfit', 'hami'];

export const simulatorSuite: BenchSuite = {
  name: 'simulator',
  async run() {
    const dir = path.resolve(import.meta.dirname, '../../shared/data/openb');
    if (!existsSync(path.join(dir, 'openb_pod_list_default.csv'))) {
      process.stderr.write(`bench simulator: skipped, ${dir} is absent (check out the project's shared folder beside the repository)\n`);
      return [];
    }
    const { nodes, pods } = loadOpenb(path.join(dir, 'openb_node_list_gpu_node.csv'), path.join(dir, 'openb_pod_list_default.csv'));
    const rows: BenchResult[] = [];
    for (const policy of POLICIES) {
      const factory = simulatorPolicy(policy);
      const seconds: number[] = [];
      // CPU time too: the bench machine is shared, and wall time then measures the neighbours.
      let cpuMicros = 0;
      let decisions = 0;
      let ratio = 0;
      for (const seed of SEEDS) {
        const t0 = performance.now();
        const cpu0 = process.cpuUsage();
        const outcome = replayOpenb(nodes, pods, factory, { seed });
        const cpu = process.cpuUsage(cpu0);
        cpuMicros += cpu.user + cpu.system;
        seconds.push((performance.now() - t0) / 1000);
        decisions += outcome.decisions;
        ratio += outcome.allocationRatio;
      }
      const total = seconds.reduce((a, b) => a + b, 0);
      rows.push({
        name: `simulate openb default: ${policy}`,
        opsPerSec: Math.round(decisions / total),
        extra: {
          secondsPerSeed: Number((total / SEEDS.length).toFixed(3)),
          cpuSecondsPerSeed: Number((cpuMicros / 1e6 / SEEDS.length).toFixed(3)),
          maxSecondsPerSeed: Number(Math.max(...seconds).toFixed(3)),
          decisionsPerSeed: Math.round(decisions / SEEDS.length),
          allocationRatioMean: Number((ratio / SEEDS.length).toFixed(2)),
          seeds: SEEDS.length,
          targetSecondsPerSeed: 2,
        },
      });
    }
    return rows;
  },
};
