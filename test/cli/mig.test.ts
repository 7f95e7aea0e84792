import { spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { migCommand } from '../../src/cli/commands/mig.js';
import { isTesseraError } from '../../src/errors.js';
import type { MigPlan } from '../../src/geometry/index.js';

/** Runs `tessera mig ...` in-process and returns its exit code and what it printed. */
async function mig(...args: string[]): Promise<{ code: number; stdout: string }> {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  const code = await migCommand.run(args);
  return { code, stdout: lines.join('\n') };
}

async function failure(...args: string[]): Promise<string> {
  try {
    await mig(...args);
  } catch (error) {
    if (isTesseraError(error) && error.status === 400) return error.message;
    throw error;
  }
  throw new Error('expected an error');
}

afterEach(() => vi.restoreAllMocks());

describe('tessera mig', () => {
  it('plan --json prints ranked plans that keep the instance in use', async () => {
    const instances = JSON.stringify([
      { profile: '3g.40gb', start: 4, inUse: true },
      { profile: '1g.10gb', start: 0, inUse: false },
    ]);
    const result = await mig('plan', '--model', 'NVIDIA H100 80GB HBM3', '--instances', instances, '--request', '9000', '--json');
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout) as { model: string; plans: MigPlan[] };
    expect(out.model).toBe('H100-SXM5-80GB');
    expect(out.plans[0]).toMatchObject({ kind: 'reuse', target: { profile: '1g.10gb', start: 0 } });
    for (const plan of out.plans) expect(plan.layout).toContainEqual({ profile: '3g.40gb', start: 4, inUse: true });
  });

  it('plan prints a readable table, and applies knownMigGeometries from --device-config', async () => {
    const result = await mig('plan', '--model', 'A100-SXM4-40GB', '--request', '15000', '--device-config', 'config/device-config-hami-geometries.yaml', '--limit', '2');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('A100-SXM4-40GB: 2 plan(s) for 15000 MiB');
    expect(result.stdout).toContain('create 3g.20gb@0 3g.20gb@4');
  });

  it.each([
    [['plan', '--request', '10'], '--model: is required'],
    [['plan', '--model', 'A100', '--request', '10'], "unknown GPU model 'A100'"],
    [['plan', '--model', 'A30', '--request', 'ten'], "--request: must be an integer in [0, 16777216], got 'ten'"],
    [['plan', '--model', 'T4', '--request', '10'], 'T4 has no MIG'],
    [['plan', '--model', 'A30', '--request', '10', '--instances', '[{"profile":"2g.12gb","start":1}]'], 'instances.0: A30-24GB: 2g.12gb cannot start at 1'],
    [['plan', '--model', 'A30', '--request', '10', '--instances', '[{"profile":"2g.12gb"}]'], '--instances.0.start: is required'],
    [['plan', '--model', 'A30', '--request', '10', '--instances', '{'], '--instances: is not valid JSON'],
    [['plan', '--model', 'A30', '--request', '10', '--bogus'], "Unknown option '--bogus'"],
    [['frob'], "expected 'plan' or 'models'"],
  ])('%j is bad input naming the problem', async (args, message) => {
    expect(await failure(...args)).toContain(message);
  });

  it('models lists the catalog with profiles', async () => {
    const result = await mig('models');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/A100-SXM4-40GB {2}40960 MiB {2}MIG 7\/8 slices/);
    expect(result.stdout).toMatch(/1g\.5gb +id 19 {2}1c\/1m +4864 MiB {2}starts 0,1,2,3,4,5,6 {2}max 7/);
    expect(result.stdout).toContain('T4  15360 MiB  whole GPU');
  });

  it('exits 2 with the message on stderr through the real entry point', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'mig', 'plan', '--model', 'A100', '--request', '1'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("tessera mig: model: unknown GPU model 'A100'");
  });
});
