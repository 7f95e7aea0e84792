/**
 * Mutating admission in the embedded API server, driven by real kubectl against a real HTTPS webhook: rules and
 * selectors pick the writes, the JSONPatch lands, a denial and a failed call refuse the write in kube-apiserver's
 * words, failurePolicy Ignore lets it through, and the caBundle is what the webhook's certificate is checked with.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { CertificateAuthority } from '../../src/controlplane/index.js';

const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const hasKubectl = existsSync(KUBECTL);
const run = promisify(execFile);

interface Review {
  request: {
    uid: string;
    operation: string;
    name: string;
    namespace?: string;
    userInfo: { username: string };
    object: { metadata: { name?: string; labels?: Record<string, string> } } | null;
    oldObject: unknown;
    resource: { resource: string };
  };
}

describe.skipIf(!hasKubectl)('mutating admission webhooks on the embedded API server', () => {
  let cluster: EmbeddedCluster;
  let dir: string;
  let kubeconfig: string;
  let webhook: Server;
  let url: string;
  let ca: CertificateAuthority;
  let reviews: Review[] = [];
  const kubectl = async (...args: string[]): Promise<string> => (await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { timeout: 20_000 })).stdout;
  const kubectlError = async (...args: string[]): Promise<string> => {
    let stdout: string;
    try {
      stdout = await kubectl(...args);
    } catch (error) {
      return (error as { stderr: string }).stderr;
    }
    throw new Error(`kubectl ${args.join(' ')} succeeded: ${stdout}`);
  };
  const apply = async (yaml: string): Promise<string> => {
    const file = join(dir, `m-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(file, yaml);
    return kubectl('apply', '-f', file);
  };
  const configuration = (options: { caPem?: string; failurePolicy?: string; timeoutSeconds?: number; path?: string; extra?: string; resources?: string } = {}): string => `
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata: {name: test-hooks}
webhooks:
- name: pods.test.io
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: ${options.failurePolicy ?? 'Fail'}
  timeoutSeconds: ${options.timeoutSeconds ?? 5}
  clientConfig:
    url: ${url}${options.path ?? '/mutate'}
    caBundle: ${Buffer.from(options.caPem ?? ca.certPem).toString('base64')}
  rules:
  - {apiGroups: [""], apiVersions: [v1], operations: [CREATE, UPDATE], resources: [${options.resources ?? 'pods'}]}
  namespaceSelector:
    matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [exempt]}]
${options.extra ?? ''}`;

  beforeAll(async () => {
    cluster = await EmbeddedCluster.start();
    dir = mkdtempSync(join(tmpdir(), 'tessera-admission-'));
    kubeconfig = join(dir, 'kubeconfig');
    await cluster.writeKubeconfig(kubeconfig);
    ca = await CertificateAuthority.create('test-webhook-ca');
    const serving = await ca.issue({ commonName: 'webhook', ipAddresses: ['127.0.0.1'], usage: 'server' });
    webhook = createServer({ cert: serving.certPem, key: serving.keyPem }, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.url?.startsWith('/hang')) return; // never answers: the caller's timeout must end it
        const review = JSON.parse(Buffer.concat(chunks).toString()) as Review;
        // Replies a broken or hostile webhook might send.
        const broken: Record<string, string> = {
          '/garbage': 'not json at all',
          '/wrong-uid': JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'someone-else', allowed: true } }),
          '/bad-patch': JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from('[{"op":"remove","path":"/metadata"}]').toString('base64') },
          }),
          '/no-op-patch': JSON.stringify({
            apiVersion: 'admission.k8s.io/v1',
            kind: 'AdmissionReview',
            response: { uid: review.request.uid, allowed: true, patchType: 'JSONPatch', patch: Buffer.from('[{"op":"replace","path":"/nope/x","value":1}]').toString('base64') },
          }),
        };
        const path = (req.url ?? '').split('?')[0]!;
        if (broken[path] !== undefined) {
          res.writeHead(200, { 'content-type': 'application/json' }).end(broken[path]);
          return;
        }
        reviews.push(review);
        const name = review.request.object?.metadata.name ?? '';
        const response = name.startsWith('deny')
          ? { uid: review.request.uid, allowed: false, status: { code: 403, reason: 'Forbidden', message: `no pods named ${name}` } }
          : {
              uid: review.request.uid,
              allowed: true,
              patchType: 'JSONPatch',
              patch: Buffer.from(JSON.stringify([{ op: 'add', path: '/metadata/annotations', value: { 'test.io/admitted': review.request.operation } }])).toString('base64'),
            };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response }));
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(webhook.address() as AddressInfo).port}`;
    await apply('apiVersion: v1\nkind: Namespace\nmetadata: {name: exempt}\n');
  });
  afterAll(async () => {
    webhook.closeAllConnections();
    await new Promise((resolve) => webhook.close(resolve));
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(async () => {
    reviews = [];
    await kubectl('delete', 'mutatingwebhookconfiguration', 'test-hooks', '--ignore-not-found');
    await kubectl('delete', 'pods', '--all', '-n', 'default');
  });

  const podYaml = (name: string, namespace = 'default', labels = '{app: web}'): string =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}, namespace: ${namespace}, labels: ${labels}}\nspec: {containers: [{name: main, image: busybox}]}\n`;
  const annotationsOf = async (name: string, namespace = 'default'): Promise<Record<string, string> | undefined> =>
    (JSON.parse(await kubectl('get', 'pod', name, '-n', namespace, '-o', 'json')) as { metadata: { annotations?: Record<string, string> } }).metadata.annotations;

  it('serves the webhook configuration type, discoverable as kube-apiserver lists it', async () => {
    const resources = await kubectl('api-resources', '--api-group', 'admissionregistration.k8s.io', '-o', 'name');
    expect(resources).toContain('mutatingwebhookconfigurations.admissionregistration.k8s.io');
  });

  it('calls a matching webhook on create and on patch, and stores its JSONPatch', async () => {
    await apply(configuration());
    await apply(podYaml('web'));
    expect(await annotationsOf('web')).toEqual({ 'test.io/admitted': 'CREATE' });
    const created = reviews.at(-1)!.request;
    expect(created).toMatchObject({ operation: 'CREATE', name: 'web', namespace: 'default', userInfo: { username: 'tessera' }, resource: { resource: 'pods' }, oldObject: null });
    await kubectl('label', 'pod', 'web', 'tier=front');
    expect(await annotationsOf('web')).toEqual({ 'test.io/admitted': 'UPDATE' });
    const updated = reviews.at(-1)!.request;
    expect(updated.operation).toBe('UPDATE');
    expect(updated.object?.metadata.labels).toEqual({ app: 'web', tier: 'front' });
    expect((updated.oldObject as { metadata: { labels: Record<string, string> } }).metadata.labels).toEqual({ app: 'web' });
  });

  it("refuses the write a webhook denies, in kube-apiserver's words and with its code", async () => {
    await apply(configuration());
    const stderr = await kubectlError('apply', '-f', writeTemp(dir, podYaml('deny-me')));
    expect(stderr).toContain('Error from server (Forbidden): error when creating');
    expect(stderr).toContain('admission webhook "pods.test.io" denied the request: no pods named deny-me');
    expect(await kubectlError('get', 'pod', 'deny-me')).toContain('NotFound');
  });

  it('skips what the rules, namespaceSelector and objectSelector leave out', async () => {
    await apply(configuration({ extra: '  objectSelector: {matchExpressions: [{key: skip, operator: DoesNotExist}]}' }));
    await apply(podYaml('exempted', 'exempt'));
    await apply(podYaml('skipped', 'default', '{skip: "yes"}'));
    await apply('apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n');
    expect(reviews).toEqual([]);
    expect((await annotationsOf('exempted', 'exempt'))?.['test.io/admitted']).toBeUndefined();
    await apply(podYaml('matched'));
    expect(reviews.map((r) => r.request.name)).toEqual(['matched']);
  });

  it("refuses a write when the webhook answers garbage, someone else's uid or a patch that cannot apply, naming the webhook", async () => {
    for (const [path, words] of [
      ['/garbage', /failed calling webhook "pods.test.io": the reply is not JSON/],
      ['/wrong-uid', /expected response.uid=".+", got "someone-else"/],
      ['/bad-patch', /removes the object's metadata/],
      ['/no-op-patch', /Internal error occurred: admission webhook "pods.test.io" returned a patch that cannot be applied/],
    ] as const) {
      await apply(configuration({ path }));
      expect(await kubectlError('apply', '-f', writeTemp(dir, podYaml(`broken${path.replaceAll('/', '-')}`)))).toMatch(words);
    }
    expect(await kubectl('get', 'pods', '-o', 'name')).toBe('');
  });

  it('fails closed on a malformed selector, naming it, and never lets a namespaceSelector exclude a cluster-scoped object', async () => {
    await apply(configuration({ extra: '  objectSelector: {matchExpressions: [{key: app, operator: Maybe}]}' }));
    expect(await kubectlError('apply', '-f', writeTemp(dir, podYaml('odd')))).toContain(
      'admission webhook "pods.test.io" has an invalid objectSelector: operator "Maybe" is not In, NotIn, Exists or DoesNotExist',
    );
    await apply(
      configuration({ resources: 'persistentvolumes' }).replace('matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [exempt]}]', 'matchLabels: {never: present}'),
    );
    await apply('apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: disk}\nspec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], hostPath: {path: /d}}\n');
    expect(reviews.map((r) => [r.request.resource.resource, r.request.name])).toEqual([['persistentvolumes', 'disk']]);
  });

  it('refuses writes when the webhook cannot be trusted or answers too late, unless failurePolicy is Ignore', async () => {
    const other = await CertificateAuthority.create('someone-else');
    await apply(configuration({ caPem: other.certPem }));
    expect(await kubectlError('apply', '-f', writeTemp(dir, podYaml('untrusted')))).toMatch(
      /Internal error occurred: failed calling webhook "pods.test.io": failed to call webhook: Post .*certificate/,
    );
    expect(reviews).toEqual([]);
    await apply(configuration({ path: '/hang', timeoutSeconds: 1 }));
    expect(await kubectlError('apply', '-f', writeTemp(dir, podYaml('late')))).toContain('context deadline exceeded');
    await apply(configuration({ path: '/hang', timeoutSeconds: 1, failurePolicy: 'Ignore' }));
    await apply(podYaml('ignored'));
    expect((await annotationsOf('ignored'))?.['test.io/admitted']).toBeUndefined();
  });
});

function writeTemp(dir: string, text: string): string {
  const file = join(dir, `t-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}
