/**
 * HAMi's own device configs (../shared/data/hami, unchanged) in every command that loads one: `tessera config
 * check` and `tessera scheduler` as real processes, `tessera up --device-config` (a MIG pod placed under v2.10's
 * allowlist, each notice logged once), and the device plugin's flags (nodeconfig gives the mode and split count).
 */
import { generateKeyPairSync } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { TESSERA_POD } from '../../src/api/annotations.js';
import { decodeDecision } from '../../src/api/decision.js';
import { parseDevicePluginFlags } from '../../src/cli/commands/device-plugin.js';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { startLocalCluster } from '../../src/localmode/up.js';
import { ephemeralUpOptions } from '../localmode/options.js';

function hamiPath(version: string): string {
  const path = fileURLToPath(new URL(`../../../shared/data/hami/${version}/device-config.yaml`, import.meta.url));
  if (!existsSync(path)) throw new Error(`${path} is missing: these tests read HAMi's files from the shared checkout at ../shared (see ../shared/README.md)`);
  return path;
}

const dir = await mkdtemp(join(tmpdir(), 'tessera-hami-config-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe("HAMi's device configs in every command", () => {
  it.each(['v2.9.0', 'v2.10.0'])('tessera config check %s exits 0 and lists each other vendor once', (version) => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'config', 'check', hamiPath(version)], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toContain(': valid (');
    for (const vendor of ['cambricon', 'hygon', 'metax', 'vnpus']) {
      expect(result.stdout.split('\n').filter((line) => line.startsWith(`  notice: ${vendor}: `))).toHaveLength(1);
    }
  });

  it.each(['v2.9.0', 'v2.10.0'])(
    'tessera scheduler --device-config %s starts, logs each other vendor once, and stops on SIGTERM',
    async (version) => {
      const cluster = await EmbeddedCluster.start();
      try {
        await cluster.writeKubeconfig(join(dir, 'kubeconfig'));
        await writeFile(join(dir, 'key'), generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            'src/cli/main.ts',
            'scheduler',
            '--device-config',
            hamiPath(version),
            '--kubeconfig',
            join(dir, 'kubeconfig'),
            '--signing-key-file',
            join(dir, 'key'),
            '--host',
            '127.0.0.1',
            '--port',
            '0',
            '--leader-elect=false',
          ],
          { stdio: ['ignore', 'pipe', 'pipe'] },
        );
        const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
        const entries: { msg?: string; field?: string }[] = [];
        await new Promise<void>((listening, fail) => {
          createInterface({ input: child.stdout }).on('line', (line) => {
            if (!line.startsWith('{')) return;
            const entry = JSON.parse(line) as { msg?: string; field?: string };
            entries.push(entry);
            if (entry.msg === 'tessera scheduler listening') listening();
          });
          void exited.then((code) => fail(new Error(`exited with ${code} before listening`)));
        });
        const notices = entries.filter((e) => e.msg === 'device config: accepted, not applied');
        for (const vendor of ['cambricon', 'hygon', 'vnpus']) expect(notices.filter((n) => n.field === vendor)).toHaveLength(1);
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
      } finally {
        await cluster.stop();
      }
    },
    60_000,
  );

  it('tessera up --device-config v2.10.0: starts, logs each notice once, and places a MIG pod on an allowlisted profile', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(
          ...chunk
            .toString('utf8')
            .split('\n')
            .filter((l) => l !== ''),
        );
        done();
      },
    });
    const local = await startLocalCluster(ephemeralUpOptions(dir, { deviceConfigPath: hamiPath('v2.10.0'), log: pino({ level: 'warn' }, sink) }));
    try {
      const notices = lines.map((l) => JSON.parse(l) as { msg: string; field?: string }).filter((l) => l.msg === 'device config: accepted, not applied');
      expect(notices.filter((n) => n.field === 'hygon')).toHaveLength(1);
      expect(notices.filter((n) => n.field === 'vnpus')).toHaveLength(1);
      const api = local.kubeConfig.makeApiClient(CoreV1Api);
      // 6 GiB on an A100-40GB: HAMi v2.10's allowlist has no 1g.10gb there, so the pod gets a listed profile.
      const pod: V1Pod = {
        metadata: { name: 'mig-6g', namespace: 'default', annotations: { 'nvidia.com/vgpu-mode': 'mig', 'nvidia.com/use-gputype': 'A100' } },
        spec: { schedulerName: 'tessera-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '6144' } } }] },
      };
      await api.createNamespacedPod({ namespace: 'default', body: pod });
      const deadline = Date.now() + 15_000;
      let decision = '';
      while (decision === '' && Date.now() < deadline) {
        decision = (await api.readNamespacedPod({ name: 'mig-6g', namespace: 'default' })).metadata?.annotations?.[TESSERA_POD.decision] ?? '';
        if (decision === '') await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const profile = decodeDecision(decision).containers[0]?.devices[0]?.mig?.profile;
      expect(['1g.5gb', '2g.10gb', '3g.20gb', '7g.40gb']).toContain(profile);
      expect(profile).toBe('2g.10gb');
    } finally {
      await local.stop();
    }
  });

  it("device plugin: the node's nodeconfig entry gives mode and split count; a flag given wins", async () => {
    const file = join(dir, 'nodes.yaml');
    await writeFile(file, 'nvidia: {deviceSplitCount: 6}\nnodeconfig:\n  - {name: gpu-a, operatingmode: mig}\n  - {name: gpu-b, devicesplitcount: 3}\n  - {name: gpu-m, operatingmode: mps}\n');
    const flags = (node: string, ...extra: string[]) => parseDevicePluginFlags(['--device-config', file, '--scheduler-public-key-file', '/k', ...extra], { NODE_NAME: node });
    expect(flags('gpu-a')).toMatchObject({ mode: 'mig', splitCount: 6 });
    expect(flags('gpu-b')).toMatchObject({ mode: 'hami-core', splitCount: 3 });
    expect(flags('gpu-c')).toMatchObject({ mode: 'hami-core', splitCount: 6 });
    expect(flags('gpu-m')).toMatchObject({ mode: 'mps' });
    expect(flags('gpu-a', '--mode', 'hami-core', '--split-count', '2')).toMatchObject({ mode: 'hami-core', splitCount: 2 });
    expect(() => parseDevicePluginFlags(['--device-config', hamiPath('v2.10.0'), '--scheduler-public-key-file', '/k'], { NODE_NAME: 'n' })).not.toThrow();
    await writeFile(file, 'nvidia: {gpuCorePolicy: 3}\n');
    expect(() => flags('gpu-a')).toThrow('nvidia.gpuCorePolicy');
  });
});
