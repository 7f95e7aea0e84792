/**
 * The embedded API server driven the way an attacker drives it: raw HTTPS with no token, a wrong one, paths that
 * decode or resolve into another namespace, nesting, size and storage bombs, and quantities kube-apiserver refuses.
 * Every answer must be the right refusal as a Kubernetes Status, never a 5xx but the storage limit's 507, and the
 * server must serve its rightful client afterwards.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { rawRequest, type RawOptions, type RawReply } from '../cluster/helpers.js';

const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
const SECRET_VALUE = Buffer.from('kube-system-only').toString('base64');
const MAX_STORED = 2 * 1024 * 1024;

let cluster: EmbeddedCluster;
const statuses: number[] = [];

/** One request, its status recorded for the run-wide no-5xx check. */
async function send(method: string, path: string, options: RawOptions = {}): Promise<RawReply & { body: { kind?: string; reason?: string; code?: number; message?: string } }> {
  const reply = await rawRequest(cluster, method, path, options);
  statuses.push(reply.status);
  let body = {};
  try {
    body = JSON.parse(reply.text) as object;
  } catch {
    // Not JSON: the assertions on kind below fail and say so.
  }
  return { ...reply, body };
}

const json = (value: unknown): RawOptions => ({ headers: { 'content-type': 'application/json' }, body: JSON.stringify(value) });

beforeAll(async () => {
  cluster = await EmbeddedCluster.start({ maxStoredBytes: MAX_STORED });
  const core = await send('POST', '/api/v1/namespaces/kube-system/secrets', json({ metadata: { name: 'root' }, data: { token: SECRET_VALUE } }));
  expect(core.status).toBe(201);
});

afterAll(async () => {
  // The server still answers its rightful client, and nothing along the way was a 5xx but the storage limit's.
  const after = await send('GET', '/api/v1/namespaces/kube-system/secrets/root');
  expect(after.status).toBe(200);
  expect(statuses.filter((s) => s >= 500 && s !== 507)).toEqual([]);
  await cluster.stop();
});

describe('authentication', () => {
  it('answers 401 Unauthorized as a Status without the token, with a wrong one, or with another scheme', async () => {
    const attempts: Array<string | null> = [null, 'wrong', `${cluster.token}x`, '', cluster.token.slice(0, -1)];
    for (const token of attempts) {
      for (const path of ['/api/v1/secrets', '/api/v1/namespaces/kube-system/secrets/root', '/api', '/apis', '/openapi/v3']) {
        const reply = await send('GET', path, { token });
        expect(reply.status).toBe(401);
        expect(reply.body).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
        expect(reply.text).not.toContain(SECRET_VALUE);
      }
    }
    const basic = await send('GET', '/api/v1/secrets', { token: null, headers: { authorization: `Basic ${Buffer.from(`admin:${cluster.token}`).toString('base64')}` } });
    expect(basic.status).toBe(401);
    const write = await send('POST', '/api/v1/namespaces/default/configmaps', { ...json({ metadata: { name: 'anonymous' } }), token: null });
    expect(write.status).toBe(401);
    expect((await send('GET', '/api/v1/namespaces/default/configmaps/anonymous')).status).toBe(404);
  });

  it('leaves the health and version endpoints open, as kube-apiserver grants them to anyone', async () => {
    for (const path of ['/healthz', '/livez', '/readyz', '/version']) expect((await send('GET', path, { token: null })).status).toBe(200);
    // Open means exactly those paths, not whatever starts like them.
    for (const path of ['/healthz/../api/v1/secrets', '/version/../api/v1/secrets', '/healthz?x=/api/v1/secrets']) {
      const reply = await send('GET', path, { token: null });
      expect(reply.text).not.toContain(SECRET_VALUE);
      if (path.includes('..')) expect(reply.status).toBe(401);
    }
  });

  it('turns kubectl away with a kubeconfig whose token is wrong, and serves it with the right one', async () => {
    if (!existsSync(KUBECTL)) return;
    const dir = mkdtempSync(join(tmpdir(), 'tessera-adversarial-'));
    try {
      const good = join(dir, 'good');
      await cluster.writeKubeconfig(good);
      const bad = join(dir, 'bad');
      writeFileSync(bad, readFileSync(good, 'utf8').replace(cluster.token, 'forged-token'));
      const run = promisify(execFile);
      const refused = await run(KUBECTL, ['--kubeconfig', bad, 'get', 'secrets', '-A'], { timeout: 20_000 }).then(
        () => 'served',
        (error: { stderr: string }) => error.stderr,
      );
      expect(refused).toMatch(/Unauthorized|provide credentials|logged in/);
      expect((await run(KUBECTL, ['--kubeconfig', good, 'get', 'secret', 'root', '-n', 'kube-system', '-o', 'name'], { timeout: 20_000 })).stdout.trim()).toBe('secret/root');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('path tricks', () => {
  const tricks = [
    '/api/v1/namespaces/default/secrets/%2e%2e/%2e%2e/secrets',
    '/api/v1/namespaces/default/%2e%2e/%2e%2e/secrets',
    '/api/v1/namespaces/default/secrets/%2E%2E/%2E%2E/%2E%2E/api/v1/secrets',
    '/api/v1/namespaces/default/secrets/..%2f..%2fsecrets',
    '/api/v1/namespaces/default%2f..%2f..%2fsecrets',
    '/api/v1/namespaces/default/../../secrets',
    '/api/v1/namespaces/default/./secrets',
    '/api/v1/namespaces/kube-system%2fsecrets',
    '/api/v1/namespaces//secrets',
    '//api/v1/secrets',
    '/api/v1//secrets',
    '/api/v1/namespaces/default/secrets/%252e%252e',
  ];

  it('refuses every spelling that would decode or resolve elsewhere with 400, and leaks no Secret', async () => {
    for (const path of tricks) {
      const reply = await send('GET', path);
      expect({ path, status: reply.status, kind: reply.body.kind }).toEqual({ path, status: 400, kind: 'Status' });
      expect(reply.text).not.toContain(SECRET_VALUE);
    }
  });

  it('refuses the same tricks on writes, so no write lands in another namespace', async () => {
    for (const path of ['/api/v1/namespaces/default/%2e%2e/kube-system/configmaps', '/api/v1/namespaces/default/configmaps/%2e%2e']) {
      expect((await send('POST', path, json({ metadata: { name: 'planted' } }))).status).toBe(400);
    }
    expect((await send('GET', '/api/v1/namespaces/kube-system/configmaps/planted')).status).toBe(404);
  });
});

describe('bombs', () => {
  it('answers a deeply nested body with 400 naming the bound, in JSON, YAML and patches', async () => {
    for (const depth of [1001, 100_000, 1_000_000]) {
      const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
      const create = await send('POST', '/api/v1/namespaces/default/configmaps', { headers: { 'content-type': 'application/json' }, body: `{"metadata":{"name":"deep"},"data":${nested}}` });
      expect(create.status).toBe(400);
      expect(create.body.message).toMatch(/nests objects and arrays more than 1000 levels deep \(maxJsonDepth\)/);
    }
    const objects = `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`;
    expect((await send('POST', '/api/v1/namespaces/default/configmaps', { headers: { 'content-type': 'application/json' }, body: objects })).status).toBe(400);
    const flow = await send('POST', '/api/v1/namespaces/default/configmaps', {
      headers: { 'content-type': 'application/yaml' },
      body: `metadata: {name: deep}\ndata: ${'['.repeat(50_000)}${']'.repeat(50_000)}\n`,
    });
    expect(flow.status).toBe(400);
    let block = 'metadata: {name: deep}\ndata:\n';
    for (let i = 1; i <= 1200; i++) block += `${' '.repeat(i)}k:\n`;
    expect((await send('POST', '/api/v1/namespaces/default/configmaps', { headers: { 'content-type': 'application/yaml' }, body: block })).status).toBe(400);
    expect((await send('POST', '/api/v1/namespaces/default/configmaps', json({ metadata: { name: 'patched' } }))).status).toBe(201);
    const patch = await send('PATCH', '/api/v1/namespaces/default/configmaps/patched', {
      headers: { 'content-type': 'application/merge-patch+json' },
      body: `{"data":{"x":${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}}`,
    });
    expect(patch.status).toBe(400);
    // Under the bound is fine.
    const fine = await send('POST', '/api/v1/namespaces/default/configmaps', {
      headers: { 'content-type': 'application/json' },
      body: `{"metadata":{"name":"nested-ok","annotations":{"x":"${'['.repeat(5000)}"}}}`,
    });
    expect(fine.status).toBe(201);
  });

  it('answers an oversized body with 413 naming the limit, and an anonymous one with 401 before reading it', async () => {
    const big = JSON.stringify({ metadata: { name: 'big' }, data: { blob: 'x'.repeat(4 * 1024 * 1024) } });
    const reply = await send('POST', '/api/v1/namespaces/default/configmaps', { headers: { 'content-type': 'application/json' }, body: big });
    expect(reply.status).toBe(413);
    expect(reply.body).toMatchObject({ kind: 'Status', reason: 'RequestEntityTooLarge', code: 413 });
    expect(reply.body.message).toMatch(/limit is 3145728 bytes \(maxRequestBytes/);
    expect((await send('POST', '/api/v1/namespaces/default/configmaps', { headers: { 'content-type': 'application/json' }, body: big, token: null })).status).toBe(401);
  });

  it('stops storing at maxStoredBytes with 507 naming the limit, and still deletes and shrinks', async () => {
    const chunk = 'x'.repeat(400 * 1024);
    let refused: (RawReply & { body: { message?: string; reason?: string } }) | undefined;
    const stored: string[] = [];
    for (let i = 0; i < 20 && !refused; i++) {
      const reply = await send('POST', '/api/v1/namespaces/default/configmaps', json({ metadata: { name: `fill-${i}` }, data: { blob: chunk } }));
      if (reply.status === 201) stored.push(`fill-${i}`);
      else refused = reply;
    }
    expect(refused?.status).toBe(507);
    expect(refused?.body).toMatchObject({ kind: 'Status', reason: 'InsufficientStorage', code: 507 });
    expect(refused?.body.message).toContain(`at most ${MAX_STORED} bytes`);
    expect(cluster.store.storedBytes).toBeLessThanOrEqual(MAX_STORED);
    expect(stored.length).toBeGreaterThan(0);
    // Growing an object is refused too; shrinking one and deleting work, and free room.
    const grow = await send('PATCH', `/api/v1/namespaces/default/configmaps/${stored[0]}`, {
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ data: { more: chunk } }),
    });
    expect(grow.status).toBe(507);
    const shrink = await send('PATCH', `/api/v1/namespaces/default/configmaps/${stored[0]}`, {
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ data: { blob: 'small' } }),
    });
    expect(shrink.status).toBe(200);
    for (const name of stored.slice(1)) expect((await send('DELETE', `/api/v1/namespaces/default/configmaps/${name}`)).status).toBe(200);
    expect((await send('POST', '/api/v1/namespaces/default/configmaps', json({ metadata: { name: 'after-bomb' }, data: { blob: chunk } }))).status).toBe(201);
  });
});

describe('quantities', () => {
  const podWith = (name: string, limits: Record<string, unknown>): RawOptions =>
    json({ metadata: { name }, spec: { containers: [{ name: 'main', image: 'busybox', resources: { limits, requests: {} } }] } });

  it('refuses what is not a quantity at decode with 400, as kube-apiserver does', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['abc', /quantities must match the regular expression/],
      ['1.5.5', /quantities must match the regular expression/],
      ['10Gb', /quantities must match the regular expression/],
      ['5x', /quantities must match the regular expression/],
      ['1K', /unable to parse quantity's suffix/],
      ['', /quantities must match the regular expression/],
      [{ nested: 1 }, /quantities must match the regular expression/],
      [`1${'0'.repeat(5000)}`, /more than 100 digits/],
      ['1e999999999', /exponent beyond/],
    ];
    for (const [i, [value, why]] of cases.entries()) {
      const reply = await send('POST', '/api/v1/namespaces/default/pods', podWith(`undecodable-${i}`, { cpu: value }));
      expect({ value, status: reply.status, reason: reply.body.reason }).toEqual({ value, status: 400, reason: 'BadRequest' });
      expect(reply.body.message).toContain('Pod in version "v1" cannot be handled as a Pod: ');
      expect(reply.body.message).toMatch(why);
    }
  });

  it('refuses negative quantities with 422 Invalid naming the field', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['-5', /must be greater than or equal to 0/],
      [-1, /must be greater than or equal to 0/],
      ['-0.5Gi', /must be greater than or equal to 0/],
    ];
    for (const [i, [value, why]] of cases.entries()) {
      const reply = await send('POST', '/api/v1/namespaces/default/pods', podWith(`bad-${i}`, { cpu: value }));
      expect({ value, status: reply.status, reason: reply.body.reason }).toEqual({ value, status: 422, reason: 'Invalid' });
      // The request defaulted from the limit is named too, as kube-apiserver names it.
      expect(reply.body.message).toContain(`Pod "bad-${i}" is invalid: [spec.containers[0].resources.limits[cpu]: Invalid value:`);
      expect(reply.body.message).toMatch(why);
    }
  });

  it('accepts every form kube-apiserver accepts', async () => {
    for (const [i, value] of ['500m', '1Gi', '1e3', '1.5', '0', '+2', '10E-3', '0.1Ki', 2, '100M'].entries()) {
      const reply = await send('POST', '/api/v1/namespaces/default/pods', podWith(`good-${i}`, { cpu: value, 'nvidia.com/gpu': '1' }));
      expect({ value, status: reply.status }).toEqual({ value, status: 201 });
    }
  });

  it('checks pod updates, patches and node capacity the same way', async () => {
    const patch = await send('PATCH', '/api/v1/namespaces/default/pods/good-0', {
      headers: { 'content-type': 'application/json-patch+json' },
      body: JSON.stringify([{ op: 'replace', path: '/spec/containers/0/resources/limits/cpu', value: 'lots' }]),
    });
    expect(patch.status).toBe(422);
    expect((await send('POST', '/api/v1/nodes', json({ metadata: { name: 'n1' } }))).status).toBe(201);
    const status = await send('PATCH', '/api/v1/nodes/n1/status', {
      headers: { 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ status: { capacity: { 'nvidia.com/gpu': '-4' } } }),
    });
    expect(status.status).toBe(422);
    expect(status.body.message).toContain('status.capacity[nvidia.com/gpu]: Invalid value: "-4": must be greater than or equal to 0');
  });
});

/** Plain HTTP, no TLS: what the server accepts only from loopback peers. */
function plainRequest(host: string, port: number, path: string, token: string | null): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host, port, path, agent: false, headers: token === null ? {} : { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i?.family === 'IPv4' && !i.internal)?.address;

describe('plain HTTP', () => {
  it('is served to loopback peers, still only with the token', async () => {
    const port = Number(new URL(cluster.url).port);
    expect((await plainRequest('127.0.0.1', port, '/api/v1/namespaces/kube-system/secrets/root', null)).status).toBe(401);
    expect((await plainRequest('127.0.0.1', port, '/api/v1/namespaces/kube-system/secrets/root', 'wrong')).status).toBe(401);
    expect((await plainRequest('127.0.0.1', port, '/api/v1/namespaces/kube-system/secrets/root', cluster.token)).status).toBe(200);
  });

  it.skipIf(outsideAddress === undefined)('is refused from any other peer, so a token never crosses a network in the clear', async () => {
    const exposed = await EmbeddedCluster.start({ host: outsideAddress, log: pino({ level: 'silent' }) });
    try {
      const port = Number(new URL(exposed.url).port);
      const refused = await plainRequest(outsideAddress!, port, '/api/v1/namespaces/default/configmaps', exposed.token);
      expect(refused).toEqual({ status: 400, text: 'Client sent an HTTP request to an HTTPS server.\n' });
      // Over TLS the same peer is served; kubeConfig() on such a host is HTTPS with the certificate pinned.
      expect(exposed.loopbackUrl).toBeUndefined();
      expect((await rawRequest(exposed, 'GET', '/api/v1/namespaces/default/configmaps')).status).toBe(200);
    } finally {
      await exposed.stop();
    }
  });
});

describe('listening beyond loopback', () => {
  it('logs a warning naming the address', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write: (chunk: Buffer, _encoding, done) => {
        lines.push(chunk.toString());
        done();
      },
    });
    const exposed = await EmbeddedCluster.start({ host: '0.0.0.0', log: pino({ level: 'warn' }, sink) });
    await exposed.stop();
    const warning = lines.map((l) => JSON.parse(l) as { level: number; msg: string; host?: string }).find((l) => l.level === 40);
    expect(warning).toMatchObject({ host: '0.0.0.0' });
    expect(warning?.msg).toMatch(/beyond loopback/);
    const quiet: string[] = [];
    const loopback = await EmbeddedCluster.start({
      log: pino(
        { level: 'warn' },
        new Writable({
          write: (chunk: Buffer, _e, done) => {
            quiet.push(chunk.toString());
            done();
          },
        }),
      ),
    });
    await loopback.stop();
    expect(quiet).toEqual([]);
  });
});
