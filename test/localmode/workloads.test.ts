/**
 * `tessera up` (embedded API server) takes what a HAMi user already has, through real kubectl: Deployments scaled
 * with `kubectl scale` (no GPU handed out twice), PVCs, and HAMi's own example files unchanged, whose pods reach
 * Tessera's scheduler because the embedded API server calls Tessera's admission webhook as kube-apiserver does.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Deployment, V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_POD } from '../../src/api/annotations.js';
import { decodeDecision } from '../../src/api/decision.js';
import { PACKAGE_ROOT, startLocalCluster, type LocalCluster } from '../../src/localmode/up.js';
import { ephemeralUpOptions } from './options.js';

const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const hasKubectl = existsSync(KUBECTL);
const run = promisify(execFile);
const HAMI_EXAMPLES = join(import.meta.dirname, '../../../shared/data/hami/v2.10.0/examples');

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value).slice(0, 800)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata: {name: trainers, namespace: default}
spec:
  replicas: 0
  selector: {matchLabels: {app: trainers}}
  template:
    metadata: {labels: {app: trainers}}
    spec:
      containers:
      - name: main
        image: cuda
        resources:
          limits: {nvidia.com/gpu: 1, nvidia.com/gpumem-percentage: 100, nvidia.com/gpucores: 100}
`;

describe.skipIf(!hasKubectl)('tessera up runs workloads as kube-apiserver and kube-controller-manager would', () => {
  let dir: string;
  let local: LocalCluster;
  const kubectl = async (...args: string[]): Promise<string> => (await run(KUBECTL, ['--kubeconfig', local.kubeconfigPath, ...args], { timeout: 30_000 })).stdout;
  const json = async <T>(...args: string[]): Promise<T> => JSON.parse(await kubectl(...args, '-o', 'json')) as T;
  const podsOf = async (namespace: string, selector?: string): Promise<V1Pod[]> => (await json<{ items: V1Pod[] }>('get', 'pods', '-n', namespace, ...(selector ? ['-l', selector] : []))).items;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tessera-workloads-'));
    local = await startLocalCluster(ephemeralUpOptions(dir));
  }, 60_000);
  afterAll(async () => {
    await local?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('scales a Deployment of whole-GPU pods 0 -> 10 -> 2 with kubectl scale, never handing a GPU out twice, and collects its pods on delete', async () => {
    const file = join(dir, 'deployment.yaml');
    await writeFile(file, DEPLOYMENT);
    expect(await kubectl('apply', '-f', file)).toContain('deployment.apps/trainers created');
    expect(await kubectl('scale', 'deployment', 'trainers', '--replicas=10')).toContain('deployment.apps/trainers scaled');
    const running = await until(
      () => podsOf('default', 'app=trainers'),
      (pods) => pods.length === 10 && pods.every((p) => p.status?.phase === 'Running'),
      '10 running pods',
      60_000,
    );
    const devices = running.map((p) => decodeDecision(p.metadata?.annotations?.[TESSERA_POD.decision] ?? '').containers[0]?.devices.map((d) => d.uuid) ?? []).flat();
    expect(devices).toHaveLength(10);
    expect(new Set(devices).size).toBe(10);
    for (const pod of running) {
      expect(pod.spec?.schedulerName).toBe('tessera-scheduler');
      expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'ReplicaSet', controller: true });
      expect(pod.metadata?.labels?.['pod-template-hash']).toMatch(/^[bcdfghjklmnpqrstvwxz2456789]+$/);
    }
    const ready = await until(
      () => json<V1Deployment>('get', 'deployment', 'trainers'),
      (d) => d.status?.readyReplicas === 10,
      'the Deployment to report 10 ready',
    );
    expect(ready.status).toMatchObject({ replicas: 10, updatedReplicas: 10, availableReplicas: 10 });
    expect(await kubectl('rollout', 'status', 'deployment/trainers', '--timeout=20s')).toContain('successfully rolled out');

    await kubectl('scale', 'deployment', 'trainers', '--replicas=2');
    const left = await until(
      () => podsOf('default', 'app=trainers'),
      (pods) => pods.length === 2,
      'the Deployment to shrink to 2 pods',
    );
    // The survivors are the oldest ones (all ran and were ready, so the newest went first).
    const byAge = [...running].sort((a, b) => new Date(a.metadata?.creationTimestamp ?? 0).getTime() - new Date(b.metadata?.creationTimestamp ?? 0).getTime());
    const oldest = new Date(byAge[1]!.metadata?.creationTimestamp ?? 0).getTime();
    for (const pod of left) expect(new Date(pod.metadata?.creationTimestamp ?? 0).getTime()).toBeLessThanOrEqual(oldest);
    const rs = await until(
      () => json<{ items: V1ReplicaSet[] }>('get', 'replicasets', '-l', 'app=trainers'),
      (l) => l.items[0]?.status?.replicas === 2,
      'the ReplicaSet status to say 2',
    );
    expect(rs.items).toHaveLength(1);
    expect(await kubectl('get', 'deployment', 'trainers', '-o', 'jsonpath={.spec.replicas}/{.status.readyReplicas}')).toMatch(/^2\/2$/);

    // A new pod template is a new ReplicaSet (revision 2); the old one is scaled to 0.
    await kubectl('set', 'env', 'deployment/trainers', 'MODE=two');
    const rolled = await until(
      () => json<{ items: V1ReplicaSet[] }>('get', 'replicasets', '-l', 'app=trainers'),
      (l) => l.items.length === 2 && l.items.every((r) => (r.status?.replicas ?? 0) === (r.spec?.replicas ?? 0)),
      'the rollout to a second ReplicaSet',
    );
    const revisions = Object.fromEntries(rolled.items.map((r) => [r.metadata?.annotations?.['deployment.kubernetes.io/revision'], r.spec?.replicas]));
    expect(revisions).toEqual({ '1': 0, '2': 2 });
    await until(
      () => podsOf('default', 'app=trainers'),
      (pods) => pods.length === 2 && pods.every((p) => p.spec?.containers[0]?.env?.[0]?.value === 'two' && p.status?.phase === 'Running'),
      'the new pods to run',
    );

    await kubectl('delete', 'deployment', 'trainers');
    await until(
      () => podsOf('default', 'app=trainers'),
      (pods) => pods.length === 0,
      'the pods to be collected',
    );
    await until(
      () => json<{ items: V1ReplicaSet[] }>('get', 'replicasets', '-l', 'app=trainers'),
      (l) => l.items.length === 0,
      'the ReplicaSet to be collected',
    );
  }, 120_000);

  it("refuses an invalid GPU pod at admission, in kube-apiserver's words, as the control plane does", async () => {
    const error = await kubectl('apply', '-f', join(PACKAGE_ROOT, 'examples/invalid-pod.yaml')).then(
      () => '',
      (failure: { stderr: string }) => failure.stderr,
    );
    expect(error).toContain('admission webhook "pods.tessera.io" denied the request');
    expect(error).toContain('nvidia.com/gpumem-percentage');
    await expect(kubectl('get', 'pod', 'invalid-memory-percentage')).rejects.toThrow(/NotFound/);
  });

  it('takes every HAMi example file unchanged: each pod is scheduled or refused with a reason', async () => {
    const files = readdirSync(HAMI_EXAMPLES)
      .filter((f) => f.endsWith('.yaml'))
      .sort();
    expect(files.length).toBeGreaterThanOrEqual(15);
    const outcomes: Record<string, string[]> = {};
    for (const [i, file] of files.entries()) {
      // One namespace per file: several files name their pod gpu-pod.
      const namespace = `hami-${i}`;
      await writeFile(join(dir, `${namespace}.yaml`), `apiVersion: v1\nkind: Namespace\nmetadata: {name: ${namespace}}\n`);
      await kubectl('apply', '-f', join(dir, `${namespace}.yaml`));
      const expected = (readFileSync(join(HAMI_EXAMPLES, file), 'utf8').match(/^kind: (Pod|Deployment)$/gm) ?? []).length;
      let applied: string;
      try {
        applied = await kubectl('apply', '-n', namespace, '-f', join(HAMI_EXAMPLES, file));
      } catch (error) {
        outcomes[file] = [`refused at admission: ${(error as { stderr: string }).stderr.trim()}`];
        continue;
      }
      expect(applied).not.toMatch(/error/i);
      const pods = await until(
        () => podsOf(namespace),
        (list) => list.length === expected && list.every((p) => p.spec?.nodeName || p.status?.conditions?.some((c) => c.type === 'PodScheduled' && c.status === 'False' && c.message)),
        `the pods of ${file} to be scheduled or refused`,
      );
      outcomes[file] = pods.map((p) => {
        const failed = p.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
        // Tessera's webhook routes the pods that ask for its resources; the rest stay with the default scheduler.
        const tessera = (p.spec?.containers ?? []).some((c) => 'nvidia.com/gpu' in (c.resources?.limits ?? {}));
        // The API server defaults schedulerName, as kube-apiserver does.
        expect(p.spec?.schedulerName).toBe(tessera ? 'tessera-scheduler' : 'default-scheduler');
        const by = p.spec?.schedulerName;
        return p.spec?.nodeName ? `${p.metadata?.name}: ${by} scheduled it on ${p.spec.nodeName}` : `${p.metadata?.name}: ${by}: unschedulable: ${failed?.message}`;
      });
    }
    console.log(JSON.stringify(outcomes, null, 2));
    expect(Object.keys(outcomes)).toHaveLength(files.length);
    // Two cannot be placed here, for the reasons kube-scheduler and HAMi would give: no node advertises the native
    // MIG resource, and no GPU has the UUIDs the file names. Everything else is placed, Deployments included.
    const refused: Record<string, RegExp> = {
      'mig_example.yaml': /default-scheduler: unschedulable: 0\/4 nodes are available: 4 Insufficient nvidia\.com\/mig-3g\.20gb/,
      'specify_uuid_to_use.yaml': /tessera-scheduler: unschedulable: .*uuid/,
    };
    for (const [file, lines] of Object.entries(outcomes)) {
      for (const line of lines) expect(line).toMatch(refused[file] ?? /: tessera-scheduler scheduled it on /);
    }
    expect(await kubectl('get', 'pvc', '-n', `hami-${files.indexOf('vllm_cross_vgpu.yaml')}`, '-o', 'name')).toContain('persistentvolumeclaim/vllm-cross-vgpu-cache');
  }, 240_000);
});
