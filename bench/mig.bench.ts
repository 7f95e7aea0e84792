/**
 * The MIG trace families (src/simulator/trace/families.ts), tuned-on and held-back, each replayed with tessera,
 * HAMi v2.10's and v2.9's rules and Zambianco et al.'s greedy: pods placed and failed, MIG reconfigurations and ops,
 * summed over SEEDS seeds, and the failures no policy avoids (src/simulator/trace/bound.ts). `npm run bench -- --only
 * mig-families`; the tables in docs/policy.md come from it.
 */
import { MIG_FAMILIES, generateMigFamily, migCapacityBound, replayTrace } from '../src/simulator/trace/index.js';
import { simulatorPolicy } from '../src/simulator/policy.js';
import type { BenchResult, BenchSuite } from './harness.js';

const SEEDS = [0, 1];
const POLICIES = ['tessera', 'hami-v2.10-mig', 'hami-v2.9-mig', 'zambianco'];

export const migFamiliesBench: BenchSuite = {
  name: 'mig-families',
  async run() {
    const rows: BenchResult[] = [];
    for (const family of MIG_FAMILIES) {
      const traces = SEEDS.map((seed) => generateMigFamily(family, seed));
      const bound = { neverFits: 0, strictFailed: 0, pooledFailed: 0, repackFailed: 0 };
      for (const trace of traces) {
        const b = migCapacityBound(trace.nodes, trace.events);
        bound.neverFits += b.neverFits;
        bound.strictFailed += b.strictFailed;
        bound.pooledFailed += b.pooledFailed;
        bound.repackFailed += b.repackFailed;
      }
      rows.push({ name: `mig ${family.split} ${family.name} bound`, extra: bound });
      for (const name of POLICIES) {
        const policy = simulatorPolicy(name);
        const sum = { placed: 0, failed: 0, reconfigurations: 0, ops: 0, seconds: 0 };
        for (const trace of traces) {
          const t0 = performance.now();
          const o = replayTrace(trace.nodes, trace.events, policy, { idleMigInstances: trace.idle });
          sum.seconds += (performance.now() - t0) / 1000;
          sum.placed += o.placed;
          sum.failed += o.failed;
          sum.reconfigurations += o.migReconfigurations;
          sum.ops += o.migOperations;
        }
        rows.push({
          name: `mig ${family.split} ${family.name} ${name}`,
          extra: { placed: sum.placed, failed: sum.failed, reconfigurations: sum.reconfigurations, migOps: sum.ops, seconds: sum.seconds.toFixed(1) },
        });
      }
    }
    return rows;
  },
};
