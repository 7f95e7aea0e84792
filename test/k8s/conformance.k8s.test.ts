/**
 * The embedded API server checked against the real one: the same raw requests go to both, and what a client can
 * observe (status code, Status reason and details, defaulted fields, Binding semantics, resourceVersion rules,
 * watch events) is compared. A difference either gets fixed in src/cluster or is listed in KNOWN_DIFFERENCES with
 * the reason, which docs/cluster.md repeats; the test fails on a new difference and on a listed one that is gone.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmbeddedCluster } from '../../src/cluster/index.js';
import { ControlPlane } from '../../src/controlplane/index.js';
import { K8S_BIN, kubectl } from './harness.js';

interface Reply {
  status: number;
  body: Record<string, unknown>;
}

interface Server {
  name: 'embedded' | 'real';
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
}

async function call(server: Server, method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<Reply> {
  const cluster = server.kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in kubeconfig');
  const url = new URL(path, cluster.server);
  const options: RequestOptions = { method, headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': contentType } : {}) } };
  await server.kubeConfig.applyToHTTPSOptions(options);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(url, options, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(text) as Record<string, unknown>;
        } catch {
          // A watch answers one JSON object per line; its probe splits the lines itself.
          parsed = { raw: text };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.once('error', reject);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

/** What a client branches on in a Status reply. */
function statusShape(reply: Reply): unknown {
  const { body } = reply;
  const details = body['details'] as Record<string, unknown> | undefined;
  return {
    code: reply.status,
    kind: body['kind'],
    reason: body['reason'],
    details: details ? { name: details['name'], kind: details['kind'], causes: ((details['causes'] as Array<{ field?: string }> | undefined) ?? []).map((c) => c.field).sort() } : undefined,
  };
}

function pod(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'main', image: 'busybox:1.36' }] }, ...extra };
}

function podWithLimits(name: string, limits: Record<string, unknown>): Record<string, unknown> {
  return pod(name, { spec: { containers: [{ name: 'main', image: 'busybox:1.36', resources: { limits } }] } });
}

type Probe = (server: Server) => Promise<unknown>;

const PODS = '/api/v1/namespaces/default/pods';

/** Each probe returns what a client observes; the two servers must agree unless the probe is a known difference. */
const PROBES: Record<string, Probe> = {
  'get a missing pod: 404 NotFound with name and kind': async (s) => statusShape(await call(s, 'GET', `${PODS}/missing`)),
  'create a pod twice: 409 AlreadyExists': async (s) => {
    await call(s, 'POST', PODS, pod('twice'));
    return statusShape(await call(s, 'POST', PODS, pod('twice')));
  },
  'create a pod with an invalid name: 422 Invalid naming metadata.name': async (s) => statusShape(await call(s, 'POST', PODS, pod('Not_Valid'))),
  'a quantity that is not one (abc): 400 BadRequest': async (s) => (await call(s, 'POST', PODS, podWithLimits('bad-quantity', { cpu: 'abc' }))).status,
  'a negative limit (-5): 422 Invalid': async (s) => statusShape(await call(s, 'POST', PODS, podWithLimits('negative-quantity', { 'nvidia.com/gpu': '-5' }))),
  'an extended resource with a fraction: 422 Invalid': async (s) => statusShape(await call(s, 'POST', PODS, podWithLimits('fraction-gpu', { 'nvidia.com/gpu': '0.5' }))),
  'a quantity written as a number is kept as the canonical string': async (s) => {
    const reply = await call(s, 'POST', PODS, podWithLimits('numeric-quantity', { 'nvidia.com/gpumem': 16384, memory: '1024Mi' }));
    const limits = ((reply.body['spec'] as { containers: Array<{ resources: { limits: unknown } }> }).containers[0] as { resources: { limits: unknown } }).resources.limits;
    return limits;
  },
  'defaults a new pod as kube-apiserver does': async (s) => {
    const created = (await call(s, 'POST', PODS, pod('defaults'))).body;
    const spec = created['spec'] as Record<string, unknown>;
    const container = (spec['containers'] as Array<Record<string, unknown>>)[0] as Record<string, unknown>;
    return {
      restartPolicy: spec['restartPolicy'],
      dnsPolicy: spec['dnsPolicy'],
      schedulerName: spec['schedulerName'],
      terminationGracePeriodSeconds: spec['terminationGracePeriodSeconds'],
      enableServiceLinks: spec['enableServiceLinks'],
      priority: spec['priority'],
      imagePullPolicy: container['imagePullPolicy'],
      terminationMessagePath: container['terminationMessagePath'],
      phase: (created['status'] as Record<string, unknown>)['phase'],
      qosClass: (created['status'] as Record<string, unknown>)['qosClass'],
      uid: typeof (created['metadata'] as Record<string, unknown>)['uid'],
      generation: (created['metadata'] as Record<string, unknown>)['generation'],
    };
  },
  'update with a stale resourceVersion: 409 Conflict': async (s) => {
    const created = (await call(s, 'POST', PODS, pod('stale'))).body;
    const metadata = created['metadata'] as Record<string, unknown>;
    const labelled = { ...created, metadata: { ...metadata, labels: { a: '1' } } };
    await call(s, 'PUT', `${PODS}/stale`, labelled);
    return statusShape(await call(s, 'PUT', `${PODS}/stale`, { ...created, metadata: { ...metadata, labels: { a: '2' } } }));
  },
  'a Binding sets the node and copies its annotations; a second Binding is 409 Conflict': async (s) => {
    await call(s, 'POST', PODS, pod('bound'));
    const binding = { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'bound', annotations: { 'example.com/decision': 'yes' } }, target: { apiVersion: 'v1', kind: 'Node', name: 'node-a' } };
    const first = await call(s, 'POST', `${PODS}/bound/binding`, binding);
    const after = (await call(s, 'GET', `${PODS}/bound`)).body;
    const second = await call(s, 'POST', `${PODS}/bound/binding`, { ...binding, target: { ...binding.target, name: 'node-b' } });
    return {
      first: first.status,
      node: (after['spec'] as Record<string, unknown>)['nodeName'],
      annotation: ((after['metadata'] as Record<string, unknown>)['annotations'] as Record<string, string> | undefined)?.['example.com/decision'],
      scheduled: ((after['status'] as { conditions?: Array<{ type: string; status: string }> })['conditions'] ?? []).find((c) => c.type === 'PodScheduled')?.status,
      second: statusShape(second),
    };
  },
  'deleting a bound pod is graceful (deletionTimestamp, the pod stays); an unbound one goes at once': async (s) => {
    await call(s, 'POST', PODS, pod('graceful'));
    await call(s, 'POST', `${PODS}/graceful/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'graceful' }, target: { kind: 'Node', name: 'node-a' } });
    await call(s, 'DELETE', `${PODS}/graceful`);
    const bound = await call(s, 'GET', `${PODS}/graceful`);
    await call(s, 'POST', PODS, pod('immediate'));
    await call(s, 'DELETE', `${PODS}/immediate`);
    return { bound: bound.status, marked: typeof (bound.body['metadata'] as Record<string, unknown> | undefined)?.['deletionTimestamp'], unbound: (await call(s, 'GET', `${PODS}/immediate`)).status };
  },
  'an unknown field with fieldValidation=Strict: 400 BadRequest': async (s) => (await call(s, 'POST', `${PODS}?fieldValidation=Strict`, pod('strict', { spec: { containers: [{ name: 'main', image: 'busybox', bogus: 1 }] } }))).status,
  'a list of pods carries a resourceVersion and kind PodList': async (s) => {
    const list = (await call(s, 'GET', PODS)).body;
    return { kind: list['kind'], apiVersion: list['apiVersion'], rv: typeof (list['metadata'] as Record<string, unknown>)['resourceVersion'] };
  },
  'a watch from a list resourceVersion sees the next change as MODIFIED': async (s) => {
    await call(s, 'POST', PODS, pod('watched'));
    const list = (await call(s, 'GET', `${PODS}?fieldSelector=metadata.name%3Dwatched`)).body;
    const rv = (list['metadata'] as Record<string, string>)['resourceVersion'];
    const events = watchEvents(s, `${PODS}?watch=1&fieldSelector=metadata.name%3Dwatched&resourceVersion=${rv}&timeoutSeconds=2`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await call(s, 'PATCH', `${PODS}/watched`, { metadata: { labels: { changed: 'yes' } } }, 'application/merge-patch+json');
    return (await events).map((e) => e.type);
  },
  'kubectl apply of a kind: List': async (s) => {
    const list = { apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'listed', namespace: 'default' }, data: { a: '1' } }] };
    try {
      return (await kubectl(s.kubeconfigPath, ['apply', '-f', '-'], JSON.stringify(list))).trim();
    } catch (error) {
      return `failed: ${(error as Error).message.split('\n')[0]}`;
    }
  },
};

function watchEvents(server: Server, path: string): Promise<Array<{ type: string }>> {
  return call(server, 'GET', path).then((reply) => {
    const raw = (reply.body['raw'] as string | undefined) ?? JSON.stringify(reply.body);
    return raw
      .split('\n')
      .filter((line) => line.trim())
      .flatMap((line) => {
        try {
          return [JSON.parse(line) as { type: string }];
        } catch {
          return [];
        }
      });
  });
}

/**
 * Differences kept on purpose, with the reason (docs/cluster.md "Known differences" says the same). Each must
 * still differ: a listed difference that is gone fails the test so the list stays true.
 */
const KNOWN_DIFFERENCES: Record<string, string> = {};

const dir = await mkdtemp(join(tmpdir(), 'tessera-conformance-'));
const servers: Server[] = [];
let embedded: EmbeddedCluster | undefined;
let plane: ControlPlane | undefined;

describe.skipIf(!K8S_BIN)('the embedded API server against kube-apiserver', () => {
  beforeAll(async () => {
    embedded = await EmbeddedCluster.start({ log: pino({ level: 'silent' }) });
    await embedded.writeKubeconfig(join(dir, 'embedded.kubeconfig'));
    servers.push({ name: 'embedded', kubeConfig: embedded.kubeConfig(), kubeconfigPath: join(dir, 'embedded.kubeconfig') });
    plane = await ControlPlane.start({ binDir: K8S_BIN ?? '', dir: join(dir, 'real'), log: pino({ level: 'silent' }) });
    await plane.writeKubeconfig(join(dir, 'real.kubeconfig'));
    servers.push({ name: 'real', kubeConfig: plane.kubeConfig(), kubeconfigPath: join(dir, 'real.kubeconfig') });
  }, 120_000);

  afterAll(async () => {
    await embedded?.stop();
    await plane?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers every probe as kube-apiserver does, or the difference is listed with its reason', async () => {
    const differences: Record<string, { embedded: unknown; real: unknown }> = {};
    for (const [name, probe] of Object.entries(PROBES)) {
      const [fromEmbedded, fromReal] = await Promise.all(servers.map((s) => probe(s)));
      if (JSON.stringify(fromEmbedded) !== JSON.stringify(fromReal)) differences[name] = { embedded: fromEmbedded, real: fromReal };
    }
    const unexpected = Object.fromEntries(Object.entries(differences).filter(([name]) => !(name in KNOWN_DIFFERENCES)));
    const gone = Object.keys(KNOWN_DIFFERENCES).filter((name) => !(name in differences));
    expect({ unexpected, gone }).toEqual({ unexpected: {}, gone: [] });
  }, 120_000);
});
