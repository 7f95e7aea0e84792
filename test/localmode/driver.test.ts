/**
 * The scheduling driver against the real parts: the embedded API server (through @kubernetes/client-node) and the
 * real extender over HTTP, configured from the project's KubeSchedulerConfiguration.
 */
import { generateSigningKey } from '../../src/api/signing.js';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_POD } from '../../src/api/annotations.js';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { SchedulingDriver } from '../../src/localmode/driver.js';
import { ClusterMirror } from '../../src/localmode/mirror.js';
import { loadSchedulerSettings } from '../../src/localmode/scheduler-config.js';
import { DEFAULT_CONFIG } from '../../src/scheduler/extender/config.js';
import { startExtender, type RunningExtender } from '../../src/scheduler/extender/service.js';
import { hamiPolicy } from '../../src/scheduler/policies/index.js';
import { gpuNode, gpuPod } from '../scheduler/extender/fixtures.js';
import { DEFAULT_REQUEST_CONFIG } from '../../src/request/index.js';

const log = pino({ level: 'silent' });
let cluster: EmbeddedCluster;
let extender: RunningExtender;
let mirror: ClusterMirror;
let driver: SchedulingDriver;
let api: CoreV1Api;

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  const kubeConfig = cluster.kubeConfig();
  api = kubeConfig.makeApiClient(CoreV1Api);
  // Two GPU nodes of 2 x 80 GiB, and one node without GPUs.
  await api.createNode({ body: gpuNode('gpu-a', { gpus: 2, cpu: '16' }) });
  await api.createNode({ body: gpuNode('gpu-b', { gpus: 2, cpu: '16' }) });
  await api.createNode({ body: { metadata: { name: 'cpu-only' }, status: { allocatable: { cpu: '4', memory: '8Gi', pods: '10' } } } });
  extender = await startExtender({
    config: { ...DEFAULT_CONFIG, host: '127.0.0.1', port: 0, leaderElection: { ...DEFAULT_CONFIG.leaderElection, enabled: false } },
    kubeConfig,
    signingKey: generateSigningKey(),
    requestConfig: DEFAULT_REQUEST_CONFIG,
    memoryScaling: 1,
    policy: hamiPolicy,
    log,
  });
  const settings = loadSchedulerSettings('config/scheduler-config.yaml');
  mirror = await ClusterMirror.start(kubeConfig, log);
  driver = new SchedulingDriver({
    kubeConfig,
    mirror,
    schedulerName: settings.schedulerNames[0]!,
    extenders: settings.extenders.map((e) => ({ ...e, urlPrefix: extender.url })),
    log,
    backoff: { initialMs: 50, maxMs: 200 },
  });
});

afterAll(async () => {
  await driver?.stop();
  await mirror?.stop();
  await extender?.stop();
  await cluster?.stop();
});

/** Polls the API server until `check` accepts the pod (the driver works asynchronously, as kube-scheduler does). */
async function until(name: string, check: (pod: V1Pod) => boolean, timeoutMs = 10_000): Promise<V1Pod> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pod = await api.readNamespacedPod({ name, namespace: 'default' });
    if (check(pod)) return pod;
    if (Date.now() > deadline) throw new Error(`pod ${name} did not get there: ${JSON.stringify(pod.status)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const bound = (pod: V1Pod): boolean => Boolean(pod.spec?.nodeName);
const unschedulable = (pod: V1Pod): boolean => (pod.status?.conditions ?? []).some((c) => c.type === 'PodScheduled' && c.status === 'False');

describe('scheduling driver', () => {
  it('places a GPU pod through filter, prioritize and the extender bind', async () => {
    await api.createNamespacedPod({ namespace: 'default', body: gpuPod('whole', { gpus: 1 }) });
    const pod = await until('whole', bound);
    expect(['gpu-a', 'gpu-b']).toContain(pod.spec?.nodeName);
    // The extender bound it: it recorded its signed decision first.
    expect(JSON.parse(pod.metadata?.annotations?.[TESSERA_POD.decision] ?? '{}')).toMatchObject({ node: pod.spec?.nodeName, mode: 'hami-core' });
  });

  it('binds a pod without GPU requests itself, after a CPU/memory fit', async () => {
    await api.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'web' }, spec: { schedulerName: 'tessera-scheduler', containers: [{ name: 'c', image: 'nginx', resources: { requests: { cpu: '3' } } }] } },
    });
    const pod = await until('web', bound);
    expect(pod.metadata?.annotations?.[TESSERA_POD.decision]).toBeUndefined();
    // The next one asks 15 of the 16 CPUs a GPU node has, which the cpu-only node (4) cannot give.
    await api.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'big-cpu' }, spec: { schedulerName: 'tessera-scheduler', containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '15' } } }] } },
    });
    expect((await until('big-cpu', bound)).spec?.nodeName).toMatch(/^gpu-/);
  });

  it('records why a pod fits nowhere, then places it once capacity frees', async () => {
    // Three whole GPUs are left of four; ask for three more GPUs on one node (each node has two).
    await api.createNamespacedPod({ namespace: 'default', body: gpuPod('too-wide', { gpus: 3 }) });
    const pending = await until('too-wide', unschedulable);
    const condition = pending.status?.conditions?.find((c) => c.type === 'PodScheduled');
    expect(condition).toMatchObject({ status: 'False', reason: 'Unschedulable' });
    expect(condition?.message).toMatch(/^0\/3 nodes are available: /);
    // kube-scheduler's own filters leave the GPU resources to the extender, so its reasons are counted per node.
    expect(condition?.message).toContain('2 too few GPUs: requested 3');
    const events = await api.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=too-wide' });
    expect(events.items.map((e) => [e.type, e.reason])).toContainEqual(['Warning', 'FailedScheduling']);

    // One node is left whole: a two-GPU pod takes it, a second one waits until the first leaves.
    await api.deleteNamespacedPod({ name: 'too-wide', namespace: 'default' });
    await api.createNamespacedPod({ namespace: 'default', body: gpuPod('pair', { gpus: 2 }) });
    await until('pair', bound);
    await api.createNamespacedPod({ namespace: 'default', body: gpuPod('second-pair', { gpus: 2 }) });
    await until('second-pair', unschedulable);
    await api.deleteNamespacedPod({ name: 'pair', namespace: 'default' });
    const placed = await until('second-pair', bound);
    expect(placed.spec?.nodeName).toMatch(/^gpu-/);
  });

  it('rejects an invalid request with the field named', async () => {
    // A memory percentage over 100 is invalid (HAMi refuses it too); gpucores over 100 is clamped, as HAMi does.
    const body = gpuPod('bad-percentage');
    body.spec.containers[0]!.resources.limits['nvidia.com/gpumem-percentage'] = '150';
    await api.createNamespacedPod({ namespace: 'default', body });
    const pod = await until('bad-percentage', unschedulable);
    expect(pod.status?.conditions?.find((c) => c.type === 'PodScheduled')?.message).toContain('gpumem-percentage');
  });

  it('retries a pod whose bind was rejected, and records why', async () => {
    cluster.faults.failNext({ verb: 'create', resource: 'pods/binding', status: 403 });
    await api.createNamespacedPod({
      namespace: 'default',
      body: { metadata: { name: 'rebind' }, spec: { schedulerName: 'tessera-scheduler', containers: [{ name: 'c', image: 'x', resources: { requests: { cpu: '1' } } }] } },
    });
    await until('rebind', bound);
    const events = await api.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=rebind' });
    expect(events.items.map((e) => e.message)).toContainEqual(expect.stringMatching(/^binding rejected: /));
  });

  it('reports its figures', () => {
    const stats = driver.snapshot();
    expect(stats.bound).toBeGreaterThanOrEqual(6);
    expect(stats.errors).toBeGreaterThanOrEqual(1);
    expect(stats.unschedulable).toBeGreaterThanOrEqual(3);
    expect(stats.p99DecisionMs).toBeGreaterThan(0);
  });
});
