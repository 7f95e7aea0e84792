import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

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

  it('rejects a bad port with exit code 2 naming the flag', () => {
    const result = spawnSync(process.execPath, [...cli, '--port', 'http'], { encoding: 'utf8' });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--port');
  });
});
