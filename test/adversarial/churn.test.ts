/**
 * Churn against a running `tessera up`: MIG pods deleted while others arrive, round after round. Every pod that
 * fits must end Running (none refused by the device plugin for a plan over instances that still exist; none left
 * pending while NVIDIA's placement table says it fits the free slices), and the independent checker must find 0
 * over-commit.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { checkCluster, type CheckReport } from './checker.js';
import { freePlacement, referenceProfiles } from './mig-table.js';
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
    const requested = new Map<string, string>();
    for (let round = 0; round < 8; round++) {
      // Delete about half of what runs while a new batch arrives (sizes mixed, so plans reshape the GPUs).
      const victims = [...live].filter((_, i) => (i + round) % 2 === 0);
      const batch = Array.from({ length: 4 }, () => {
        const name = `churn-${serial++}`;
        requested.set(name, SIZES[serial % SIZES.length] ?? '4000');
        return migPod(name, requested.get(name) ?? '');
      });
      await Promise.all([
        ...victims.map((name) => api.deleteNamespacedPod({ name, namespace: 'default', gracePeriodSeconds: 0 }).then(() => live.delete(name))),
        ...batch.map((body) => api.createNamespacedPod({ namespace: 'default', body }).then(() => live.add(body.metadata?.name ?? ''))),
      ]);
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    // Settle: every bound pod runs and no pending pod would fit the free slices (NVIDIA's table, read independently).
    const profiles = referenceProfiles('A100-40GB');
    // Generous: under a loaded CI machine the scheduler's backoff and the device plugin's MIG work take their time.
    const deadline = Date.now() + 90_000;
    let report: CheckReport;
    let notRunning: string[];
    let fitsButPending: string[];
    for (;;) {
      const pods = (await api.listNamespacedPod({ namespace: 'default' })).items.filter((p) => live.has(p.metadata?.name ?? ''));
      report = await checkCluster(up.kubeConfig);
      notRunning = pods.filter((p) => p.status?.phase === 'Failed' || (p.spec?.nodeName && p.status?.phase !== 'Running')).map((p) => `${p.metadata?.name}: ${p.status?.message ?? p.status?.phase}`);
      fitsButPending = pods.flatMap((p) => {
        if (p.spec?.nodeName) return [];
        const mib = Number(requested.get(p.metadata?.name ?? ''));
        const where = [...report.migGpus].map(([uuid, gpu]) => ({ uuid, at: freePlacement(profiles, mib, gpu.held, gpu.computeUsed) })).find((g) => g.at);
        return where ? [`${p.metadata?.name} (${mib} MiB) pending, fits ${where.uuid} at ${where.at}`] : [];
      });
      // An exchange of grants between two alike pods lands as one write per pod: a read between the two sees both
      // name the same instance. So over-commit, too, must settle to none; one that stays fails at the deadline.
      if ((notRunning.length === 0 && fitsButPending.length === 0 && report.overCommits.length === 0) || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(report.overCommits).toEqual([]);
    expect(report.wrongPod).toEqual([]);
    // No pod failed for good: each runs, or waits unbound because it does not fit.
    expect(notRunning).toEqual([]);
    expect(fitsButPending).toEqual([]);
    await stopGently(up);
  }, 180_000);
});
