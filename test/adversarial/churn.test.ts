/**
 * Churn against a running `tessera up`: MIG pods deleted while others arrive, round after round. Every pod that
 * fits must end Running (none refused by the device plugin for a plan over instances that still exist), and the
 * independent checker must find 0 over-commit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCluster } from './checker.js';
import { killHard, startUp, stopGently, writeSmallTopology, type UpProcess } from './up-process.js';

const dir = mkdtempSync(join(tmpdir(), 'tessera-churn-'));
const topology = writeSmallTopology(dir);
let up: UpProcess | undefined;
afterAll(async () => {
  if (up) await killHard(up);
  rmSync(dir, { recursive: true, force: true });
});

const SIZES = ['4000', '9000', '19000'];

function migPod(name: string, mib: string): V1Pod {
  return {
    metadata: { name, namespace: 'default', annotations: { 'nvidia.com/vgpu-mode': 'mig' } },
    spec: { schedulerName: 'tessera-scheduler', containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': mib } } }] },
  };
}

describe('churn (tessera up as a process)', () => {
  it('re-places pods while others are deleted: every pod that fits runs, 0 over-commit', async () => {
    up = await startUp(dir, topology);
    const api = up.kubeConfig.makeApiClient(CoreV1Api);
    let serial = 0;
    const live = new Set<string>();
    for (let round = 0; round < 8; round++) {
      // Delete about half of what runs while a new batch arrives (sizes mixed, so plans reshape the GPUs).
      const victims = [...live].filter((_, i) => (i + round) % 2 === 0);
      const batch = Array.from({ length: 4 }, () => migPod(`churn-${serial++}`, SIZES[serial % SIZES.length] ?? '4000'));
      await Promise.all([
        ...victims.map((name) => api.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 0 }).then(() => live.delete(name))),
        ...batch.map((body) => api.createNamespacedPod({ namespace: 'default', body }).then(() => live.add(body.metadata?.name ?? ''))),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    // Settle: nothing pending that the scheduler is still working on.
    const deadline = Date.now() + 40_000;
    let pods: V1Pod[];
    for (;;) {
      pods = (await api.listNamespacedPod({ namespace: 'default' })).items.filter((p) => live.has(p.metadata?.name ?? ''));
      if (pods.every((p) => p.status?.phase === 'Running' || (!p.spec?.nodeName && p.status?.phase !== 'Failed')) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    const report = await checkCluster(up.kubeConfig);
    expect(report.overCommits).toEqual([]);
    expect(report.wrongPod).toEqual([]);
    // No pod failed for good: each runs, or waits unbound for room.
    expect(pods.filter((p) => p.status?.phase === 'Failed' || (p.spec?.nodeName && p.status?.phase !== 'Running')).map((p) => `${p.metadata?.name}: ${p.status?.message ?? p.status?.phase}`)).toEqual([]);
    expect(pods.filter((p) => p.status?.phase === 'Running').length).toBeGreaterThan(4);
    await stopGently(up);
  }, 120_000);
});
