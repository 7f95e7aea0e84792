import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { clusterCommand } from '../../src/cli/commands/cluster.js';

const cli = ['--import', 'tsx', 'src/cli/main.ts', 'cluster'];

describe('tessera cluster', () => {
  it('serves until SIGTERM, writes a kubeconfig, and saves its state on shutdown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tessera-cluster-cli-'));
    const kubeconfig = join(dir, 'kubeconfig');
    const state = join(dir, 'state.json');
    const child = spawn(process.execPath, [...cli, '--port', '0', '--state', state, '--kubeconfig', kubeconfig], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 300 && !existsSync(kubeconfig); i++) await new Promise((r) => setTimeout(r, 50));
      const kc = new KubeConfig();
      kc.loadFromFile(kubeconfig);
      await kc.makeApiClient(CoreV1Api).createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'from-cli' } } });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(readFileSync(state, 'utf8')).toContain('"from-cli"');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad port or an unknown flag as bad input naming it', async () => {
    await expect(clusterCommand.run(['--port', 'http'])).rejects.toMatchObject({ code: 'INVALID_INPUT', field: '--port' });
    await expect(clusterCommand.run(['--port', '70000'])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(clusterCommand.run(['--bogus'])).rejects.toThrow(/bogus/);
  });
});
