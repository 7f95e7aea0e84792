/**
 * Attacks on grants against a running `tessera up` (a child process), driven as an attacker would: kubectl with
 * the kubeconfig it writes, raw HTTP to the extender port, kill -9. After each, the independent checker
 * (checker.ts) must find 0 over-commit and 0 grants held by the wrong pod.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCluster } from './checker.js';
import { killHard, startUp, stopGently, writeSmallTopology, type UpProcess } from './up-process.js';

const root = mkdtempSync(join(tmpdir(), 'tessera-adv-'));
const topology = writeSmallTopology(root);
let up: UpProcess | undefined;
afterAll(async () => {
  if (up) await killHard(up);
  rmSync(root, { recursive: true, force: true });
});

/** A fresh state directory per test. */
function stateDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  return dir;
}

function gpuPod(name: string, limits: Record<string, string>, annotations: Record<string, string> = {}): V1Pod {
  return {
    metadata: { name, namespace: 'default', annotations },
    spec: { schedulerName: 'tessera-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits } }] },
  };
}

/** Half a HAMi-core GPU, and a MIG slice of 10 GB: the two node kinds of the small topology. */
const hamiHalf = (name: string, annotations: Record<string, string> = {}): V1Pod =>
  gpuPod(name, { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '40960', 'nvidia.com/gpucores': '50' }, { 'nvidia.com/vgpu-mode': 'hami-core', ...annotations });
const migTen = (name: string): V1Pod => gpuPod(name, { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '9000' }, { 'nvidia.com/vgpu-mode': 'mig' });

async function settle(api: CoreV1Api, names: readonly string[], timeoutMs = 30_000): Promise<V1Pod[]> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  let stableSince = Date.now();
  for (;;) {
    const pods = (await api.listNamespacedPod({ namespace: 'default' })).items.filter((p) => names.includes(p.metadata?.name ?? ''));
    const state = pods
      .map((p) => `${p.metadata?.name}:${p.status?.phase}:${p.spec?.nodeName ?? ''}`)
      .sort()
      .join(',');
    if (state !== last) {
      last = state;
      stableSince = Date.now();
    }
    // Settled: every pod seen, and nothing changed for two seconds.
    if (pods.length === names.length && Date.now() - stableSince > 2000) return pods;
    if (Date.now() > deadline) return pods;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function expectClean(up: UpProcess): Promise<number> {
  const report = await checkCluster(up.kubeConfig);
  expect(report.overCommits).toEqual([]);
  expect(report.wrongPod).toEqual([]);
  return report.holders;
}

const kubectl = (dir: string, ...args: string[]): string => execFileSync('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), ...args], { encoding: 'utf8' });

/** Four half GPUs fill both HAMi-core GPUs; six MIG pods take 6 of the 14 one-slice instances. */
async function fill(api: CoreV1Api): Promise<V1Pod[]> {
  const first = [...[0, 1, 2, 3].map((i) => hamiHalf(`hami-${i}`)), ...[0, 1, 2, 3, 4, 5].map((i) => migTen(`mig-${i}`))];
  for (const pod of first) await api.createNamespacedPod({ namespace: 'default', body: pod });
  const running = await settle(
    api,
    first.map((p) => p.metadata?.name ?? ''),
  );
  expect(running.filter((p) => p.status?.phase === 'Running').length).toBe(first.length);
  return running;
}

describe('grants under attack (tessera up as a process)', () => {
  it('gives nothing for self-release, a forged or replayed decision, or anonymous bind and filter calls: 0 over-commit', async () => {
    const dir = stateDir('attacks');
    up = await startUp(dir, topology);
    const api = up.kubeConfig.makeApiClient(CoreV1Api);
    const running = await fill(api);
    expect(await expectClean(up)).toBe(running.length);

    // Self-release: the owner of a running pod marks it failed (no webhook in local mode to stop the edit).
    kubectl(dir, 'annotate', '--overwrite', 'pod', 'hami-0', 'hami.io/bind-phase=failed');
    // Replay: a new pod carrying a running pod's signed decision and a success mark.
    const stolen = (await api.readNamespacedPod({ name: 'hami-1', namespace: 'default' })).metadata?.annotations ?? {};
    await api.createNamespacedPod({ namespace: 'default', body: hamiHalf('replayed', { 'tessera.io/decision': stolen['tessera.io/decision'] ?? '', 'hami.io/bind-phase': 'success' }) });
    // Forged: a decision for the pod's own uid, a copy of a real grant's devices, signed with the attacker's key;
    // then bound by hand (Binding subresource), so kubelet admits it.
    const forged = await api.createNamespacedPod({ namespace: 'default', body: hamiHalf('forged') });
    const real = JSON.parse(stolen['tessera.io/decision'] ?? '{}') as Record<string, unknown>;
    const claim = { ...real, pod: { uid: forged.metadata?.uid, namespace: 'default', name: 'forged' } };
    const forgedDecision = { ...claim, signature: sign(null, Buffer.from(JSON.stringify(claim)), generateKeyPairSync('ed25519').privateKey).toString('base64url') };
    kubectl(dir, 'annotate', 'pod', 'forged', `tessera.io/decision=${JSON.stringify(forgedDecision)}`, 'hami.io/bind-phase=allocating');
    await api.createNamespacedPodBinding({
      name: 'forged',
      namespace: 'default',
      body: { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'forged', namespace: 'default' }, target: { apiVersion: 'v1', kind: 'Node', name: String(real.node) } },
    });
    // Anonymous binds of a running pod to the other node and to its own, and a filter: none may free or move it.
    const victim = running.find((p) => p.metadata?.name === 'hami-2');
    for (const node of ['mig-1', victim?.spec?.nodeName ?? '']) {
      const reply = await fetch(`${up.extenderUrl}/bind`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ PodName: 'hami-2', PodNamespace: 'default', PodUID: victim?.metadata?.uid, Node: node }),
      });
      expect(reply.status).toBe(200);
    }
    await fetch(`${up.extenderUrl}/filter`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ Pod: victim, NodeNames: ['hami-1', 'mig-1'] }) });
    // Ask for more than is left: whatever the attacks freed in the books would be handed out here.
    const more = [0, 1, 2].map((i) => hamiHalf(`more-hami-${i}`));
    for (const pod of more) await api.createNamespacedPod({ namespace: 'default', body: pod });
    await settle(api, [...more.map((p) => p.metadata?.name ?? ''), 'replayed', 'forged']);
    await expectClean(up);
    const after = (await api.listNamespacedPod({ namespace: 'default' })).items;
    expect(after.filter((p) => p.metadata?.name?.startsWith('more-hami-') && p.spec?.nodeName).length).toBe(0);
    expect(after.find((p) => p.metadata?.name === 'hami-2')?.spec?.nodeName).toBe(victim?.spec?.nodeName);
    // Forged and replayed grants got nothing: neither runs.
    expect(after.filter((p) => ['forged', 'replayed'].includes(p.metadata?.name ?? '') && p.status?.phase === 'Running').map((p) => p.metadata?.name)).toEqual([]);
    await stopGently(up);
  }, 120_000);

  it('gives pods placed by hand with spec.nodeName nothing they keep, and every legitimate pod its grant', async () => {
    const dir = stateDir('nodename');
    up = await startUp(dir, topology);
    const api = up.kubeConfig.makeApiClient(CoreV1Api);
    const small = (name: string): V1Pod => gpuPod(name, { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '4000', 'nvidia.com/gpucores': '5' }, { 'nvidia.com/vgpu-mode': 'hami-core' });
    const legit = [...Array(10).keys()].map((i) => small(`legit-${i}`));
    const thieves = [...Array(10).keys()].map((i) => {
      const pod = small(`thief-${i}`);
      return { ...pod, spec: { ...pod.spec, containers: pod.spec?.containers ?? [], nodeName: 'hami-1' } };
    });
    // The webhook refuses them first.
    const refused = small('thief-refused');
    await expect(api.createNamespacedPod({ namespace: 'default', body: { ...refused, spec: { ...refused.spec, containers: refused.spec?.containers ?? [], nodeName: 'hami-1' } } })).rejects.toThrow(
      /spec\.nodeName/,
    );
    // With the webhook down (removed, as an outage or a misconfiguration leaves it), kubelet admits them, and only the
    // device plugin stands between them and others' grants.
    kubectl(dir, 'delete', 'mutatingwebhookconfiguration', 'tessera-webhook');
    await Promise.all([...legit, ...thieves].map((body) => api.createNamespacedPod({ namespace: 'default', body })));
    await settle(
      api,
      legit.map((p) => p.metadata?.name ?? ''),
      45_000,
    );
    await new Promise((resolve) => setTimeout(resolve, 6000));
    await expectClean(up);
    const after = (await api.listNamespacedPod({ namespace: 'default' })).items;
    expect(after.filter((p) => p.metadata?.name?.startsWith('legit-') && p.status?.phase === 'Running').length).toBe(legit.length);
    // A thief is gone (evicted) or was refused at admission; none runs.
    expect(after.filter((p) => p.metadata?.name?.startsWith('thief-') && p.status?.phase === 'Running').map((p) => p.metadata?.name)).toEqual([]);
    await stopGently(up);
  }, 120_000);

  it('keeps every saved grant across kill -9 and restarts: 0 over-commit, 0 lost binds', async () => {
    const dir = stateDir('restart');
    up = await startUp(dir, topology);
    let api = up.kubeConfig.makeApiClient(CoreV1Api);
    const running = await fill(api);
    // The state is saved within a second of a change (acknowledged-but-unsaved binds are another issue's).
    await new Promise((resolve) => setTimeout(resolve, 2500));
    await killHard(up);
    up = await startUp(dir, topology);
    api = up.kubeConfig.makeApiClient(CoreV1Api);
    // Ask for everything again: a restart that forgot the saved grants hands their GPUs out here.
    const again = [...[0, 1].map((i) => hamiHalf(`after-hami-${i}`)), ...[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map((i) => migTen(`after-mig-${i}`))];
    for (const pod of again) await api.createNamespacedPod({ namespace: 'default', body: pod });
    await settle(
      api,
      again.map((p) => p.metadata?.name ?? ''),
      45_000,
    );
    await expectClean(up);
    const after = (await api.listNamespacedPod({ namespace: 'default' })).items;
    for (const pod of running) expect(after.find((p) => p.metadata?.name === pod.metadata?.name)?.spec?.nodeName).toBe(pod.spec?.nodeName);
    expect(after.filter((p) => p.metadata?.name?.startsWith('after-hami-') && p.spec?.nodeName).length).toBe(0);
    // A clean restart keeps the same key too.
    await stopGently(up);
    up = await startUp(dir, topology);
    await expectClean(up);
    await stopGently(up);
  }, 180_000);
});
