/**
 * HAMi v2.10's own examples (../shared/data/hami/v2.10.0/examples, read from there, never copied), each applied
 * unchanged with kubectl to one `tessera up --control-plane` running HAMi v2.10's shipped device config, and
 * checked against the share HAMi v2.10 grants (or its refusal). The expectations are written by hand from HAMi's
 * rules (pkg/device/nvidia/device.go at v2.10.0: GenerateResourceRequests, Fit, selectMigCandidate; the webhook in
 * pkg/scheduler/webhook.go), one per file; the rule each follows is cited beside it.
 *
 * The local cluster: a100-mig-1 and a100-mig-2 (8 x A100-SXM4-40GB, MIG), h100-mig-1 (8 x H100 80GB, MIG) and
 * a100-hami-1 (4 x A100-SXM4-80GB of 81920 MiB, hami-core). A pod that names no vgpu-mode may go to either kind of
 * node (HAMi's checkType only filters on the annotation), so a share is stated for both kinds where it applies.
 * Under the allowlist (migProfileAllowlist), A100-40GB offers 1g.5gb, 2g.10gb, 3g.20gb, 7g.40gb and H100-80GB
 * 1g.10gb, 2g.20gb, 3g.40gb, 7g.80gb; HAMi takes the smallest of those whose memory fits (selectMigCandidate).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { TESSERA_POD } from '../../src/api/annotations.js';
import { decodeDecision, type Decision, type DecisionDevice } from '../../src/api/decision.js';
import { PACKAGE_ROOT } from '../../src/localmode/up.js';
import { checkGrants } from './grants.js';
import { K8S_BIN, kubectl, startTessera, until, type TesseraProcess } from './harness.js';

const HAMI = resolve(PACKAGE_ROOT, '../shared/data/hami/v2.10.0');
const EXAMPLES = join(HAMI, 'examples');
const haveExamples = await readFile(join(HAMI, 'device-config.yaml')).then(
  () => true,
  () => false,
);

/** GPU memory as the nodes report it (config/local-topology.yaml). */
const HAMI_CORE_GPU_MIB = 81_920;
type MigModel = 'A100-40GB' | 'H100-80GB';
const modelOf = (node: string): MigModel => (node.startsWith('h100') ? 'H100-80GB' : 'A100-40GB');

/** What one vGPU gets: on the hami-core node its memory and cores; on a MIG node the profile, per model. */
interface Share {
  hamiCore: { memoryMiB: number; cores: number };
  mig: Record<MigModel, string>;
}
/** A whole GPU: gpumem and percentage unset is 100% (GenerateResourceRequests), no cores is exclusive (100). */
const WHOLE: Share = { hamiCore: { memoryMiB: HAMI_CORE_GPU_MIB, cores: 100 }, mig: { 'A100-40GB': '7g.40gb', 'H100-80GB': '7g.80gb' } };

const dir = await mkdtemp(join(tmpdir(), 'tessera-k8s-hami-'));
const kubeconfig = join(dir, 'kubeconfig');
let up: TesseraProcess;
let api: CoreV1Api;

const example = (file: string): string => join(EXAMPLES, file);
const pod = (name: string): Promise<V1Pod> => api.readNamespacedPod({ name, namespace: 'default' });

/** The decision of the running pod `name` (or, with `prefix`, of the one pod whose name starts with it). */
async function granted(name: string, prefix = false): Promise<Decision> {
  const find = async (): Promise<V1Pod | undefined> =>
    prefix ? (await api.listNamespacedPod({ namespace: 'default' })).items.find((p) => p.metadata?.name?.startsWith(name) && !p.metadata.deletionTimestamp) : pod(name);
  const running = await until(find, (p) => p?.status?.phase === 'Running', `${name} to run`, 90_000);
  const decision = decodeDecision(running?.metadata?.annotations?.[TESSERA_POD.decision] ?? '');
  expect(decision.node).toBe(running?.spec?.nodeName);
  return decision;
}

/** Checks every vGPU of the pod's one container against `share`, and that there are `count` of them. */
function expectShare(decision: Decision, count: number, share: Share): DecisionDevice[] {
  const devices = decision.containers.flatMap((c) => c.devices);
  expect(devices).toHaveLength(count);
  for (const device of devices) {
    if (decision.mode === 'hami-core') expect({ memoryMiB: device.memoryMiB, cores: device.cores }).toEqual(share.hamiCore);
    else expect(device.mig?.profile).toBe(share.mig[modelOf(decision.node)]);
  }
  return devices;
}

/** The FailedScheduling message kube-scheduler gave `name`, once it has one. */
async function failedScheduling(name: string): Promise<string> {
  return until(
    () => kubectl(kubeconfig, ['describe', 'pod', name]),
    (text) => text.includes('FailedScheduling'),
    `a FailedScheduling event on ${name}`,
    90_000,
  );
}

async function apply(file: string): Promise<void> {
  await kubectl(kubeconfig, ['apply', '-f', example(file)]);
}

/** Checks that no grant is doubled, then deletes what the last file created and waits for its pods to go. */
async function clear(): Promise<void> {
  const result = checkGrants((await api.listNode()).items, (await api.listPodForAllNamespaces()).items);
  expect(result.violations).toEqual([]);
  await kubectl(kubeconfig, ['delete', 'deployments,pods,pvc,pv', '--all', '--wait=true', '--timeout=90s']);
  await until(
    async () => (await api.listNamespacedPod({ namespace: 'default' })).items.length,
    (n) => n === 0,
    'the example pods to go',
    90_000,
  );
}

describe.skipIf(!K8S_BIN || !haveExamples)("HAMi v2.10's examples, applied unchanged to tessera up --control-plane", () => {
  beforeAll(async () => {
    const args = ['up', '--control-plane', K8S_BIN ?? '', '--no-demo', '--device-config', join(HAMI, 'device-config.yaml'), '--kubeconfig', kubeconfig];
    up = startTessera([...args, '--extender-port', '0', '--dashboard-port', '0', '--exporter-port', '0', '--log-level', 'warn']);
    await up.waitFor('Tessera local cluster is up');
    const config = new KubeConfig();
    config.loadFromFile(kubeconfig);
    api = config.makeApiClient(CoreV1Api);
  }, 240_000);

  afterEach(clear, 120_000);

  afterAll(async () => {
    expect(await up.stop(), up.output().slice(-6000)).toBe(0);
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it('default_use.yaml: 1 vGPU of 3000 MiB and 30 cores', async () => {
    await apply('default_use.yaml');
    // gpumem 3000 and gpucores 30 as given; MIG: the smallest listed profile of at least 3000 MiB.
    expectShare(await granted('gpu-pod'), 1, { hamiCore: { memoryMiB: 3000, cores: 30 }, mig: { 'A100-40GB': '1g.5gb', 'H100-80GB': '1g.10gb' } });
  });

  it('default_use_legacy.yaml: 2 whole GPUs', async () => {
    await apply('default_use_legacy.yaml');
    // Fit puts each vGPU of a container on another device; no memory and no cores: the GPU alone.
    const devices = expectShare(await granted('gpu-pod'), 2, WHOLE);
    expect(new Set(devices.map((d) => d.uuid)).size).toBe(2);
  });

  it('dynamic_mig_example.yaml: 2 MIG instances of at least 8000 MiB, binpacked on one GPU', async () => {
    await apply('dynamic_mig_example.yaml');
    // vgpu-mode mig: MIG nodes only; 8000 MiB: 2g.10gb on the A100-40GB (1g.10gb is not listed), 1g.10gb on the
    // H100; gpu-scheduler-policy binpack: both on the same GPU, where a MIG GPU holds several of the pod's vGPUs.
    const decision = await granted('gpu-pod');
    expect(decision.mode).toBe('mig');
    const devices = expectShare(decision, 2, { hamiCore: { memoryMiB: 8000, cores: 0 }, mig: { 'A100-40GB': '2g.10gb', 'H100-80GB': '1g.10gb' } });
    expect(new Set(devices.map((d) => d.uuid)).size).toBe(1);
  });

  it('example.yaml: a Deployment (schedulerName default-scheduler) whose pod gets 1 vGPU of 3000 MiB', async () => {
    await apply('example.yaml');
    // The webhook takes default-scheduler over (forceOverwriteDefaultScheduler, on in HAMi's chart). gpumem 3000,
    // no cores: defaultCores 0 on hami-core; MIG: the smallest listed profile of at least 3000 MiB.
    const decision = await granted('cuda-sample-vector-add-', true);
    expectShare(decision, 1, { hamiCore: { memoryMiB: 3000, cores: 0 }, mig: { 'A100-40GB': '1g.5gb', 'H100-80GB': '1g.10gb' } });
  });

  it('mig_example.yaml: nvidia.com/mig-3g.20gb is not a HAMi resource: Pending, with the reason', async () => {
    await apply('mig_example.yaml');
    // HAMi's webhook finds none of its resources and leaves the pod to the default scheduler, which finds no node
    // offering nvidia.com/mig-3g.20gb (HAMi's device plugin does not advertise per-profile resources).
    expect((await pod('gpu-pod')).spec?.schedulerName).toBe('default-scheduler');
    expect(await failedScheduling('gpu-pod')).toMatch(/Insufficient nvidia\.com\/mig-3g\.20gb/);
  });

  it('specify_card_type_not_use.yaml: 2 whole GPUs, none a 1080 or 2080', async () => {
    await apply('specify_card_type_not_use.yaml');
    // nouse-gputype: every GPU here is an A100 or H100, so the share is the plain 2 whole GPUs.
    expectShare(await granted('gpu-pod'), 2, WHOLE);
  });

  it('specify_card_type_to_use.yaml: 2 whole GPUs on an A100 node', async () => {
    await apply('specify_card_type_to_use.yaml');
    // use-gputype A100,V100: a case-insensitive substring of the card type (checkGPUtype), so A100 nodes only.
    const decision = await granted('gpu-pod');
    expect(decision.node).toMatch(/^a100-/);
    expectShare(decision, 2, WHOLE);
  });

  it('specify_scheduling_policy.yaml: 1 whole GPU', async () => {
    await apply('specify_scheduling_policy.yaml');
    expectShare(await granted('gpu-pod'), 1, WHOLE);
  });

  it('specify_uuid_not_use.yaml: 2 whole GPUs, never the one named', async () => {
    await apply('specify_uuid_not_use.yaml');
    const devices = expectShare(await granted('gpu-pod'), 2, WHOLE);
    expect(devices.map((d) => d.uuid)).not.toContain('GPU-03f69c50-207a-2038-9b45-23cac89cb67d');
  });

  it('specify_uuid_to_use.yaml: the GPUs named are in no node here: Pending, with the reason', async () => {
    await apply('specify_uuid_to_use.yaml');
    // use-gpuuuid: only those UUIDs (CheckUUID); none exists in this cluster, so every node fails the filter.
    expect(await failedScheduling('gpu-pod')).toMatch(/uuid/i);
    expect((await pod('gpu-pod')).spec?.nodeName).toBeUndefined();
  });

  it('use_as_normal.yaml: two pods, a whole GPU each', async () => {
    await apply('use_as_normal.yaml');
    const first = expectShare(await granted('gpu-pod1'), 1, WHOLE);
    const second = expectShare(await granted('gpu-pod2'), 1, WHOLE);
    expect(first[0]?.uuid).not.toBe(second[0]?.uuid);
  });

  it('use_exclusive_card.yaml: 2 GPUs at 100% memory and 100 cores', async () => {
    await apply('use_exclusive_card.yaml');
    expectShare(await granted('gpu-pod1'), 2, WHOLE);
  });

  it('use_memory_fraction.yaml: 2 vGPUs of 50% memory and 30 cores', async () => {
    await apply('use_memory_fraction.yaml');
    // Fit: memreq = Totalmem x 50 / 100, of the whole GPU: 40960 MiB on hami-core; on MIG 20480 MiB on the
    // A100-40GB and 40779 on the H100, each just over the 3g profile (19968, 40448 MiB), so the 7g.
    expectShare(await granted('gpu-pod'), 2, { hamiCore: { memoryMiB: HAMI_CORE_GPU_MIB / 2, cores: 30 }, mig: { 'A100-40GB': '7g.40gb', 'H100-80GB': '7g.80gb' } });
  });

  it('use_sharing_card.yaml: 40% + 60 cores and 60% + 40 cores', async () => {
    await apply('use_sharing_card.yaml');
    // 40% of 40960 = 16384 MiB (3g.20gb), of 81559 = 32623 (3g.40gb); 60%: 24576 and 48935, so the 7g.
    expectShare(await granted('gpu-pod1'), 1, { hamiCore: { memoryMiB: Math.floor(HAMI_CORE_GPU_MIB * 0.4), cores: 60 }, mig: { 'A100-40GB': '3g.20gb', 'H100-80GB': '3g.40gb' } });
    expectShare(await granted('gpu-pod2'), 1, { hamiCore: { memoryMiB: Math.floor(HAMI_CORE_GPU_MIB * 0.6), cores: 40 }, mig: { 'A100-40GB': '7g.40gb', 'H100-80GB': '7g.80gb' } });
  });

  it('vllm_cross_vgpu.yaml: a PVC and a Deployment whose pod gets 2 vGPUs of 30% memory and 30 cores', async () => {
    // The cluster's storage: a volume the claim can bind to, as any cluster HAMi runs in has (no provisioner here).
    const claim = parseAllDocuments(await readFile(example('vllm_cross_vgpu.yaml'), 'utf8')).map((d) => d.toJS() as { kind: string; spec: { resources: { requests: { storage: string } } } })[0];
    expect(claim?.kind).toBe('PersistentVolumeClaim');
    const volume = {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'hami-example-cache' },
      spec: { capacity: { storage: claim?.spec.resources.requests.storage }, accessModes: ['ReadWriteOnce'], hostPath: { path: join(dir, 'cache') } },
    };
    await kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(volume));
    await apply('vllm_cross_vgpu.yaml');
    // 30% of 40960 = 12288 MiB (3g.20gb), of 81559 = 24467 (3g.40gb); hami-core 24576 MiB and 30 cores.
    const decision = await granted('vllm-cross-vgpu-', true);
    const devices = expectShare(decision, 2, { hamiCore: { memoryMiB: Math.floor(HAMI_CORE_GPU_MIB * 0.3), cores: 30 }, mig: { 'A100-40GB': '3g.20gb', 'H100-80GB': '3g.40gb' } });
    if (decision.mode === 'hami-core') expect(new Set(devices.map((d) => d.uuid)).size).toBe(2);
  });
});
