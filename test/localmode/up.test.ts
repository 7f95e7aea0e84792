/**
 * `tessera up` end to end without a browser: a GPU pod goes from kubectl-style creation to Running through the
 * driver, the extender, the simulated kubelet and the fake device plugin; with --state, a restart comes back with
 * the same pods, nodes and MIG instances.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { TESSERA_NODE, TESSERA_POD } from '../../src/api/annotations.js';
import { decodeDecision } from '../../src/api/decision.js';
import { decodeInventory } from '../../src/api/inventory.js';
import { TesseraError } from '../../src/errors.js';
import { keyDirOf, startLocalCluster, type LocalCluster } from '../../src/localmode/up.js';
import type { DashboardView } from '../../src/localmode/dashboard/view.js';
import { ephemeralUpOptions } from './options.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-up-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

const options = ephemeralUpOptions(dir, { statePath: join(dir, 'state.json') });

const migPod: V1Pod = {
  metadata: { name: 'mig-10g', namespace: 'default', annotations: { 'nvidia.com/vgpu-mode': 'mig', 'nvidia.com/use-gputype': 'H100' } },
  spec: { schedulerName: 'tessera-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '9000' } } }] },
};

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function snapshot(local: LocalCluster): Promise<DashboardView> {
  return (await (await fetch(`${local.urls.dashboard}/api/snapshot`)).json()) as DashboardView;
}

describe('tessera up', () => {
  it('runs a MIG pod to Running, shows it on the dashboard, and keeps it across a restart with --state', async () => {
    let local = await startLocalCluster(options);
    try {
      const api = local.kubeConfig.makeApiClient(CoreV1Api);
      await api.createNamespacedPod({ namespace: 'default', body: migPod });
      const running = await until(
        () => api.readNamespacedPod({ name: 'mig-10g', namespace: 'default' }),
        (p) => p.status?.phase === 'Running',
        'the pod to run',
      );
      expect(running.spec?.nodeName).toBe('h100-mig-1');
      const device = decodeDecision(running.metadata?.annotations?.[TESSERA_POD.decision] ?? '').containers[0]?.devices[0];
      expect(device?.mig?.profile).toMatch(/^\dg\.\d+gb$/);
      const view = await until(
        () => snapshot(local),
        (v) => v.nodes.some((n) => n.gpus.some((g) => g.kind === 'mig' && g.instances.some((i) => i.pod === 'default/mig-10g' && i.state === 'in-use'))),
        'the dashboard to show the instance in use',
      );
      expect(view.headline.placedPods).toBe(1);
    } finally {
      await local.stop();
    }

    local = await startLocalCluster(options);
    try {
      const api = local.kubeConfig.makeApiClient(CoreV1Api);
      expect((await api.listNode()).items.map((n) => n.metadata?.name).sort()).toEqual(local.topology.nodes.map((n) => n.name).sort());
      const pod = await api.readNamespacedPod({ name: 'mig-10g', namespace: 'default' });
      expect(pod.status?.phase).toBe('Running');
      const decision = decodeDecision(pod.metadata?.annotations?.[TESSERA_POD.decision] ?? '');
      const held = decision.containers[0]?.devices[0];
      // The fake GPU comes back with the instance the pod holds.
      const inventory = await until(
        async () => decodeInventory((await api.readNode({ name: 'h100-mig-1' })).metadata?.annotations?.[TESSERA_NODE.inventory] ?? ''),
        (inv) => inv.gpus.some((g) => g.uuid === held?.uuid && g.mig.instances.some((i) => i.profile === held.mig?.profile && i.start === held.mig?.start)),
        'the restored MIG instance',
      );
      expect(inventory.node).toBe('h100-mig-1');
      // HAMi's scheduler reads the node from HAMi's own annotations (JSON DeviceInfo list, HAMi's field names).
      const annotations = (await api.readNode({ name: 'h100-mig-1' })).metadata?.annotations ?? {};
      const registered = JSON.parse(annotations['hami.io/node-nvidia-register'] ?? '[]') as Array<{ id: string; mode: string; health: boolean }>;
      expect(registered.map((d) => [d.id, d.mode, d.health]).sort()).toEqual(inventory.gpus.map((g) => [g.uuid, 'mig', true]).sort());
      expect(annotations['hami.io/node-handshake']).toMatch(/^Reported /);
    } finally {
      await local.stop();
    }
  });

  it('refuses a port in use, naming the flag, after stopping what it had started', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = (holder.address() as AddressInfo).port;
    try {
      const error = await startLocalCluster({ ...options, statePath: undefined, dashboardPort: port }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(TesseraError);
      expect((error as TesseraError).field).toBe('--dashboard-port');
      expect((error as TesseraError).message).toContain(`127.0.0.1:${port} is already in use`);
    } finally {
      holder.close();
    }
  });

  it('keeps its signing keys beside --state (0600) and refuses a saved state without them', async () => {
    const keyDir = keyDirOf(options.statePath ?? '');
    expect(statSync(join(keyDir, 'scheduler.pem')).mode & 0o777).toBe(0o600);
    const orphan = join(dir, 'orphan.json');
    await writeFile(orphan, '{}');
    const error = await startLocalCluster({ ...options, statePath: orphan }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TesseraError);
    expect((error as TesseraError).field).toBe('--state');
    expect((error as TesseraError).message).toContain('has no signing key beside it');
  });
});
