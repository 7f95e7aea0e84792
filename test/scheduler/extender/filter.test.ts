import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TESSERA_POD } from '../../../src/api/annotations.js';
import { decisionOf, encodeDecision, signDecision } from '../../../src/api/decision.js';
import { decide, schedule } from '../../../src/scheduler/core/index.js';
import { hamiPolicy } from '../../../src/scheduler/policies/index.js';
import { buildHarness, type Harness } from './harness.js';
import { gpuNode, gpuPod } from './fixtures.js';
import { DEFAULT_REQUEST_CONFIG, parsePodRequest } from '../../../src/request/index.js';

let h: Harness;

async function post(url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> & unknown[] }> {
  const response = await h.server.inject({ method: 'POST', url, payload: body as object });
  return { status: response.statusCode, json: response.json() };
}

/** Gives `pod` a signed grant on `node`, delivered as the pod informer would deliver it (running unless told). */
function grant(pod: ReturnType<typeof gpuPod>, node: string, phase = 'Running', on: Harness = h): void {
  const request = parsePodRequest(pod, DEFAULT_REQUEST_CONFIG);
  if (!request.ok) throw new Error('bad fixture');
  const decided = decide(on.view.state, request.value, node, hamiPolicy, { nodePolicy: 'binpack', gpuPolicy: 'spread' });
  if (!decided.ok) throw new Error(`fixture does not fit ${node}`);
  const decision = signDecision(decisionOf(decided.value, new Date().toISOString()), on.key);
  on.view.upsertPod({ ...pod, spec: { ...pod.spec, nodeName: node }, metadata: { ...pod.metadata, annotations: { [TESSERA_POD.decision]: encodeDecision(decision) } }, status: { phase } });
}

/** The cluster every test here starts from. */
function seeded(harness: Harness): Harness {
  harness.view.upsertNode(gpuNode('big-1'));
  harness.view.upsertNode(gpuNode('big-2'));
  harness.view.upsertNode(gpuNode('small', { gpus: 2, memoryMiB: 16384 }));
  // big-1 already runs two pods: binpack must prefer it.
  grant(gpuPod('running-a', { uid: 'running-a', memoryMiB: 40000 }), 'big-1', 'Running', harness);
  grant(gpuPod('running-b', { uid: 'running-b', memoryMiB: 40000 }), 'big-1', 'Running', harness);
  // busy's only GPU is held exclusively: it could take a pod once that one leaves.
  harness.view.upsertNode(gpuNode('busy', { gpus: 1 }));
  grant(gpuPod('exclusive', { uid: 'exclusive', gpus: 1 }), 'busy', 'Running', harness);
  return harness;
}

beforeAll(() => {
  h = seeded(buildHarness());
});
afterAll(async () => h.server.close());

describe('filter over HTTP', () => {
  it('returns every node that fits, not just one, and says why the others do not', async () => {
    const { status, json } = await post('/filter', { Pod: gpuPod('p', { uid: 'u-1', gpus: 1, memoryMiB: 20000 }), Nodes: null, NodeNames: ['big-1', 'big-2', 'small', 'busy'] });
    expect(status).toBe(200);
    expect(json.Error).toBe('');
    expect(json.NodeNames).toEqual(['big-1', 'big-2']);
    // busy frees up when its pod leaves; small's GPUs are smaller than the request, forever.
    expect(Object.keys(json.FailedNodes as object)).toEqual(['busy']);
    expect(Object.keys(json.FailedAndUnresolvableNodes as object)).toEqual(['small']);
    expect((json.FailedAndUnresolvableNodes as Record<string, string>).small).toMatch(/gpumem/);
  });

  it('marks nodes that can never fit as unresolvable (too many GPUs, unknown node)', async () => {
    const { json } = await post('/filter', { Pod: gpuPod('p', { uid: 'u-2', gpus: 4 }), NodeNames: ['big-2', 'small', 'no-such-node'] });
    expect(json.NodeNames).toEqual(['big-2']);
    expect(Object.keys(json.FailedAndUnresolvableNodes as object).sort()).toEqual(['no-such-node', 'small']);
    expect((json.FailedAndUnresolvableNodes as Record<string, string>)['no-such-node']).toContain('unknown node');
  });

  it('answers an invalid request with every node unresolvable and the field named', async () => {
    const { json } = await post('/filter', { Pod: gpuPod('p', { uid: 'u-3', annotations: { 'nvidia.com/vgpu-mode': 'time-slice' } }), NodeNames: ['big-1', 'big-2'] });
    expect(json.NodeNames).toEqual([]);
    expect((json.FailedAndUnresolvableNodes as Record<string, string>)['big-1']).toContain('metadata.annotations.nvidia.com/vgpu-mode');
  });

  it('sends Node objects back when kube-scheduler is not nodeCacheCapable', async () => {
    const nodes = { items: [{ metadata: { name: 'big-2', uid: 'x' } }, { metadata: { name: 'small' } }] };
    const { json } = await post('/filter', { Pod: gpuPod('p', { uid: 'u-4', memoryMiB: 20000 }), Nodes: nodes, NodeNames: null });
    expect(json.NodeNames).toBeNull();
    expect(json.Nodes).toEqual({ metadata: {}, items: [{ metadata: { name: 'big-2', uid: 'x' } }] });
  });

  it('partitions the offered nodes: each is either returned, failed or unresolvable, and nothing else appears', async () => {
    const names = ['big-1', 'big-2', 'small', 'busy', 'ghost'];
    await fc.assert(
      fc.asyncProperty(fc.subarray(names), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 90000 }), async (offered, gpus, memoryMiB) => {
        const { json } = await post('/filter', { Pod: gpuPod('p', { uid: 'u-prop', gpus, memoryMiB }), NodeNames: offered });
        const out = [...(json.NodeNames as string[]), ...Object.keys(json.FailedNodes as object), ...Object.keys(json.FailedAndUnresolvableNodes as object)];
        expect(out.sort()).toEqual([...offered].sort());
      }),
      { numRuns: 60 },
    );
  });

  it('answers malformed bodies with an Error kube-scheduler logs, never a crash', async () => {
    const bad = await h.server.inject({ method: 'POST', url: '/filter', headers: { 'content-type': 'application/json' }, payload: '{"Pod":' });
    expect(bad.statusCode).toBe(200);
    expect(bad.json().Error).toMatch(/malformed request body/);
    const missing = await post('/filter', { NodeNames: ['big-1'] });
    expect(missing.json.Error).toBe('ExtenderArgs.Pod: is required');
    const prioritize = await post('/prioritize', { Pod: { metadata: {} }, NodeNames: [] });
    expect(prioritize.status).toBe(400);
  });
});

describe('filter answering the best node (the default)', () => {
  let best: Harness;
  beforeAll(() => {
    best = seeded(buildHarness({ filterAnswers: 'best' }));
  });
  afterAll(async () => best.server.close());

  const filterOn = async (on: Harness, body: unknown): Promise<Record<string, unknown>> => (await on.server.inject({ method: 'POST', url: '/filter', payload: body as object })).json();

  it('answers only the node the policy ranks first, with no reasons for the others', async () => {
    const body = { Pod: gpuPod('p', { uid: 'b-1', gpus: 1, memoryMiB: 20000 }), Nodes: null, NodeNames: ['big-2', 'big-1', 'small', 'busy'] };
    const json = await filterOn(best, body);
    // binpack: big-1 already runs pods. kube-scheduler binds a pod with one feasible node without scoring, and reads
    // the reasons only when no node is left.
    expect(json.NodeNames).toEqual(['big-1']);
    expect(json.FailedNodes).toEqual({});
    expect(json.FailedAndUnresolvableNodes).toEqual({});
  });

  it('gives every node its reason when none fits', async () => {
    const body = { Pod: gpuPod('p', { uid: 'b-2', gpus: 1, memoryMiB: 20000 }), Nodes: null, NodeNames: ['small', 'busy'] };
    const json = await filterOn(best, body);
    expect(json.NodeNames).toEqual([]);
    expect(Object.keys(json.FailedNodes as object)).toEqual(['busy']);
    expect(Object.keys(json.FailedAndUnresolvableNodes as object)).toEqual(['small']);
  });

  it('is always the first of what schedule ranks, and one of the nodes `all` would answer, with its reasons when it answers none', async () => {
    const names = ['big-1', 'big-2', 'small', 'busy', 'ghost'];
    await fc.assert(
      fc.asyncProperty(fc.subarray(names), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 90000 }), async (offered, gpus, memoryMiB) => {
        const pod = gpuPod('p', { uid: 'b-prop', gpus, memoryMiB });
        const [one, every] = await Promise.all([filterOn(best, { Pod: pod, NodeNames: offered }), filterOn(h, { Pod: pod, NodeNames: offered })]);
        const request = parsePodRequest(pod, DEFAULT_REQUEST_CONFIG);
        if (!request.ok) throw new Error('bad fixture');
        const ranked = schedule(best.view.state, request.value, hamiPolicy, { candidates: offered, context: { nodePolicy: 'binpack', gpuPolicy: 'spread' } }).ranked;
        expect(one.NodeNames).toEqual(ranked.slice(0, 1).map((r) => r.node));
        expect(every.NodeNames).toEqual(expect.arrayContaining(one.NodeNames as string[]));
        if ((one.NodeNames as string[]).length > 0) expect([one.FailedNodes, one.FailedAndUnresolvableNodes]).toEqual([{}, {}]);
        else expect([one.FailedNodes, one.FailedAndUnresolvableNodes]).toEqual([every.FailedNodes, every.FailedAndUnresolvableNodes]);
      }),
      { numRuns: 60 },
    );
  });
});

describe('pods in flight on one node', () => {
  it('holds back only pods kubelet could not tell apart from one in flight: per node and per shape, not a node lock', async () => {
    h.view.upsertNode(gpuNode('flight', { gpus: 4 }));
    // Granted and bound, not yet allocated by the device plugin (Pending).
    grant(gpuPod('in-flight', { uid: 'in-flight', memoryMiB: 10000 }), 'flight', 'Pending');
    const offered = { NodeNames: ['flight', 'big-2'] };
    const sameShape = (await post('/filter', { Pod: gpuPod('twin', { uid: 'twin', memoryMiB: 10000 }), ...offered })).json;
    expect(sameShape.NodeNames).toEqual(['flight', 'big-2']);
    const otherShape = (await post('/filter', { Pod: gpuPod('other', { uid: 'other', memoryMiB: 12000 }), ...offered })).json;
    expect(otherShape.NodeNames).toEqual(['big-2']);
    expect((otherShape.FailedNodes as Record<string, string>).flight).toMatch(/being allocated on this node/);
    const otherCount = (await post('/filter', { Pod: gpuPod('pair', { uid: 'pair', gpus: 2, memoryMiB: 12000 }), ...offered })).json;
    expect(otherCount.NodeNames).toEqual(['flight', 'big-2']);
  });

  it('offers no new pod a node whose grants do not all fit its reported devices, until they do', async () => {
    h.view.upsertNode(gpuNode('lagging', { gpus: 2 }));
    grant(gpuPod('holder', { uid: 'holder', gpus: 1 }), 'lagging');
    // A second grant of the same GPU arrives (say, decided before a restart): it waits, and the node is not whole.
    const held = h.view.book.get('holder')?.decision;
    if (!held) throw new Error('fixture not granted');
    const other = gpuPod('second', { uid: 'second', gpus: 1 });
    const decision = signDecision({ ...held, pod: { uid: 'second', namespace: 'default', name: 'second' } }, h.key);
    h.view.upsertPod({
      ...other,
      spec: { ...other.spec, nodeName: 'lagging' },
      metadata: { ...other.metadata, annotations: { [TESSERA_POD.decision]: encodeDecision(decision) } },
      status: { phase: 'Running' },
    });
    expect(h.view.settling('lagging')).toBe(true);
    const small = (uid: string) => ({ Pod: gpuPod(uid, { uid, memoryMiB: 1000 }), NodeNames: ['lagging'] });
    expect(((await post('/filter', small('newcomer'))).json.FailedNodes as Record<string, string>).lagging).toMatch(/does not fit the devices it reports/);
    h.view.book.release('holder');
    expect(h.view.settling('lagging')).toBe(false);
    expect((await post('/filter', small('later'))).json.NodeNames).toEqual(['lagging']);
  });

  it("reuses a node's in-flight verdict for alike pods only while nothing on that node changed", async () => {
    h.view.upsertNode(gpuNode('flight-2', { gpus: 4 }));
    grant(gpuPod('lead-one', { uid: 'lead-one', memoryMiB: 10000 }), 'flight-2', 'Pending');
    grant(gpuPod('lead-two', { uid: 'lead-two', gpus: 2, memoryMiB: 10000 }), 'flight-2', 'Pending');
    const offered = { NodeNames: ['flight-2'] };
    const ask = async (uid: string): Promise<unknown> => (await post('/filter', { Pod: gpuPod(uid, { uid, memoryMiB: 12000 }), ...offered })).json.NodeNames;
    expect(await ask('first')).toEqual([]);
    expect(await ask('alike')).toEqual([]);
    // The device plugin confirms the pod whose lead count clashed; the other stays in flight, the node's GPUs as they were.
    h.view.book.confirm('lead-one');
    expect(h.view.hasInFlight('flight-2')).toBe(true);
    expect(await ask('after')).toEqual(['flight-2']);
  });
});

describe('prioritize over HTTP', () => {
  it('scores 0..10 by the policy: binpack prefers the node already in use', async () => {
    const pod = gpuPod('p', { uid: 'u-5', memoryMiB: 20000 });
    await post('/filter', { Pod: pod, NodeNames: ['big-1', 'big-2'] });
    const { json } = await post('/prioritize', { Pod: pod, NodeNames: ['big-1', 'big-2'] });
    const scores = Object.fromEntries((json as unknown as Array<{ Host: string; Score: number }>).map((s) => [s.Host, s.Score]));
    expect(Object.keys(scores)).toEqual(['big-1', 'big-2']);
    for (const score of Object.values(scores)) expect(score >= 0 && score <= 10).toBe(true);
    expect(scores['big-1']).toBeGreaterThan(scores['big-2'] ?? 10);
  });

  it('rescores a node that changed between filter and prioritize, and matches a fresh computation', async () => {
    const pod = gpuPod('q', { uid: 'u-6', memoryMiB: 20000, cores: 10 });
    await post('/filter', { Pod: pod, NodeNames: ['big-1', 'big-2'] });
    // Another pod lands on big-2 in between (a bind in the background).
    grant(gpuPod('between', { uid: 'between', gpus: 8, memoryMiB: 60000 }), 'big-2');
    const cached = (await post('/prioritize', { Pod: pod, NodeNames: ['big-1', 'big-2'] })).json;
    const fresh = (await post('/prioritize', { Pod: { ...pod, metadata: { ...pod.metadata, uid: 'u-6-fresh' } }, NodeNames: ['big-1', 'big-2'] })).json;
    expect(cached).toEqual(fresh);
  });

  it('answers a repeated prioritize (filter scores already used) by computing afresh, with the same scores', async () => {
    const pod = gpuPod('r', { uid: 'u-7', memoryMiB: 20000 });
    await post('/filter', { Pod: pod, NodeNames: ['big-1', 'big-2'] });
    const first = (await post('/prioritize', { Pod: pod, NodeNames: ['big-1', 'big-2'] })).json;
    const again = (await post('/prioritize', { Pod: pod, NodeNames: ['big-2', 'big-1'] })).json as unknown as Array<{ Host: string; Score: number }>;
    expect([...again].reverse()).toEqual(first);
  });
});

describe('preempt over HTTP', () => {
  it('keeps the nodes where evicting the proposed victims frees GPUs enough, drops the others', async () => {
    // busy's only GPU is held exclusively by 'exclusive': evicting it makes room for one whole GPU. big-1 has room
    // for one anyway. For eight whole GPUs, evicting one of big-1's two pods is not enough, and busy has one GPU.
    const pod = gpuPod('urgent', { uid: 'urgent', gpus: 1 });
    const { status, json } = await post('/preempt', {
      Pod: pod,
      NodeNameToMetaVictims: { busy: { Pods: [{ UID: 'exclusive' }], NumPDBViolations: 0 }, 'big-1': { Pods: [{ UID: 'running-a' }], NumPDBViolations: 1 } },
    });
    expect(status).toBe(200);
    expect(json).toEqual({ NodeNameToMetaVictims: { busy: { Pods: [{ UID: 'exclusive' }], NumPDBViolations: 0 }, 'big-1': { Pods: [{ UID: 'running-a' }], NumPDBViolations: 1 } } });
    const eightGpus = await post('/preempt', {
      pod: gpuPod('huge', { uid: 'huge', gpus: 8 }),
      nodeNameToMetaVictims: { 'big-1': { pods: [{ uid: 'running-a' }], numPDBViolations: 0 }, busy: { pods: [{ uid: 'exclusive' }] } },
    });
    expect(eightGpus.json).toEqual({ NodeNameToMetaVictims: {} });
    // Nothing moved: the victims still hold their GPUs.
    expect(h.view.state.allocation('exclusive')?.node).toBe('busy');
    expect(h.view.state.allocation('running-a')?.node).toBe('big-1');
  });

  it('reads full victim pods when kube-scheduler is not nodeCacheCapable', async () => {
    const { json } = await post('/preempt', {
      Pod: gpuPod('urgent-2', { uid: 'urgent-2', gpus: 1 }),
      NodeNameToVictims: { busy: { Pods: [{ metadata: { uid: 'exclusive', name: 'exclusive' } }], NumPDBViolations: 0 } },
    });
    expect(json).toEqual({ NodeNameToMetaVictims: { busy: { Pods: [{ UID: 'exclusive' }], NumPDBViolations: 0 } } });
  });
});
