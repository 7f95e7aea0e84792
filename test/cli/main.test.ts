import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

const cli = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { encoding: 'utf8' });

describe('tessera CLI', () => {
  it('lists commands on help and exits 0', () => {
    const result = cli('help');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('Usage: tessera <command>');
  });

  it('rejects an unknown command with exit code 2 and names it', () => {
    const result = cli('frobnicate');
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });
});
