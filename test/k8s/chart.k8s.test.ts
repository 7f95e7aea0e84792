/**
 * The chart against the real control plane: `helm lint`; `helm template` with the default values and with the values
 * a HAMi user sets; every rendered manifest accepted by `kubectl apply --dry-run=server`, then applied; and every
 * container started as a local process with its command and args unchanged. Mount paths are mapped to folders
 * filled from the rendered ConfigMaps and the Secrets the install notes ask for, and each process authenticates as
 * its pod's ServiceAccount (a client certificate for `system:serviceaccount:<ns>:<name>`), so the chart's RBAC is
 * what it gets. The chart's kube-scheduler and extender then schedule a GPU pod.
 */
import { generateKeyPairSync } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, type V1Container, type V1PodSpec } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { ControlPlane, freePorts, type ComponentProcess } from '../../src/controlplane/index.js';
import { PACKAGE_ROOT } from '../../src/localmode/up.js';
import { gpuNode, gpuPod } from '../scheduler/extender/fixtures.js';
import { K8S_BIN, kubectl, startTessera, until, type TesseraProcess } from './harness.js';

const run = promisify(execFile);
const NAMESPACE = 'tessera';
const CHART = join(PACKAGE_ROOT, 'charts/tessera');

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: { template?: { spec?: V1PodSpec } };
}

async function helm(args: string[]): Promise<string> {
  return (await run(join(K8S_BIN ?? '', 'helm'), args, { maxBuffer: 16 << 20 })).stdout;
}

function render(values: string[]): Promise<string> {
  return helm(['template', 'tessera', CHART, '--namespace', NAMESPACE, ...values.flatMap((v) => ['--set', v])]);
}

function manifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as Manifest | null)
    .filter((m): m is Manifest => m !== null);
}

const dir = await mkdtemp(join(tmpdir(), 'tessera-k8s-chart-'));
let plane: ControlPlane;
let adminKubeconfig: string;
const running: Array<TesseraProcess | ComponentProcess> = [];

/** The container's mount paths mapped into `root`, filled as the pod's volumes would be. */
async function mountsFor(spec: V1PodSpec, container: V1Container, rendered: Manifest[], root: string, secrets: Record<string, Record<string, string>>): Promise<Array<[string, string]>> {
  const mapped: Array<[string, string]> = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = spec.volumes?.find((v) => v.name === mount.name);
    const local = join(root, mount.name);
    await mkdir(local, { recursive: true });
    const files = volume?.configMap
      ? rendered.find((m) => m.kind === 'ConfigMap' && m.metadata.name === volume.configMap?.name)?.data
      : volume?.secret
        ? secrets[volume.secret.secretName ?? '']
        : undefined;
    if ((volume?.configMap || volume?.secret) && !files) throw new Error(`volume ${mount.name} of ${container.name} names nothing the chart or the install notes create`);
    for (const [name, content] of Object.entries(files ?? {})) await writeFile(join(local, name), content);
    mapped.push([mount.mountPath, local]);
  }
  // Longest first, so a nested mount wins over its parent.
  return mapped.sort((a, b) => b[0].length - a[0].length);
}

/** A path under a mount moved to the local folder; flags written `--flag=value` keep their name. */
function mapPaths(args: string[], mounts: Array<[string, string]>): string[] {
  const mapOne = (value: string): string => {
    const mount = mounts.find(([from]) => value === from || value.startsWith(`${from}/`));
    return mount ? mount[1] + value.slice(mount[0].length) : value;
  };
  return args.map((arg) => {
    const eq = arg.indexOf('=');
    return arg.startsWith('--') && eq > 0 ? `${arg.slice(0, eq + 1)}${mapOne(arg.slice(eq + 1))}` : mapOne(arg);
  });
}

async function identityKubeconfig(serviceAccount: string): Promise<string> {
  return plane.writeIdentityKubeconfig(`${serviceAccount}.kubeconfig`, {
    user: `system:serviceaccount:${NAMESPACE}:${serviceAccount}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${NAMESPACE}`],
  });
}

describe.skipIf(!K8S_BIN)('the chart on the stock control plane', () => {
  beforeAll(async () => {
    plane = await ControlPlane.start({ binDir: K8S_BIN ?? '', dir: join(dir, 'control-plane'), log: pino({ level: 'silent' }) });
    adminKubeconfig = join(dir, 'admin.kubeconfig');
    await plane.writeKubeconfig(adminKubeconfig);
  }, 120_000);

  afterAll(async () => {
    for (const process of running.reverse()) await process.stop();
    await plane?.stop();
    if (!process.env['TESSERA_KEEP_TEST_DIR']) await rm(dir, { recursive: true, force: true });
  }, 60_000);

  it("passes helm lint with the default values and with a HAMi user's", async () => {
    await helm(['lint', CHART]);
    await helm(['lint', CHART, '--set', 'scheduler.name=hami-scheduler', '--set', 'devicePlugin.nodeSelector.gpu=on']);
  });

  it('renders manifests kube-apiserver accepts, whose containers start unchanged and schedule a GPU pod', async () => {
    const [extenderPort, webhookPort] = (await freePorts(2)) as [number, number];
    const hamiUser = await render(['scheduler.name=hami-scheduler', 'devicePlugin.nodeSelector.gpu=on']);
    const caBundle = Buffer.from(plane.ca.certPem).toString('base64');
    const text = await render([`scheduler.extenderPort=${extenderPort}`, `webhook.port=${webhookPort}`, `webhook.caBundle=${caBundle}`]);
    const rendered = manifests(text);

    // What the chart's install notes ask an operator to create first.
    const signing = generateKeyPairSync('ed25519');
    const signingPem = signing.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const publicPem = signing.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const serving = await plane.ca.issue({ commonName: `tessera-scheduler.${NAMESPACE}.svc`, dnsNames: [`tessera-scheduler.${NAMESPACE}.svc`], ipAddresses: ['127.0.0.1'], usage: 'server' });
    const secrets: Record<string, Record<string, string>> = { 'tessera-signing-key': { 'signing-key': signingPem }, 'tessera-webhook-tls': { 'tls.crt': serving.certPem, 'tls.key': serving.keyPem } };
    await kubectl(adminKubeconfig, ['create', 'namespace', NAMESPACE]);
    await kubectl(adminKubeconfig, ['-n', NAMESPACE, 'create', 'secret', 'generic', 'tessera-signing-key', `--from-literal=signing-key=${signingPem}`]);
    await kubectl(adminKubeconfig, ['-n', NAMESPACE, 'create', 'configmap', 'tessera-scheduler-public-key', `--from-literal=public-key=${publicPem}`]);

    // The optional parts (cert-manager's certificate, the ServiceMonitor, the RuntimeClass) need their operators'
    // CRDs; stand-ins with open schemas let the API server check everything else about them.
    for (const [group, kind, plural] of [
      ['monitoring.coreos.com', 'ServiceMonitor', 'servicemonitors'],
      ['cert-manager.io', 'Issuer', 'issuers'],
      ['cert-manager.io', 'Certificate', 'certificates'],
    ] as const) {
      const crd = {
        apiVersion: 'apiextensions.k8s.io/v1',
        kind: 'CustomResourceDefinition',
        metadata: { name: `${plural}.${group}` },
        spec: {
          group,
          scope: 'Namespaced',
          names: { kind, plural, singular: kind.toLowerCase() },
          versions: [{ name: 'v1', served: true, storage: true, schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } }],
        },
      };
      await kubectl(adminKubeconfig, ['apply', '-f', '-'], JSON.stringify(crd));
      await kubectl(adminKubeconfig, ['wait', '--for=condition=Established', `crd/${plural}.${group}`, '--timeout=30s']);
    }
    const optional = await render(['webhook.certManager.enabled=true', 'scheduler.serviceMonitor.enabled=true', 'devicePlugin.createRuntimeClass=true']);
    expect(manifests(optional).map((m) => m.kind)).toEqual(expect.arrayContaining(['Certificate', 'Issuer', 'ServiceMonitor', 'RuntimeClass']));
    for (const manifest of [hamiUser, optional, text]) expect(await kubectl(adminKubeconfig, ['apply', '--dry-run=server', '-f', '-'], manifest)).toMatch(/created \(server dry run\)/);
    await kubectl(adminKubeconfig, ['apply', '-f', '-'], text);

    const workloads = rendered.filter((m) => m.kind === 'Deployment' || m.kind === 'DaemonSet');
    expect(workloads.map((w) => `${w.kind}/${w.metadata.name}`).sort()).toEqual(['DaemonSet/tessera-device-plugin', 'Deployment/tessera-scheduler']);
    const scheduler = workloads.find((w) => w.kind === 'Deployment')?.spec?.template?.spec as V1PodSpec;
    const nodeName = 'chart-gpu-node';

    for (const container of scheduler.containers) {
      const mounts = await mountsFor(scheduler, container, rendered, join(dir, 'pods', container.name), secrets);
      if (container.name === 'kube-scheduler') {
        // Our build of the same release stands in for the image; its in-cluster credentials become a kubeconfig for
        // the pod's ServiceAccount (kube-scheduler reads no KUBECONFIG variable).
        const configArg = mapPaths(container.command ?? [], mounts).find((a) => a.startsWith('--config='));
        const configPath = configArg?.slice('--config='.length) ?? '';
        running.push(
          await plane.startScheduler(await readFile(configPath, 'utf8'), { user: `system:serviceaccount:${NAMESPACE}:${scheduler.serviceAccountName}`, groups: ['system:serviceaccounts'] }),
        );
        continue;
      }
      const args = mapPaths(container.args ?? [], mounts);
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? (e.valueFrom?.fieldRef?.fieldPath === 'spec.nodeName' ? nodeName : `tessera-scheduler-0`)]));
      const process = startTessera(args, { ...env, KUBECONFIG: await identityKubeconfig(scheduler.serviceAccountName ?? '') });
      running.push(process);
      await until(
        async () => (await fetch(`http://127.0.0.1:${extenderPort}/readyz`).catch(() => undefined))?.status ?? 0,
        (status) => status === 200,
        "the chart's extender to be ready",
      ).catch((error: Error) => {
        throw new Error(`${error.message}\n${process.output().slice(-3000)}`);
      });
    }

    // No Service network here: the webhook's Service reference becomes the address the extender's pod would have.
    const webhooks = rendered.filter((m) => m.kind === 'MutatingWebhookConfiguration');
    for (const webhook of webhooks) {
      const patch = [{ op: 'replace', path: '/webhooks/0/clientConfig', value: { url: `https://127.0.0.1:${webhookPort}/webhook`, caBundle } }];
      await kubectl(adminKubeconfig, ['patch', 'mutatingwebhookconfiguration', webhook.metadata.name, '--type=json', `-p=${JSON.stringify(patch)}`]);
    }
    expect(webhooks).toHaveLength(1);
    const api = plane.kubeConfig().makeApiClient(CoreV1Api);
    await api.createNode({ body: gpuNode(nodeName) });
    await api.patchNode({ name: nodeName, body: [{ op: 'replace', path: '/spec/taints', value: [] }] });
    // No schedulerName: the chart's webhook sets it.
    const pod = gpuPod('chart-gpu-pod', { memoryMiB: 4000, cores: 10 });
    await api.createNamespacedPod({ namespace: 'default', body: { ...pod, spec: { containers: pod.spec.containers } } });
    const bound = await until(
      () => api.readNamespacedPod({ name: 'chart-gpu-pod', namespace: 'default' }),
      (p) => Boolean(p.spec?.nodeName),
      "the chart's scheduler to bind the pod",
      60_000,
    );
    expect(bound.spec?.nodeName).toBe(nodeName);
    expect(bound.metadata?.annotations?.['tessera.io/decision']).toBeTruthy();

    const daemonSet = workloads.find((w) => w.kind === 'DaemonSet')?.spec?.template?.spec as V1PodSpec;
    for (const container of daemonSet.containers) {
      const mounts = await mountsFor(daemonSet, container, rendered, join(dir, 'pods', container.name), secrets);
      const env = Object.fromEntries((container.env ?? []).map((e) => [e.name, e.value ?? nodeName]));
      const process = startTessera(mapPaths(container.args ?? [], mounts), { ...env, KUBECONFIG: await identityKubeconfig(daemonSet.serviceAccountName ?? '') });
      running.push(process);
      // No GPU here: the nvml backend must get as far as asking nvidia-smi, every flag and mount accepted before it.
      const code = await Promise.race([process.exited, new Promise((resolve) => setTimeout(() => resolve('running'), 15_000))]);
      const output = process.output();
      expect(output).not.toMatch(/Unknown option|INVALID_INPUT|INVALID_CONFIG|cannot be read|forbidden/i);
      if (code !== 'running') expect(output).toMatch(/nvidia-smi/);
    }
  }, 240_000);
});
