/**
 * Two scheduler replicas as the chart runs them: each a stock kube-scheduler (config/scheduler-config.yaml, leader
 * election on) with its own `tessera scheduler` sidecar on loopback. During a burst of GPU pods the leading replica
 * is killed with SIGKILL, both processes at once, as a lost node takes a pod: the other replica takes the lease within
 * its duration and binds the rest, and nothing is given twice.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { parse, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControlPlane, freePort, type ComponentProcess } from '../../src/controlplane/index.js';
import { schedulerConfigFor } from '../../src/localmode/control-plane-mode.js';
import { PACKAGE_ROOT } from '../../src/localmode/up.js';
import { gpuNode, gpuPod } from '../scheduler/extender/fixtures.js';
import { checkGrants } from './grants.js';
import { K8S_BIN, startTessera, until, type TesseraProcess } from './harness.js';

const NODES = 4;
const PODS = 60;
/** Pods created before the leader is killed; the rest come right after. */
const FIRST_WAVE = 40;
const dir = await mkdtemp(join(tmpdir(), 'tessera-k8s-ha-'));
let plane: ControlPlane;

interface Replica {
  extender: TesseraProcess;
  scheduler: ComponentProcess;
  url: string;
}

async function startReplica(keyFile: string, kubeconfig: string): Promise<Replica> {
  const port = await freePort();
  const extender = startTessera([
    'scheduler',
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--kubeconfig',
    kubeconfig,
    '--signing-key-file',
    keyFile,
    '--leader-elect',
    'false',
    '--log-level',
    'warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await until(
    async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status ?? 0,
    (status) => status === 200,
    'an extender replica to be ready',
  );
  const config = parse(await schedulerConfigFor(join(PACKAGE_ROOT, 'config/scheduler-config.yaml'), url)) as Record<string, unknown>;
  const scheduler = await plane.startScheduler(stringify(config));
  return { extender, scheduler, url };
}

/** Pods a replica's extender has bound (its own /metrics). */
async function binds(replica: Replica): Promise<number> {
  const text = await (await fetch(`${replica.url}/metrics`)).text();
  return Number(/^tessera_extender_binds_total\{outcome="bound"\} (\d+)/m.exec(text)?.[1] ?? 0);
}

describe.skipIf(!K8S_BIN)('two scheduler replicas on the stock control plane', () => {
  beforeAll(async () => {
    plane = await ControlPlane.start({ binDir: K8S_BIN ?? '', dir: join(dir, 'control-plane'), log: pino({ level: 'silent' }) });
  }, 120_000);

  afterAll(async () => {
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('fails over within the lease duration when the leader is killed mid-burst, giving nothing twice', async () => {
    const kubeconfig = join(dir, 'admin.kubeconfig');
    await plane.writeKubeconfig(kubeconfig);
    const keyFile = join(dir, 'signing-key.pem');
    await writeFile(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const api = plane.kubeConfig().makeApiClient(CoreV1Api);
    for (let i = 0; i < NODES; i++) {
      await api.createNode({ body: gpuNode(`ha-node-${i}`) });
      await api.patchNode({ name: `ha-node-${i}`, body: [{ op: 'replace', path: '/spec/taints', value: [] }] });
    }
    const replicas = [await startReplica(keyFile, kubeconfig), await startReplica(keyFile, kubeconfig)];
    const election = (parse(await readFile(join(PACKAGE_ROOT, 'config/scheduler-config.yaml'), 'utf8')) as { leaderElection: { leaseDuration: string; retryPeriod: string } }).leaderElection;
    const leaseDurationSeconds = Number(election.leaseDuration.replace(/s$/, ''));
    const retryPeriodSeconds = Number(election.retryPeriod.replace(/s$/, ''));
    const lease = () => plane.kubeConfig().makeApiClient(CoordinationV1Api).readNamespacedLease({ name: 'tessera-kube-scheduler', namespace: 'kube-system' });
    await until(lease, (l) => Boolean(l.spec?.holderIdentity), 'a kube-scheduler to lead', 30_000);

    // Each pod takes 8 GB and 20% of a GPU: the 4 nodes' 32 GPUs hold 160, so every pod fits exactly once. The
    // burst comes in two waves, the second right after the kill: the first alone may be bound before the kill lands
    // (a drain of 60 pods takes well under a second), and then there would be nothing left to fail over.
    const createPods = (from: number, to: number): Promise<V1Pod[]> =>
      Promise.all(Array.from({ length: to - from }, (_, i) => api.createNamespacedPod({ namespace: 'default', body: gpuPod(`burst-${from + i}`, { memoryMiB: 8000, cores: 20 }) })));
    await createPods(0, FIRST_WAVE);
    const boundCount = async (): Promise<number> => (await api.listNamespacedPod({ namespace: 'default' })).items.filter((p) => p.spec?.nodeName).length;
    await until(boundCount, (n) => n >= 5, 'the first binds', 60_000);

    const calls = await Promise.all(replicas.map(binds));
    const leader = replicas[(calls[0] ?? 0) >= (calls[1] ?? 0) ? 0 : 1] as Replica;
    const follower = replicas.find((r) => r !== leader) as Replica;
    leader.scheduler.kill('SIGKILL');
    leader.extender.child.kill('SIGKILL');
    const killedAt = Date.now();
    const boundAtKill = await boundCount();
    await createPods(FIRST_WAVE, PODS);

    await until(boundCount, (n) => n > boundAtKill, 'the follower to bind again', (leaseDurationSeconds + 30) * 1000);
    const takeoverSeconds = (Date.now() - killedAt) / 1000;
    await until(boundCount, (n) => n === PODS, 'every pod to be bound', 120_000);
    expect(await binds(follower)).toBeGreaterThan(0);
    // The follower sees the lease expire a lease duration after it last saw it renewed, and both the seeing and the
    // acquiring run every retry period stretched by client-go's JitterFactor (1.2): up to 2.2 periods each. Two
    // seconds more cover the first scheduling cycle and its bind on a loaded machine.
    expect(takeoverSeconds).toBeLessThan(leaseDurationSeconds + 2 * 2.2 * retryPeriodSeconds + 2);
    const grants = checkGrants((await api.listNode()).items, (await api.listNamespacedPod({ namespace: 'default' })).items);
    expect(grants.violations).toEqual([]);
    expect(grants.granted).toBe(PODS);
    await follower.extender.stop();
    await follower.scheduler.stop();
  }, 300_000);
});
