/** `tessera scheduler` as an operator runs it: a real process against the embedded cluster, stopped by SIGTERM. */
import { spawn, spawnSync } from 'node:child_process';
import { request } from 'node:https';
import { createServer, type AddressInfo } from 'node:net';
import { generateSigningKey, privateKeyPem } from '../../../src/api/signing.js';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../../src/cluster/index.js';
import { coreApi, eventually } from './cluster-harness.js';
import { gpuNode } from './fixtures.js';

const root = resolve(import.meta.dirname, '../../..');
let cluster: EmbeddedCluster;
let dir: string;

function tessera(args: string[]): ReturnType<typeof spawn> {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'scheduler', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
}

function exitCode(child: ReturnType<typeof spawn>): Promise<number | null> {
  return new Promise((done) => child.on('exit', (code) => done(code)));
}

/** The process's 'listening' log entry; fails with its stderr if it exits first. */
function listening(child: ReturnType<typeof spawn>, exited: Promise<number | null>): Promise<{ url: string; secureUrl?: string }> {
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((found, fail) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const entry = JSON.parse(line) as { msg?: string; url?: string; secureUrl?: string };
      if (entry.msg === 'tessera scheduler listening' && entry.url) found({ url: entry.url, ...(entry.secureUrl ? { secureUrl: entry.secureUrl } : {}) });
    });
    void exited.then((code) => fail(new Error(`exited with ${code} before listening: ${stderr}`)));
  });
}

beforeAll(async () => {
  cluster = await EmbeddedCluster.start();
  await coreApi(cluster).createNode({ body: gpuNode('gpu-1') });
  dir = mkdtempSync(join(tmpdir(), 'tessera-scheduler-'));
  await cluster.writeKubeconfig(join(dir, 'kubeconfig'));
  // The Ed25519 private key as `openssl genpkey -algorithm ed25519` writes it (PKCS#8 PEM).
  writeFileSync(join(dir, 'key'), privateKeyPem(generateSigningKey()));
});

afterAll(async () => cluster?.stop());

describe('tessera scheduler', () => {
  it('starts, becomes ready against the cluster, and stops cleanly on SIGTERM', async () => {
    const child = tessera(['--kubeconfig', join(dir, 'kubeconfig'), '--signing-key-file', join(dir, 'key'), '--host', '127.0.0.1', '--port', '0', '--leader-elect=false']);
    const exited = exitCode(child);
    const { url } = await listening(child, exited);
    await eventually(
      'ready',
      async () => (await fetch(`${url}/readyz`)).status,
      (s) => s === 200,
      60_000,
    );
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('tessera_extender_synced 1');
    // HAMi's scheduler metrics carry its build info; the extender stands in for that process.
    expect(metrics).toMatch(/^hami_build_info\{[^}]*compiler="node"[^}]*\} 1$/m);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 90_000);

  const haveOpenssl = spawnSync('openssl', ['version']).status === 0;
  it.skipIf(!haveOpenssl)(
    'serves the admission webhook over TLS when given a certificate (skipped without openssl)',
    async () => {
      const cert = join(dir, 'tls.crt');
      const key = join(dir, 'tls.key');
      expect(spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=tessera-scheduler']).status).toBe(0);
      const args = ['--kubeconfig', join(dir, 'kubeconfig'), '--signing-key-file', join(dir, 'key'), '--host', '127.0.0.1', '--port', '0', '--webhook-port', '0', '--leader-elect=false'];
      const child = tessera([...args, '--tls-cert-file', cert, '--tls-key-file', key]);
      const exited = exitCode(child);
      const { secureUrl } = await listening(child, exited);
      expect(secureUrl).toMatch(/^https:/);
      const review = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { uid: 'r', operation: 'CREATE', object: { metadata: { name: 'p' }, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpumem': '1000' } } }] } } },
      };
      // SIGTERM follows at once, often inside the informers' first list: the stop must still close every watch.
      const reply = await new Promise<string>((done, fail) => {
        const req = request(
          `${secureUrl ?? ''}/webhook`,
          { method: 'POST', agent: false, ca: readFileSync(cert), checkServerIdentity: () => undefined, timeout: 60_000, headers: { 'content-type': 'application/json' } },
          (res) => {
            let body = '';
            res.on('data', (chunk: Buffer) => (body += chunk.toString()));
            res.on('end', () => done(body));
          },
        );
        req.on('error', fail);
        req.on('timeout', () => req.destroy(new Error('webhook call timed out')));
        req.end(JSON.stringify(review));
      });
      expect(JSON.parse(reply)).toMatchObject({ response: { uid: 'r', allowed: true, patchType: 'JSONPatch' } });
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
    90_000,
  );

  /** POSTs JSON over HTTPS; resolves to the status and body, or rejects (a refused TLS handshake). */
  function postTls(url: string, body: unknown, tls: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<{ status: number; body: string }> {
    return new Promise((done, fail) => {
      const req = request(url, { method: 'POST', agent: false, ...tls, checkServerIdentity: () => undefined, timeout: 30_000, headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => done({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', fail);
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.end(JSON.stringify(body));
    });
  }

  it.skipIf(!haveOpenssl)(
    'answers kube-scheduler only with a client certificate its CA signed; the webhook port serves no extender verbs; the webhook refuses hand-placed GPU pods and edits of grants by others',
    async () => {
      const openssl = (...args: string[]): void => expect(spawnSync('openssl', args).status).toBe(0);
      const at = (name: string): string => join(dir, name);
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('ca.key'), '-out', at('ca.crt'), '-days', '1', '-subj', '/CN=tessera-test-ca');
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('srv.key'), '-out', at('srv.crt'), '-days', '1', '-subj', '/CN=tessera-scheduler');
      openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('client.key'), '-out', at('client.csr'), '-subj', '/CN=kube-scheduler');
      openssl('x509', '-req', '-in', at('client.csr'), '-CA', at('ca.crt'), '-CAkey', at('ca.key'), '-CAcreateserial', '-out', at('client.crt'), '-days', '1');
      openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', at('rogue.key'), '-out', at('rogue.crt'), '-days', '1', '-subj', '/CN=kube-scheduler');
      const child = tessera([
        '--kubeconfig',
        at('kubeconfig'),
        '--signing-key-file',
        at('key'),
        '--port',
        '0',
        '--webhook-port',
        '0',
        '--webhook-host',
        '127.0.0.1',
        '--leader-elect=false',
        '--tls-cert-file',
        at('srv.crt'),
        '--tls-key-file',
        at('srv.key'),
        '--client-ca-file',
        at('ca.crt'),
        '--trusted-users',
        'system:serviceaccount:gpu-system:tessera-scheduler',
      ]);
      const exited = exitCode(child);
      const { url, secureUrl } = await listening(child, exited);
      expect(url).toMatch(/^https:\/\/127\.0\.0\.1:/);
      const ca = readFileSync(at('srv.crt'));
      const bind = { PodName: 'p', PodNamespace: 'default', PodUID: 'u', Node: 'gpu-1' };
      // No client certificate, or one the CA did not sign: the handshake fails, nothing is read.
      await expect(postTls(`${url}/bind`, bind, { ca })).rejects.toThrow();
      await expect(postTls(`${url}/bind`, bind, { ca, cert: readFileSync(at('rogue.crt')), key: readFileSync(at('rogue.key')) })).rejects.toThrow();
      const signed = await postTls(`${url}/bind`, bind, { ca, cert: readFileSync(at('client.crt')), key: readFileSync(at('client.key')) });
      expect(signed.status).toBe(200);
      // The webhook listener, which the API server reaches, has no extender verbs.
      for (const verb of ['bind', 'filter', 'prioritize', 'preempt']) expect((await postTls(`${secureUrl ?? ''}/${verb}`, bind, { ca })).status).toBe(404);
      const pod = (nodeName?: string, annotations: Record<string, string> = {}): unknown => ({
        metadata: { name: 'p', annotations },
        spec: { ...(nodeName ? { nodeName } : {}), containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] },
      });
      const admit = async (request: Record<string, unknown>): Promise<{ allowed: boolean; status?: { message: string } }> => {
        const reply = await postTls(`${secureUrl ?? ''}/webhook`, { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'r', ...request } }, { ca });
        return (JSON.parse(reply.body) as { response: { allowed: boolean; status?: { message: string } } }).response;
      };
      const placed = await admit({ operation: 'CREATE', object: pod('gpu-1') });
      expect(placed.allowed).toBe(false);
      expect(placed.status?.message).toMatch(/spec\.nodeName/);
      const before = pod(undefined, { 'hami.io/bind-phase': 'success', 'tessera.io/decision': '{"x":1}' });
      const edited = pod(undefined, { 'hami.io/bind-phase': 'failed', 'tessera.io/decision': '{"x":1}' });
      const byUser = await admit({ operation: 'UPDATE', oldObject: before, object: edited, userInfo: { username: 'alice' } });
      expect(byUser.allowed).toBe(false);
      expect(byUser.status?.message).toMatch(/hami\.io\/bind-phase.*alice/);
      expect((await admit({ operation: 'UPDATE', oldObject: before, object: pod(undefined, {}), userInfo: { username: 'alice' } })).allowed).toBe(false);
      expect((await admit({ operation: 'UPDATE', oldObject: before, object: edited, userInfo: { username: 'system:serviceaccount:gpu-system:tessera-scheduler' } })).allowed).toBe(true);
      expect(
        (
          await admit({
            operation: 'UPDATE',
            oldObject: before,
            object: { ...(before as object), metadata: { name: 'p', labels: { a: 'b' }, annotations: (before as { metadata: { annotations: object } }).metadata.annotations } },
            userInfo: { username: 'alice' },
          })
        ).allowed,
      ).toBe(true);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    },
    90_000,
  );

  it('exits after its grace period when the API server accepts connections and never answers', async () => {
    // The informers' first list hangs on such a server, and no stop can cancel it cleanly.
    const silent = createServer(() => undefined);
    await new Promise<void>((done) => silent.listen(0, '127.0.0.1', done));
    const port = (silent.address() as AddressInfo).port;
    const kubeconfig = join(dir, 'silent-kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}", insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\ncurrent-context: c\n`,
    );
    try {
      const child = tessera(['--kubeconfig', kubeconfig, '--signing-key-file', join(dir, 'key'), '--host', '127.0.0.1', '--port', '0', '--leader-elect=false']);
      const exited = exitCode(child);
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      await listening(child, exited);
      child.kill('SIGTERM');
      expect(await exited).toBe(1);
      expect(stdout).toContain('did not finish within its grace period');
    } finally {
      silent.close();
    }
  }, 90_000);

  it('refuses bad settings before starting anything, naming the flag', async () => {
    const child = tessera(['--signing-key-file', join(dir, 'key'), '--lease-duration', '5', '--renew-deadline', '9']);
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    expect(await exitCode(child)).toBe(2);
    expect(stderr).toContain('retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds');
  }, 90_000);
});
