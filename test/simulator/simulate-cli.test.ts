import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { simulateCommand } from '../../src/cli/commands/simulate.js';
import { runOpenb } from '../../src/simulator/openb/run.js';

const run = promisify(execFile);
const repoRoot = path.resolve(import.meta.dirname, '../..');

async function tessera(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'src/cli/main.ts'), ...args], { cwd: repoRoot });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const failure = e as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('tessera simulate (CLI)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tessera-sim-'));
  const nodes = path.join(dir, 'nodes.csv');
  const pods = path.join(dir, 'pods.csv');
  const badPods = path.join(dir, 'bad-pods.csv');
  writeFileSync(nodes, 'sn,cpu_milli,memory_mib,gpu,model\nn1,32000,131072,2,T4\nn2,32000,131072,1,V100M16\n');
  writeFileSync(pods, 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np1,4000,8192,1,500,\np2,4000,8192,1,500,T4\np3,2000,1024,0,0,\np4,8000,8192,2,1000,\n');
  writeFileSync(badPods, 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec\np1,4000,8192,1,500,\np2,4000,8192,1,1500,\n');

  // One real process: the exit code and the message on stderr are what a user sees.
  it('reports a bad pod file with its path, line and column, and exits 2', async () => {
    const result = await tessera(['simulate', '--fgd-nodes', nodes, '--fgd-pods', badPods]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`${badPods}:3: gpu_milli`);
  });

  it('rejects an unknown policy and a missing file by option name', async () => {
    await expect(simulateCommand.run(['--fgd-nodes', nodes, '--fgd-pods', pods, '--policy', 'nope'])).rejects.toMatchObject({ field: '--policy' });
    await expect(simulateCommand.run(['--fgd-nodes', path.join(dir, 'absent.csv'), '--fgd-pods', pods])).rejects.toMatchObject({ field: '--fgd-nodes' });
    await expect(simulateCommand.run(['--fgd-nodes', nodes, '--cluster', nodes])).rejects.toMatchObject({ field: '--cluster' });
    await expect(simulateCommand.run(['--fgd-nodes', nodes, '--fgd-pods', pods, '--seeds', '0'])).rejects.toMatchObject({ field: '--seeds' });
  });

  it('reports every policy and seed, with layouts on request', () => {
    const report = JSON.parse(JSON.stringify(runOpenb({ nodesFile: nodes, podsFile: pods, policies: ['fgd', 'tessera'], seeds: [4, 9], load: 1.3, profile: 'online', layouts: true }))) as {
      results: { policy: string; seed: number; placed: number; failed: number; allocationRatio: number; layouts: unknown[] }[];
      summary: { classes: Record<string, { arrived: number; placed: number }>; curve: { arrivedPercent: number }[]; failures: { failed: number }[] }[];
    };
    // Every pod counted once by its size class (model-restricted pods once more), every failure once by its shape.
    for (const s of report.summary) {
      const results = report.results.filter((r) => r.policy === report.results[report.summary.indexOf(s) * 2]?.policy);
      const bySize = Object.entries(s.classes).filter(([name]) => name !== 'model-restricted');
      expect(bySize.reduce((a, [, c]) => a + c.arrived, 0)).toBe(results.reduce((a, r) => a + r.placed + r.failed, 0));
      expect(bySize.reduce((a, [, c]) => a + c.placed, 0)).toBe(results.reduce((a, r) => a + r.placed, 0));
      expect(s.failures.reduce((a, f) => a + f.failed, 0)).toBe(results.reduce((a, r) => a + r.failed, 0));
      expect(s.curve.map((c) => c.arrivedPercent)).toEqual([50, 60, 70, 80, 90, 100, 110, 120, 130]);
    }
    expect(report.results.map((r) => `${r.policy}/${r.seed}`)).toEqual(['fgd/4', 'fgd/9', 'tessera/4', 'tessera/9']);
    for (const r of report.results) {
      expect(r.placed + r.failed).toBeGreaterThanOrEqual(4);
      expect(r.allocationRatio).toBeGreaterThan(0);
      expect(r.layouts).toHaveLength(2);
    }
  });
});
