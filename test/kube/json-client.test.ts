/** The lean JSON client for the Binding: real HTTP against the embedded cluster and against a recording server. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { isConflict, KubeJsonClient, withRetry } from '../../src/kube/index.js';
import { gpuNode, gpuPod } from '../scheduler/extender/fixtures.js';

const binding = (name: string, node: string, annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Binding',
  metadata: { name, namespace: 'default', annotations },
  target: { apiVersion: 'v1', kind: 'Node', name: node },
});

describe('KubeJsonClient against the embedded API server', () => {
  let cluster: EmbeddedCluster;
  beforeAll(async () => {
    cluster = await EmbeddedCluster.start();
  });
  afterAll(async () => cluster.stop());

  it('binds with the annotations, and a second bind is a 409 the retry helpers read as a conflict', async () => {
    const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
    await core.createNode({ body: gpuNode('n1') });
    await core.createNamespacedPod({ namespace: 'default', body: gpuPod('p1') });
    const client = new KubeJsonClient(cluster.kubeConfig());
    try {
      await client.post('/api/v1/namespaces/default/pods/p1/binding', binding('p1', 'n1', { 'example.com/carried': 'yes' }));
      const pod = await core.readNamespacedPod({ name: 'p1', namespace: 'default' });
      expect(pod.spec?.nodeName).toBe('n1');
      expect(pod.metadata?.annotations?.['example.com/carried']).toBe('yes');
      const again = await client.post('/api/v1/namespaces/default/pods/p1/binding', binding('p1', 'n1')).catch((e: unknown) => e);
      expect(isConflict(again)).toBe(true);
    } finally {
      client.close();
    }
  });
});

describe('KubeJsonClient on the wire', () => {
  let server: http.Server;
  let url: string;
  const seen: { authorization: string | undefined; path: string | undefined }[] = [];
  let connections = 0;
  let reply: (res: http.ServerResponse) => void = (res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"kind":"Status","status":"Success"}');

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seen.push({ authorization: req.headers.authorization, path: req.url });
      req.resume().on('end', () => reply(res));
    });
    server.on('connection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const kubeConfigWithToken = (kc: KubeConfig, token: string): KubeConfig => {
    kc.loadFromOptions({ clusters: [{ name: 'c', server: url, skipTLSVerify: true }], users: [{ name: 'u', token }], contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x' });
    return kc;
  };

  it('keeps one connection, and takes the credentials again only once they are older than refreshMs', async () => {
    seen.length = 0;
    connections = 0;
    let now = 0;
    const kc = kubeConfigWithToken(new KubeConfig(), 'first');
    const client = new KubeJsonClient(kc, { refreshMs: 60_000, now: () => now });
    try {
      for (let i = 0; i < 5; i++) await client.post('/api/v1/x', { i });
      // A rotated token is not read before the refresh is due, then it is.
      kubeConfigWithToken(kc, 'second');
      await client.post('/api/v1/x', {});
      now = 60_001;
      await client.post('/api/v1/x', {});
      expect(seen.map((s) => s.authorization)).toEqual([...Array<string>(6).fill('Bearer first'), 'Bearer second']);
      expect(seen.every((s) => s.path === '/prefix/api/v1/x')).toBe(true);
      expect(connections).toBe(1);
    } finally {
      client.close();
    }
  });

  it('fails with the HTTP status (a 500 is transient to withRetry and retried), and a reply that is not JSON names the path', async () => {
    const client = new KubeJsonClient(kubeConfigWithToken(new KubeConfig(), 't'));
    try {
      let calls = 0;
      reply = (res) => (++calls < 3 ? res.writeHead(500).end('busy') : res.writeHead(201, { 'content-type': 'application/json' }).end('{"ok":true}'));
      await expect(withRetry(() => client.post('/api/v1/y', {}), { baseMs: 1 })).resolves.toEqual({ ok: true });
      expect(calls).toBe(3);
      reply = (res) => res.writeHead(200).end('<html>');
      await expect(client.post('/api/v1/z', {})).rejects.toThrow(/POST \/api\/v1\/z: the reply is not JSON/);
    } finally {
      client.close();
    }
  });

  it('gives up on a server that never answers', async () => {
    const client = new KubeJsonClient(kubeConfigWithToken(new KubeConfig(), 't'), { timeoutMs: 100 });
    try {
      reply = () => undefined;
      await expect(client.post('/api/v1/slow', {})).rejects.toThrow(/no reply within 100 ms/);
    } finally {
      client.close();
    }
  });
});
