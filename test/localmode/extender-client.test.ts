import type { V1Node, V1Pod } from '@kubernetes/client-node';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExtenderClient } from '../../src/localmode/extender-client.js';
import { loadSchedulerSettings, parseDurationMs, schedulerSettings, type ExtenderSettings } from '../../src/localmode/scheduler-config.js';
import { TesseraError } from '../../src/errors.js';

const gpuPod: V1Pod = { metadata: { name: 'p', namespace: 'ml', uid: 'u-1' }, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } };
const cpuPod: V1Pod = { metadata: { name: 'q', namespace: 'ml', uid: 'u-2' }, spec: { containers: [{ name: 'c', resources: { requests: { cpu: '1' } } }] } };
const nodes: V1Node[] = ['a', 'b', 'c'].map((name) => ({ metadata: { name } }));

/** A real HTTP peer that answers what each test scripts and keeps the bodies it was sent. */
let server: FastifyInstance;
let url: string;
const received: Array<{ verb: string; body: Record<string, unknown> }> = [];
let replies: Record<string, { status: number; body: unknown; delayMs?: number }> = {};

beforeAll(async () => {
  server = Fastify();
  server.post('/:verb', async (request, reply) => {
    const { verb } = request.params as { verb: string };
    received.push({ verb, body: request.body as Record<string, unknown> });
    const scripted = replies[verb] ?? { status: 404, body: {} };
    await new Promise((resolve) => setTimeout(resolve, scripted.delayMs ?? 0));
    return reply.code(scripted.status).send(scripted.body);
  });
  url = await server.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => server.close());

function client(overrides: Partial<ExtenderSettings> = {}): ExtenderClient {
  const settings = schedulerSettings(
    {
      apiVersion: 'kubescheduler.config.k8s.io/v1',
      kind: 'KubeSchedulerConfiguration',
      extenders: [
        {
          urlPrefix: url,
          filterVerb: 'filter',
          prioritizeVerb: 'prioritize',
          bindVerb: 'bind',
          weight: 2,
          nodeCacheCapable: true,
          managedResources: [{ name: 'nvidia.com/gpu', ignoredByScheduler: true }],
        },
      ],
    },
    'test',
  );
  return new ExtenderClient({ ...settings.extenders[0]!, ...overrides });
}

async function failure(run: () => Promise<unknown>): Promise<TesseraError> {
  try {
    await run();
  } catch (error) {
    if (error instanceof TesseraError) return error;
    throw error;
  }
  throw new Error('expected a TesseraError');
}

describe('extender client (kube-scheduler side of the wire)', () => {
  it('reads the project scheduler config with kube-scheduler defaults', () => {
    const settings = loadSchedulerSettings('config/scheduler-config.yaml');
    expect(settings.schedulerNames).toEqual(['tessera-scheduler']);
    expect(settings.extenders[0]).toMatchObject({ filterVerb: 'filter', bindVerb: 'bind', nodeCacheCapable: true, httpTimeoutMs: 5000, weight: 1, ignorable: false });
    expect(settings.extenders[0]!.managedResources.map((r) => r.name)).toContain('nvidia.com/gpumem');
    expect(parseDurationMs('1m30s')).toBe(90_000);
    expect(parseDurationMs('250ms')).toBe(250);
  });

  it('rejects a config without weight for prioritize, naming the field', async () => {
    const error = await failure(async () =>
      schedulerSettings({ apiVersion: 'kubescheduler.config.k8s.io/v1', kind: 'KubeSchedulerConfiguration', extenders: [{ urlPrefix: 'http://x', prioritizeVerb: 'p' }] }, 'cfg'),
    );
    expect(error.field).toBe('cfg.extenders.0.weight');
  });

  it('is interested only in pods that ask for a managed resource', () => {
    expect(client().isInterested(gpuPod)).toBe(true);
    expect(client().isInterested(cpuPod)).toBe(false);
  });

  it('sends NodeNames only when nodeCacheCapable, in PascalCase, and reads the reply in any case', async () => {
    replies = { filter: { status: 200, body: { nodeNames: ['b'], failedNodes: { a: 'no MIG slice' }, FailedAndUnresolvableNodes: { c: 'mode mismatch' }, Error: '' } } };
    received.length = 0;
    const result = await client().filter(gpuPod, nodes);
    expect(received[0]?.body).toEqual({ Pod: gpuPod, Nodes: null, NodeNames: ['a', 'b', 'c'] });
    expect(result).toEqual({ feasible: ['b'], failed: { a: 'no MIG slice' }, unresolvable: { c: 'mode mismatch' } });

    replies = { filter: { status: 200, body: { Nodes: { items: [{ metadata: { name: 'c' } }] }, NodeNames: null, FailedNodes: {}, Error: '' } } };
    received.length = 0;
    const full = await client({ nodeCacheCapable: false }).filter(gpuPod, nodes);
    expect(received[0]?.body).toEqual({ Pod: gpuPod, Nodes: { metadata: {}, items: nodes }, NodeNames: null });
    expect(full.feasible).toEqual(['c']);
  });

  it('fails the attempt on a filter Error, a non-200 status or a node that was not offered', async () => {
    replies = { filter: { status: 200, body: { NodeNames: [], Error: 'extender not ready' } } };
    expect((await failure(() => client().filter(gpuPod, nodes))).message).toContain('extender not ready');
    replies = { filter: { status: 500, body: 'boom' } };
    expect((await failure(() => client().filter(gpuPod, nodes))).message).toContain('HTTP 500');
    replies = { filter: { status: 200, body: { NodeNames: ['zz'] } } };
    expect((await failure(() => client().filter(gpuPod, nodes))).field).toBe('ExtenderFilterResult.NodeNames');
    replies = { filter: { status: 200, body: { NodeNames: 'a' } } };
    expect((await failure(() => client().filter(gpuPod, nodes))).field).toBe('ExtenderFilterResult.nodenames');
  });

  it('scales prioritize scores by weight x 10 as kube-scheduler adds them', async () => {
    replies = {
      prioritize: {
        status: 200,
        body: [
          { Host: 'a', Score: 3 },
          { host: 'b', score: 10 },
        ],
      },
    };
    // weight 2: 3 -> 3 x 2 x (100 / 10) = 60; 10 -> 200.
    expect([...(await client().prioritize(gpuPod, nodes)).entries()]).toEqual([
      ['a', 60],
      ['b', 200],
    ]);
  });

  it('binds with PascalCase arguments and surfaces the Error', async () => {
    replies = { bind: { status: 200, body: { Error: '' } } };
    received.length = 0;
    await client().bind(gpuPod, 'b');
    expect(received[0]).toEqual({ verb: 'bind', body: { PodName: 'p', PodNamespace: 'ml', PodUID: 'u-1', Node: 'b' } });
    replies = { bind: { status: 200, body: { Error: 'pod is already bound to a' } } };
    expect((await failure(() => client().bind(gpuPod, 'b'))).message).toContain('pod is already bound to a');
  });

  it('gives up after httpTimeout', async () => {
    replies = { filter: { status: 200, body: { NodeNames: ['a'] }, delayMs: 300 } };
    const error = await failure(() => client({ httpTimeoutMs: 50 }).filter(gpuPod, nodes));
    expect(error.code).toBe('UNAVAILABLE');
    expect(error.message).toMatch(/abort|timeout/i);
  });
});
