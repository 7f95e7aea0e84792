/**
 * Any valid KubeSchedulerConfiguration drives local mode as it drives kube-scheduler: Go durations in every unit,
 * several profiles and extenders (validated as kube-scheduler validates them), and HTTPS extenders verified as
 * their tlsConfig says. Several extenders are then called as kube-scheduler calls them, against the embedded API
 * server and real HTTP(S) extenders: each filter narrows what the one before left, scores are summed by weight.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { CertificateAuthority } from '../../src/controlplane/index.js';
import { TesseraError } from '../../src/errors.js';
import { SchedulingDriver } from '../../src/localmode/driver.js';
import { ExtenderClient } from '../../src/localmode/extender-client.js';
import { ClusterMirror } from '../../src/localmode/mirror.js';
import { parseDurationMs, schedulerSettings } from '../../src/localmode/scheduler-config.js';

const base = { apiVersion: 'kubescheduler.config.k8s.io/v1', kind: 'KubeSchedulerConfiguration' };

function refusal(config: object): TesseraError {
  try {
    schedulerSettings({ ...base, ...config }, 'cfg');
  } catch (error) {
    if (error instanceof TesseraError) return error;
    throw error;
  }
  throw new Error('accepted');
}

type Handler = (path: string, body: { NodeNames?: string[] }) => unknown;
const seen: Array<{ server: string; path: string; nodes: string[] | undefined }> = [];
const closers: Array<() => void> = [];
afterAll(() => closers.forEach((close) => close()));

function respond(name: string, handler: Handler) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { NodeNames?: string[] };
      seen.push({ server: name, path: req.url ?? '', nodes: body.NodeNames });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(handler(req.url ?? '', body)));
    });
  };
}

async function httpExtender(name: string, handler: Handler): Promise<string> {
  const server = createHttpServer(respond(name, handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => server.close());
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function httpsExtender(ca: CertificateAuthority, name: string, handler: Handler): Promise<string> {
  const serving = await ca.issue({ commonName: name, ipAddresses: ['127.0.0.1'], usage: 'server' });
  const server: HttpsServer = createHttpsServer({ cert: serving.certPem, key: serving.keyPem }, respond(name, handler));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    server.closeAllConnections();
    server.close();
  });
  return `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('KubeSchedulerConfiguration in local mode', () => {
  it('reads every Go duration form and refuses what time.ParseDuration refuses', () => {
    expect(parseDurationMs('1h2m0.5s')).toBe(3_720_500);
    expect(parseDurationMs('1.5h')).toBe(5_400_000);
    expect(parseDurationMs('300ms')).toBe(300);
    expect(parseDurationMs('2500us')).toBeCloseTo(2.5);
    expect(parseDurationMs('2500µs')).toBeCloseTo(2.5);
    expect(parseDurationMs('2500μs')).toBeCloseTo(2.5);
    expect(parseDurationMs('5000000ns')).toBeCloseTo(5);
    expect(parseDurationMs('.5s')).toBe(500);
    expect(parseDurationMs('0')).toBe(0);
    for (const bad of ['', '5', '1d', 's', '1.5.s', '5 s', '1sm']) expect(parseDurationMs(bad), bad).toBeUndefined();
    expect(schedulerSettings({ ...base, extenders: [{ urlPrefix: 'http://x', httpTimeout: '1m0.5s' }] }, 'cfg').extenders[0]?.httpTimeoutMs).toBe(60_500);
    expect(refusal({ extenders: [{ urlPrefix: 'http://x', httpTimeout: '5' }] }).field).toBe('cfg.extenders.0.httpTimeout');
  });

  it('takes several profiles and extenders, and refuses two binders or a resource managed twice, naming the field', () => {
    const settings = schedulerSettings(
      {
        ...base,
        profiles: [{ schedulerName: 'a' }, { schedulerName: 'b' }],
        extenders: [
          { urlPrefix: 'http://x', bindVerb: 'bind' },
          { urlPrefix: 'https://y', enableHTTPS: true, prioritizeVerb: 'p', weight: 3 },
        ],
      },
      'cfg',
    );
    expect(settings.schedulerNames).toEqual(['a', 'b']);
    expect(settings.extenders.map((e) => [e.urlPrefix, e.bindVerb, e.weight])).toEqual([
      ['http://x', 'bind', 1],
      ['https://y', '', 3],
    ]);
    // kube-scheduler's makeTransport: enableHTTPS without a CA does not verify.
    expect(settings.extenders[1]?.tls).toEqual({ insecure: true });
    expect(schedulerSettings({ ...base }, 'cfg')).toEqual({ schedulerNames: ['default-scheduler'], extenders: [] });
    expect(
      refusal({
        extenders: [
          { urlPrefix: 'http://x', bindVerb: 'b' },
          { urlPrefix: 'http://y', bindVerb: 'b' },
        ],
      }).field,
    ).toBe('cfg.extenders');
    expect(
      refusal({
        extenders: [
          { urlPrefix: 'http://x', managedResources: [{ name: 'r' }] },
          { urlPrefix: 'http://y', managedResources: [{ name: 'r' }] },
        ],
      }).field,
    ).toBe('cfg.extenders');
    expect(refusal({ profiles: [{ schedulerName: 'a' }, { schedulerName: 'a' }] }).field).toBe('cfg.profiles');
    expect(refusal({ extenders: [{ urlPrefix: 'https://x', tlsConfig: { certData: 'eA==' } }] }).field).toBe('cfg.extenders.0.tlsConfig');
  });

  it('calls an HTTPS extender only when its certificate verifies against tlsConfig.caData (or insecure)', async () => {
    const ca = await CertificateAuthority.create('extender-ca');
    const other = await CertificateAuthority.create('other-ca');
    const url = await httpsExtender(ca, 'secure', () => ({ NodeNames: ['n1'] }));
    const client = (tlsConfig: object): ExtenderClient =>
      new ExtenderClient(schedulerSettings({ ...base, extenders: [{ urlPrefix: url, filterVerb: 'filter', nodeCacheCapable: true, enableHTTPS: true, tlsConfig }] }, 'cfg').extenders[0]!);
    const pod: V1Pod = { metadata: { name: 'p' } };
    const nodes = [{ metadata: { name: 'n1' } }];
    expect((await client({ caData: Buffer.from(ca.certPem).toString('base64') }).filter(pod, nodes)).feasible).toEqual(['n1']);
    expect((await client({ insecure: true }).filter(pod, nodes)).feasible).toEqual(['n1']);
    await expect(client({ caData: Buffer.from(other.certPem).toString('base64') }).filter(pod, nodes)).rejects.toThrow(/certificate/);
  });

  it('chains the filters of several extenders, and sums their weighted scores', async () => {
    const cluster = await EmbeddedCluster.start();
    const kubeConfig = cluster.kubeConfig();
    const api = kubeConfig.makeApiClient(CoreV1Api);
    for (const name of ['node-a', 'node-b', 'node-c']) await api.createNode({ body: { metadata: { name }, status: { allocatable: { cpu: '8', memory: '8Gi', pods: '10' } } } });
    const ca = await CertificateAuthority.create('chain-ca');
    // First: drops node-a; scores c above b. Second (HTTPS): keeps both, scores b far above c, weight 2.
    const first = await httpExtender('first', (path, body) =>
      path === '/filter'
        ? { NodeNames: (body.NodeNames ?? []).filter((n) => n !== 'node-a'), FailedNodes: { 'node-a': 'first says no' } }
        : [
            { Host: 'node-b', Score: 1 },
            { Host: 'node-c', Score: 5 },
          ],
    );
    const second = await httpsExtender(ca, 'second', (path, body) =>
      path === '/filter'
        ? { NodeNames: body.NodeNames }
        : [
            { Host: 'node-b', Score: 10 },
            { Host: 'node-c', Score: 0 },
          ],
    );
    const settings = schedulerSettings(
      {
        ...base,
        profiles: [{ schedulerName: 'chain' }],
        extenders: [
          { urlPrefix: first, filterVerb: 'filter', prioritizeVerb: 'prioritize', weight: 1, nodeCacheCapable: true },
          {
            urlPrefix: second,
            filterVerb: 'filter',
            prioritizeVerb: 'prioritize',
            weight: 2,
            nodeCacheCapable: true,
            enableHTTPS: true,
            tlsConfig: { caData: Buffer.from(ca.certPem).toString('base64') },
          },
        ],
      },
      'cfg',
    );
    const mirror = await ClusterMirror.start(kubeConfig, pino({ level: 'silent' }));
    const driver = new SchedulingDriver({ kubeConfig, mirror, schedulerName: 'chain', extenders: settings.extenders, log: pino({ level: 'silent' }) });
    try {
      await api.createNamespacedPod({ namespace: 'default', body: { metadata: { name: 'chained' }, spec: { schedulerName: 'chain', containers: [{ name: 'c', image: 'x' }] } } });
      const deadline = Date.now() + 10_000;
      let pod = await api.readNamespacedPod({ name: 'chained', namespace: 'default' });
      while (!pod.spec?.nodeName && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        pod = await api.readNamespacedPod({ name: 'chained', namespace: 'default' });
      }
      // b: (1 x 1 + 10 x 2) x 10 = 210 beats c: (5 x 1 + 0) x 10 = 50.
      expect(pod.spec?.nodeName).toBe('node-b');
      const chain = seen.filter((s) => s.server === 'first' || s.server === 'second');
      expect(chain.filter((s) => s.path === '/filter').map((s) => [s.server, s.nodes])).toEqual([
        ['first', ['node-a', 'node-b', 'node-c']],
        ['second', ['node-b', 'node-c']],
      ]);
      expect(chain.filter((s) => s.path === '/prioritize').map((s) => s.server)).toEqual(['first', 'second']);
    } finally {
      await driver.stop();
      await mirror.stop();
      await cluster.stop();
    }
  });
});
