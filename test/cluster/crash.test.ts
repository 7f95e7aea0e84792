/**
 * kill -9 during a burst of writes: every create and binding the API server acknowledged is there after a restart
 * on the same state file. The server runs as `tessera cluster --state`, a real child process; the client is
 * client-node through the kubeconfig it writes.
 */
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { journalPath, loadState } from '../../src/cluster/persistence.js';
import { pod } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-crash-'));
const state = join(dir, 'state.json');
const kubeconfig = join(dir, 'kubeconfig');
const children: ChildProcess[] = [];

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** Starts `tessera cluster --state` and waits for the kubeconfig it writes once it listens. */
async function startServer(): Promise<{ child: ChildProcess; core: CoreV1Api; exited: Promise<unknown> }> {
  rmSync(kubeconfig, { force: true });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'cluster', '--port', '0', '--state', state, '--kubeconfig', kubeconfig], { stdio: 'ignore' });
  children.push(child);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  for (let i = 0; i < 600 && !existsSync(kubeconfig); i++) await new Promise((r) => setTimeout(r, 50));
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return { child, core: kc.makeApiClient(CoreV1Api), exited };
}

describe('kill -9 during a burst of writes', () => {
  it('loses nothing the API server acknowledged, at several kill points', async () => {
    for (const [round, killAfterMs] of [150, 400, 700, 1100].entries()) {
      const { child, core, exited } = await startServer();
      const created: string[] = [];
      const bound = new Map<string, string>();
      let stop = false;
      const worker = async (w: number): Promise<void> => {
        for (let i = 0; !stop; i++) {
          const name = `r${round}-w${w}-${i}`;
          try {
            await core.createNamespacedPod({ namespace: 'default', body: pod(name) });
            created.push(name);
            const node = `node-${i % 3}`;
            await core.createNamespacedPodBinding({ name, namespace: 'default', body: { metadata: { name }, target: { kind: 'Node', name: node } } });
            bound.set(name, node);
          } catch {
            // The server died under this request: it was never acknowledged.
            return;
          }
        }
      };
      const workers = Promise.all(Array.from({ length: 12 }, (_, w) => worker(w)));
      await new Promise((r) => setTimeout(r, killAfterMs + Math.random() * 200));
      child.kill('SIGKILL');
      await exited;
      stop = true;
      await workers;
      expect(created.length).toBeGreaterThan(0);

      const restarted = await startServer();
      const pods = await restarted.core.listNamespacedPod({ namespace: 'default' });
      const byName = new Map(pods.items.map((p) => [p.metadata?.name, p]));
      const lost = created.filter((name) => !byName.has(name));
      const unbound = [...bound].filter(([name, node]) => byName.get(name)?.spec?.nodeName !== node);
      expect({ round, lost, unbound }).toEqual({ round, lost: [], unbound: [] });
      restarted.child.kill('SIGKILL');
      await restarted.exited;
    }
  }, 120_000);

  it('folds a grown journal into the state file and still recovers every write after kill -9', async () => {
    rmSync(state, { force: true });
    rmSync(journalPath(state), { force: true });
    const { child, core, exited } = await startServer();
    const blob = 'x'.repeat(1024 * 1024);
    // 24 MiB of writes: past the 16 MiB at which the journal is folded into the snapshot.
    for (let i = 0; i < 24; i++) await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: `big-${i}` }, data: { blob } } });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'last' } } });
    expect(statSync(state).size).toBeGreaterThan(16 * 1024 * 1024);
    expect(statSync(journalPath(state)).size).toBeLessThan(16 * 1024 * 1024);
    child.kill('SIGKILL');
    await exited;
    const restarted = await startServer();
    const names = (await restarted.core.listNamespacedConfigMap({ namespace: 'default' })).items.map((c) => c.metadata?.name);
    expect(names).toEqual(expect.arrayContaining([...Array.from({ length: 24 }, (_, i) => `big-${i}`), 'last']));
    restarted.child.kill('SIGKILL');
    await restarted.exited;
  }, 60_000);

  it('drops a torn last journal record and refuses damage anywhere else', async () => {
    const { child, core, exited } = await startServer();
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'before-tear' } } });
    child.kill('SIGKILL');
    await exited;
    const log = pino({ level: 'silent' });
    // A crash in the middle of an append leaves a record without its end.
    appendFileSync(journalPath(state), '{"rv":999999,"type":"/configmaps","object":{"metadata":{"na');
    const loaded = await loadState(state, log);
    expect(loaded?.objects['/configmaps']?.map((c) => c.metadata.name)).toContain('before-tear');
    appendFileSync(journalPath(state), '\n{"rv":1000000,"type":"/configmaps","removed":"default/before-tear"}\n');
    await expect(loadState(state, log)).rejects.toThrow(/state\.json\.journal line \d+ is not valid JSON/);
  });
});
