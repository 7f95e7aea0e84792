import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exporterCommand } from '../../src/cli/commands/exporter.js';
import { statusUpdaterCommand } from '../../src/cli/commands/status-updater.js';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { TesseraError } from '../../src/errors.js';
import { TOPOLOGY_KEY } from '../../src/topology/topology.js';
import { TestCluster, eventually } from './cluster-helpers.js';
import { scrape, series } from '../exporter/scrape.js';

const ARGS = ['--import', 'tsx', 'src/cli/main.ts'];
let cluster: EmbeddedCluster;
let k8s: TestCluster;
let kubeconfig: string;
const dir = mkdtempSync(join(tmpdir(), 'tessera-fakeop-cli-'));

/** Starts a daemon and resolves with it once a log line carries `message` (and that line's fields). */
function daemon(args: string[], message: string): Promise<{ child: ChildProcess; line: Record<string, unknown> }> {
  const child = spawn(process.execPath, [...ARGS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      for (const text of buffer.split('\n').slice(0, -1)) {
        const line = JSON.parse(text) as Record<string, unknown>;
        if (line.msg === message) resolve({ child, line });
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before '${message}': ${stderr}`)));
  });
}

function stopped(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', (code) => resolve(code));
    child.kill('SIGTERM');
  });
}

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  k8s = new TestCluster(cluster.kubeConfig(), 'gpu-operator');
  await k8s.namespaces('gpu-operator');
  kubeconfig = join(dir, 'kubeconfig');
  await cluster.writeKubeconfig(kubeconfig);
});

afterAll(async () => {
  await cluster?.stop();
});

describe('tessera status-updater and tessera exporter (CLI)', () => {
  it('refuses a bad topology file naming the field (the CLI exits 2 on it)', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'nodes:\n  n1: {gpu-count: 1, gpu-memory: 0, gpu-product: X}\n');
    const failure = statusUpdaterCommand.run(['--kubeconfig', kubeconfig, '--topology', file]);
    await expect(failure).rejects.toThrow(TesseraError);
    await expect(failure).rejects.toMatchObject({ status: 400, field: 'topology.topology.yml.nodes.n1.gpu-memory' });
  });

  it('rejects a malformed port naming the flag', async () => {
    await expect(exporterCommand.run(['--kubeconfig', kubeconfig, '--port', 'http'])).rejects.toMatchObject({ code: 'INVALID_INPUT', field: '--port' });
    await expect(exporterCommand.run(['--colour'])).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('publishes a topology file, serves its GPUs on /metrics, and stops cleanly on SIGTERM', async () => {
    // Real processes, started together: signals, logs and exit codes are part of what is tested.
    const [updater, exporter] = await Promise.all([
      daemon(['status-updater', '--kubeconfig', kubeconfig, '--topology', 'config/topology.yaml'], 'status updater running'),
      daemon(['exporter', '--kubeconfig', kubeconfig, '--port', '0', '--host', '127.0.0.1'], 'exporter running'),
    ]);
    try {
      expect((await k8s.readConfigMap('topology-gpu-shared-1')).data?.[TOPOLOGY_KEY]).toContain('Unhealthy');
      const url = exporter.line.url as string;
      await eventually(async () => expect(series(await scrape(url), 'DCGM_FI_DEV_FB_FREE', { Hostname: 'gpu-shared-1' })).toHaveLength(4), 10_000);
      const migSeries = series(await scrape(url), 'DCGM_FI_DEV_FB_FREE', { Hostname: 'gpu-mig-1', gpu: '0' });
      expect(migSeries.map((s) => s.labels.GPU_I_PROFILE).sort()).toEqual(['2g.10gb', '3g.20gb']);
    } finally {
      expect(await stopped(exporter.child)).toBe(0);
      expect(await stopped(updater.child)).toBe(0);
    }
  });
});
