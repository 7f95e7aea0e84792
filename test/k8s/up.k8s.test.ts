/**
 * `tessera up --control-plane`: the stock etcd, kube-apiserver, kube-controller-manager and kube-scheduler run the
 * local stack. kube-scheduler follows config/scheduler-config.yaml and calls Tessera's extender for filter,
 * prioritize and bind; kube-apiserver calls Tessera's admission webhook through a MutatingWebhookConfiguration over
 * HTTPS; the simulated kubelets and device plugins run the pods. Everything is driven with kubectl.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_POD } from '../../src/api/annotations.js';
import { decodeDecision } from '../../src/api/decision.js';
import { PACKAGE_ROOT } from '../../src/localmode/up.js';
import { checkGrants } from './grants.js';
import { K8S_BIN, kubectl, startTessera, until, type TesseraProcess } from './harness.js';

const dir = await mkdtemp(join(tmpdir(), 'tessera-k8s-up-'));
const kubeconfig = join(dir, 'kubeconfig');
let up: TesseraProcess;
let api: CoreV1Api;

async function pods(): Promise<V1Pod[]> {
  return (await api.listPodForAllNamespaces()).items;
}

async function pod(name: string): Promise<V1Pod> {
  return api.readNamespacedPod({ name, namespace: 'default' });
}

/**
 * The device plugin records an exchange of grants between two pods with one write per pod: a read between the two
 * sees both name the same devices. That settles in milliseconds; a real over-commit stays, so it is what remains
 * after a few seconds of reads that counts.
 */
async function noOverCommit(): Promise<number> {
  const deadline = Date.now() + 5_000;
  let result = checkGrants((await api.listNode()).items, await pods());
  while (result.violations.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    result = checkGrants((await api.listNode()).items, await pods());
  }
  expect(result.violations).toEqual([]);
  return result.granted;
}

function gpuPod(name: string, limits: Record<string, string>, extra: { annotations?: Record<string, string>; schedulerName?: string } = {}): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default', ...(extra.annotations ? { annotations: extra.annotations } : {}) },
    spec: { ...(extra.schedulerName ? { schedulerName: extra.schedulerName } : {}), containers: [{ name: 'main', image: 'cuda', resources: { limits } }] },
  });
}

describe.skipIf(!K8S_BIN)('tessera up on the stock control plane', () => {
  beforeAll(async () => {
    up = startTessera([
      'up',
      '--control-plane',
      K8S_BIN ?? '',
      '--no-demo',
      '--kubeconfig',
      kubeconfig,
      '--extender-port',
      '0',
      '--dashboard-port',
      '0',
      '--exporter-port',
      '0',
      '--log-level',
      'warn',
    ]);
    await up.waitFor('Tessera local cluster is up');
    const config = new KubeConfig();
    config.loadFromFile(kubeconfig);
    api = config.makeApiClient(CoreV1Api);
  }, 240_000);

  afterAll(async () => {
    expect(await up.stop(), up.output().slice(-6000)).toBe(0);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('places the examples through kube-scheduler and the extender; the invalid one is refused with the field named', async () => {
    const examples = (await readdir(join(PACKAGE_ROOT, 'examples'))).filter((f) => f.endsWith('.yaml') && f !== 'invalid-pod.yaml');
    for (const file of examples) await kubectl(kubeconfig, ['apply', '-f', join(PACKAGE_ROOT, 'examples', file)]);
    const expected: Record<string, { mode: string; devices: number; node?: RegExp }> = {
      'shared-notebook': { mode: 'hami-core', devices: 1 },
      'mig-inference': { mode: 'mig', devices: 1 },
      'h100-mig-finetune': { mode: 'mig', devices: 1, node: /h100/ },
      'multi-gpu-training': { mode: expect.any(String) as unknown as string, devices: 2 },
    };
    for (const [name, want] of Object.entries(expected)) {
      const running = await until(
        () => pod(name),
        (p) => p.status?.phase === 'Running',
        `${name} to run`,
        90_000,
      );
      const decision = decodeDecision(running.metadata?.annotations?.[TESSERA_POD.decision] ?? '');
      expect(decision.node).toBe(running.spec?.nodeName);
      expect(decision.mode).toEqual(want.mode);
      const devices = decision.containers.flatMap((c) => c.devices);
      expect(devices).toHaveLength(want.devices);
      expect(new Set(devices.map((d) => d.uuid)).size).toBe(want.devices);
      if (want.node) expect(running.spec?.nodeName).toMatch(want.node);
    }
    await expect(kubectl(kubeconfig, ['apply', '-f', join(PACKAGE_ROOT, 'examples/invalid-pod.yaml')])).rejects.toThrow(/denied the request.*invalid nvidia\.com\/gpumem-percentage value 150/s);
    expect(await noOverCommit()).toBe(4);
  }, 180_000);

  it("leaves a pod Pending with Tessera's reason in the FailedScheduling event kubectl describe shows", async () => {
    await kubectl(kubeconfig, ['apply', '-f', '-'], gpuPod('too-big', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '500000' }, { schedulerName: 'tessera-scheduler' }));
    const described = await until(
      () => kubectl(kubeconfig, ['describe', 'pod', 'too-big']),
      (text) => text.includes('FailedScheduling'),
      'a FailedScheduling event',
    );
    expect(described).toMatch(/FailedScheduling/);
    expect(described).toMatch(/memory|gpumem/i);
    expect((await pod('too-big')).spec?.nodeName).toBeUndefined();
    await kubectl(kubeconfig, ['delete', 'pod', 'too-big', '--wait=false']);
  }, 120_000);

  it('admission: sets the schedulerName, strips forged scheduler annotations, refuses invalid requests with the message', async () => {
    await kubectl(kubeconfig, ['apply', '-f', '-'], gpuPod('no-scheduler', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '2000' }, { annotations: { [TESSERA_POD.decision]: '{"forged":true}' } }));
    const created = await pod('no-scheduler');
    expect(created.spec?.schedulerName).toBe('tessera-scheduler');
    const running = await until(
      () => pod('no-scheduler'),
      (p) => p.status?.phase === 'Running',
      'the defaulted pod to run',
      90_000,
    );
    expect(decodeDecision(running.metadata?.annotations?.[TESSERA_POD.decision] ?? '').pod.uid).toBe(running.metadata?.uid);
    // HAMi v2.10 takes gpucores above 100 as 100 (the GPU alone) and refuses a percentage above 100.
    await kubectl(kubeconfig, ['apply', '-f', '-'], gpuPod('many-cores', { 'nvidia.com/gpu': '1', 'nvidia.com/gpucores': '150' }));
    expect((await pod('many-cores')).spec?.schedulerName).toBe('tessera-scheduler');
    await expect(kubectl(kubeconfig, ['apply', '-f', '-'], gpuPod('bad-percentage', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem-percentage': '150' }))).rejects.toThrow(
      /denied the request.*gpumem-percentage value 150/s,
    );
    const other = JSON.parse(gpuPod('other-scheduler', { cpu: '1' }, { schedulerName: 'default-scheduler' })) as V1Pod;
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(other));
    expect((await pod('other-scheduler')).spec?.schedulerName).toBe('default-scheduler');
    await kubectl(kubeconfig, ['delete', 'pod', 'no-scheduler', 'other-scheduler', 'many-cores', '--wait=false']);
  }, 120_000);

  it('admission as HAMi ships it: other schedulers and opted-out pods left alone, privileged GPU pods refused, grants guarded on UPDATE', async () => {
    await kubectl(kubeconfig, ['apply', '-f', '-'], gpuPod('for-volcano', { 'nvidia.com/gpumem': '1000' }, { schedulerName: 'volcano' }));
    const volcano = await pod('for-volcano');
    expect(volcano.spec?.schedulerName).toBe('volcano');
    expect(volcano.spec?.containers[0]?.resources?.limits?.['nvidia.com/gpu']).toBeUndefined();
    const optedOut = JSON.parse(gpuPod('opted-out', { 'nvidia.com/gpumem': '1000' })) as V1Pod;
    optedOut.metadata = { ...optedOut.metadata, labels: { 'hami.io/webhook': 'ignore' } };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(optedOut));
    expect((await pod('opted-out')).spec?.schedulerName).toBe('default-scheduler');
    const privileged = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'privileged' },
      spec: { containers: [{ name: 'main', image: 'cuda', securityContext: { privileged: true }, resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
    };
    await expect(kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(privileged))).rejects.toThrow(/denied the request.*container main is privileged/s);

    await kubectl(kubeconfig, ['apply', '-f', '-'], gpuPod('guarded', { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '1000', 'nvidia.com/priority': '1' }));
    const running = await until(
      () => pod('guarded'),
      (p) => p.status?.phase === 'Running',
      'the guarded pod to run',
      90_000,
    );
    expect(running.spec?.containers[0]?.env).toContainEqual({ name: 'CUDA_TASK_PRIORITY', value: '1' });
    // A cluster admin impersonated as another user: RBAC lets the edit through, the guard does not.
    const asAlice = ['--as', 'alice', '--as-group', 'system:masters'];
    await expect(kubectl(kubeconfig, ['annotate', 'pod', 'guarded', 'hami.io/bind-phase=failed', '--overwrite', ...asAlice])).rejects.toThrow(
      /hami\.io\/bind-phase may be changed only by the Tessera scheduler/,
    );
    await kubectl(kubeconfig, ['label', 'pod', 'guarded', 'team=ml', ...asAlice]);
    await kubectl(kubeconfig, ['label', 'pod', 'for-volcano', 'team=ml', ...asAlice]);
    expect((await pod('guarded')).metadata?.annotations?.['hami.io/bind-phase']).toBe('success');
    await kubectl(kubeconfig, ['delete', 'pod', 'for-volcano', 'opted-out', 'guarded', '--wait=false']);
  }, 150_000);

  it('a Deployment scales 0 -> 10 -> 2 through kube-controller-manager with no grant doubled or leaked', async () => {
    await kubectl(kubeconfig, ['delete', 'pods', '--all', '--wait=true', '--timeout=60s']);
    await until(
      async () => (await pods()).filter((p) => p.metadata?.namespace === 'default').length,
      (n) => n === 0,
      'the pods to go',
    );
    const deployment = {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'inference', namespace: 'default' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'inference' } },
        template: {
          metadata: { labels: { app: 'inference' }, annotations: { 'nvidia.com/vgpu-mode': 'hami-core' } },
          spec: { containers: [{ name: 'main', image: 'cuda', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '20000', 'nvidia.com/gpucores': '30' } } }] },
        },
      },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(deployment));
    const running = async (): Promise<V1Pod[]> => (await pods()).filter((p) => p.metadata?.labels?.['app'] === 'inference' && p.status?.phase === 'Running' && !p.metadata.deletionTimestamp);
    await kubectl(kubeconfig, ['scale', 'deployment/inference', '--replicas=10']);
    await until(running, (list) => list.length === 10, '10 replicas running', 120_000);
    expect(await noOverCommit()).toBe(10);
    await kubectl(kubeconfig, ['scale', 'deployment/inference', '--replicas=2']);
    await until(
      async () => (await pods()).filter((p) => p.metadata?.labels?.['app'] === 'inference').length,
      (n) => n === 2,
      'the replicas to go down to 2',
      120_000,
    );
    expect(await noOverCommit()).toBe(2);
    // The HAMi-core node holds 12 such pods (four GPUs, 30% each): eight more fit only if the eight that went gave theirs back.
    await kubectl(kubeconfig, ['scale', 'deployment/inference', '--replicas=10']);
    await until(running, (list) => list.length === 10, '10 replicas running again', 120_000);
    expect(await noOverCommit()).toBe(10);
    await kubectl(kubeconfig, ['delete', 'deployment', 'inference']);
  }, 300_000);
});
