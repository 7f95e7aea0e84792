import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { configCommand } from '../../src/cli/commands/config.js';
import { isTesseraError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

async function check(...args: string[]): Promise<string> {
  const lines: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => void lines.push(parts.join(' ')));
  expect(await configCommand.run(['check', ...args])).toBe(0);
  return lines.join('\n');
}

async function failure(...args: string[]): Promise<string> {
  try {
    await configCommand.run(['check', ...args]);
  } catch (error) {
    if (isTesseraError(error) && error.status === 400) return error.message;
    throw error;
  }
  throw new Error('expected an error');
}

describe('tessera config check', () => {
  it('accepts the shipped device config', async () => {
    expect(await check('config/device-config-hami-geometries.yaml')).toContain('config/device-config-hami-geometries.yaml: valid (4 knownMigGeometries entries');
  });

  it('rejects a geometry naming the field, the model, the geometry and the profile', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      'nvidia:\n  knownMigGeometries:\n    - models: [A30]\n      allowedGeometries:\n        - [{name: 1g.6gb, memory: 6144, count: 4}]\n        - [{name: 2g.12gb, memory: 12288, count: 3}]\n',
    );
    const message = await failure(file);
    expect(message).toContain('nvidia.knownMigGeometries.0.allowedGeometries.1: model A30-24GB, geometry 1');
    expect(message).toContain('profile 2g.12gb: at most 2');
  });

  it('rejects a missing file or a missing argument', async () => {
    expect(await failure(join(dir, 'absent.yaml'))).toContain('cannot read');
    expect(await failure()).toContain('file: a device config file is required');
  });

  it('exits 2 with the message on stderr through the real entry point', () => {
    const file = join(dir, 'typo.yaml');
    writeFileSync(file, 'nvidia:\n  deviceSplitCont: 3\n');
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', 'check', file], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('nvidia.deviceSplitCont: is not a known field');
  });
});
