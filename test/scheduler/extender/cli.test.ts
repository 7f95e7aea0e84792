/** `tessera scheduler` as an operator runs it: a real process against the embedded cluster, stopped by SIGTERM. */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../../src/cluster/index.js';
import { coreApi, eventually } from './cluster-harness.js';
import { gpuNode } from './fixtures.js';

const root = resolve(import.meta.dirname, '../../..');
let cluster: EmbeddedCluster;
let dir: string;

function tessera(args: string[]): ReturnType<typeof spawn> {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'scheduler', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exitCode(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((done) => child.on('exit', (code) => done(code)));
}

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  await coreApi(cluster).createNode({ body: gpuNode('gpu-1') });
  dir = mkdtempSync(join(tmpdir(), 'tessera-scheduler-'));
  await cluster.writeKubeconfig(join(dir, 'kubeconfig'));
  writeFileSync(join(dir, 'key'), randomBytes(32));
});

afterAll(async () => cluster?.stop());

describe('tessera scheduler', () => {
  it('starts, becomes ready against the cluster, and stops cleanly on SIGTERM', async () => {
    const child = tessera(['--kubeconfig', join(dir, 'kubeconfig'), '--signing-key-file', join(dir, 'key'), '--host', '127.0.0.1', '--port', '0', '--leader-elect=false']);
    const exited = exitCode(child);
    const url = await new Promise<string>((found, fail) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'tessera scheduler listening' && entry.url) found(entry.url);
      });
      void exited.then((code) => fail(new Error(`exited with ${code} before listening`)));
    });
    await eventually('ready', async () => (await fetch(`${url}/readyz`)).status, (s) => s === 200, 15_000);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('tessera_extender_synced 1');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 30_000);

  it('refuses bad settings before starting anything, naming the flag', async () => {
    const child = tessera(['--signing-key-file', join(dir, 'key'), '--lease-duration', '5', '--renew-deadline', '9']);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await exitCode(child)).toBe(2);
    expect(stderr).toContain('retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds');
  }, 30_000);
});
