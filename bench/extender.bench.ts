/**
 * The extender as kube-scheduler sees it.
 * - Filter, then prioritize when filter leaves more than one node (kube-scheduler skips it otherwise, and the
 *   extender's filter answers one node by default), for one pod over real HTTP on loopback (nodeCacheCapable: node names only), on
 *   clusters of 8-GPU nodes about 80% full. Goals: p99 <= 2 ms at 1,000 nodes and <= 10 ms at 5,000 nodes, since
 *   kube-scheduler runs both inside its one-pod-at-a-time loop. The extender runs in a process of its own, apart
 *   from the client (kube-scheduler's part). Beside each figure, the floor: the same HTTP surface with a service
 *   that decides nothing, so the decision's share is visible apart from what HTTP and JSON cost here.
 * - Throughput against the embedded API server: pods go through filter (and prioritize) one at a time, and their
 *   binds run in the background, as kube-scheduler runs them. Goal: >= 1,000 pods/s. The API server, the extender
 *   and the client each run in a process of their own, as in a real cluster, and each one's CPU time per pod is
 *   reported.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { KubeJsonClient, postBinding, runInformer } from '../src/kube/index.js';
import { Registry } from 'prom-client';
import { EmbeddedCluster } from '../src/cluster/index.js';
import { decide } from '../src/scheduler/core/index.js';
import { decisionOf } from '../src/api/decision.js';
import { hamiPolicy } from '../src/scheduler/policies/index.js';
import { buildServer, type ExtenderServer, type ExtenderService } from '../src/scheduler/extender/server.js';
import { startExtender } from '../src/scheduler/extender/service.js';
import type { FilterArgs } from '../src/scheduler/extender/wire.js';
import { eventually, newKey, postJson, schedulePodInBackground, testConfig } from '../test/scheduler/extender/cluster-harness.js';
import { gpuNode, gpuPod } from '../test/scheduler/extender/fixtures.js';
import { buildHarness, silentLog } from '../test/scheduler/extender/harness.js';
import { childFlags, measureAsync, percentile, type BenchResult, type BenchSuite } from './harness.js';
import { DEFAULT_REQUEST_CONFIG, parsePodRequest } from '../src/request/index.js';

const CONTEXT = { nodePolicy: 'binpack', gpuPolicy: 'spread' } as const;
const SERVER_ROLE = 'tessera-extender-bench-server';
const CLUSTER_ROLE = 'tessera-extender-bench-cluster';
/** The API server's bearer token, known to both child processes (a bench, not a secret). */
const CLUSTER_TOKEN = 'tessera-extender-bench';
const EXTENDER_ROLE = 'tessera-extender-bench-extender';
const FLOOR_ROLE = 'tessera-extender-bench-floor';
const FLOOR_BINDER_ROLE = 'tessera-extender-bench-floor-binder';
const nodeName = (i: number): string => `node-${String(i).padStart(5, '0')}`;

interface Served {
  url: string;
  grants: number;
  close: () => Promise<void>;
  /** Milliseconds the server held each request, from arrival to the reply sent, in order. */
  held?: number[];
}

/**
 * Fills every GPU to 80% of its memory and cores (one pod per GPU), and one node in ten completely. Records how
 * long the extender holds each request: the part of a round trip that is the extender's, not the client's.
 */
async function serveFilledExtender(nodes: number): Promise<Served> {
  const h = buildHarness({ filterAnswers: 'best' });
  const held = recordHeld(h.server);
  let grants = 0;
  for (let n = 0; n < nodes; n++) {
    const name = nodeName(n);
    h.view.upsertNode(gpuNode(name));
    const full = n % 10 === 0;
    for (let g = 0; g < 8; g++) {
      const pod = gpuPod(`fill-${n}-${g}`, { uid: `fill-${n}-${g}`, memoryMiB: full ? 81920 : 65536, cores: full ? 100 : 80 });
      const request = parsePodRequest(pod, DEFAULT_REQUEST_CONFIG);
      if (!request.ok) throw new Error('fill pod invalid');
      const decided = decide(h.view.state, request.value, name, hamiPolicy, CONTEXT);
      if (!decided.ok) throw new Error(`fill pod does not fit ${name}`);
      h.view.book.hold({ podUid: `fill-${n}-${g}`, node: name, decision: decisionOf(decided.value, new Date(0).toISOString()), allocation: decided.value, phase: 'confirmed', since: 0 });
      grants++;
    }
  }
  const url = await h.server.listen({ host: '127.0.0.1', port: 0 });
  return { url, grants, held, close: () => h.server.close() };
}

/** Milliseconds the server held each request, from arrival to the reply sent, in order. */
function recordHeld(server: ExtenderServer): number[] {
  const held: number[] = [];
  server.addHook('onResponse', (_request, reply, done) => {
    held.push(reply.elapsedTime);
    done();
  });
  return held;
}

/**
 * The floor under the extender on this machine: the same HTTP surface (fastify, parsing, validation, replies)
 * with a service that decides nothing: every node fits, every score is 0. The extender's own share of a round
 * trip is what it takes beyond this.
 */
async function serveFloor(bind: ExtenderService['bind'] = async () => 'the floor binds nothing'): Promise<Served> {
  const namesOf = (args: FilterArgs): string[] => args.nodeNames ?? [];
  const service: ExtenderService = {
    notReadyReason: () => undefined,
    // Answers one node, as the extender's default filter does, so neither side spends a prioritize on it.
    filter: async (args) => ({ Nodes: null, NodeNames: namesOf(args).slice(0, 1), FailedNodes: {}, FailedAndUnresolvableNodes: {}, Error: '' }),
    prioritize: async (args) => namesOf(args).map((Host) => ({ Host, Score: 0 })),
    bind,
    preempt: async () => ({ NodeNameToMetaVictims: {} }),
  };
  const server = buildServer({ service, webhook: { request: DEFAULT_REQUEST_CONFIG }, metrics: new Registry(), log: silentLog });
  const held = recordHeld(server);
  const url = await server.listen({ host: '127.0.0.1', port: 0 });
  return { url, grants: 0, held, close: () => server.close() };
}

/**
 * The floor under the extender's throughput: what any extender that binds must do, deciding nothing. The same HTTP
 * surface as `serveFloor`, each bind one Binding through the extender's own lean client (no decision on it), and a
 * pod informer through the extender's own helper, since an extender that binds must see the pods it binds.
 */
async function serveBindingFloor(clusterUrl: string, podNames: string[]): Promise<Served> {
  const kubeConfig = kubeConfigFor(clusterUrl);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const seen = new Map<string, V1Pod>();
  const key = (namespace: string | undefined, name: string | undefined): string => `${namespace ?? ''}/${name ?? ''}`;
  const pods = runInformer<V1Pod>({
    kubeConfig,
    path: '/api/v1/pods',
    list: () => core.listPodForAllNamespaces(),
    handlers: { upsert: (p) => seen.set(key(p.metadata?.namespace, p.metadata?.name), p), remove: (p) => seen.delete(key(p.metadata?.namespace, p.metadata?.name)) },
    log: silentLog,
  });
  await pods.synced;
  await eventually(
    'pods in the floor',
    () => podNames.filter((name) => seen.has(key('default', name))).length,
    (n) => n === podNames.length,
    60_000,
  );
  const binder = new KubeJsonClient(kubeConfig);
  const floor = await serveFloor(async (args) => {
    await postBinding(binder, { namespace: args.podNamespace, name: args.podName, uid: args.podUid }, args.node);
    return '';
  });
  return {
    ...floor,
    close: async () => {
      await floor.close();
      binder.close();
      await pods.stop();
    },
  };
}

/** `tessera scheduler` against the API server at `clusterUrl`, once its informers have seen every pod named. */
async function serveExtender(clusterUrl: string, podNames: string[]): Promise<Served> {
  const extender = await startExtender({
    config: testConfig(),
    kubeConfig: kubeConfigFor(clusterUrl),
    signingKey: newKey(),
    requestConfig: DEFAULT_REQUEST_CONFIG,
    memoryScaling: 1,
    policy: hamiPolicy,
    log: silentLog,
  });
  await eventually(
    'pods in the view',
    () => podNames.filter((name) => extender.view.pod('default', name)).length,
    (n) => n === podNames.length,
    60_000,
  );
  return { url: extender.url, grants: 0, close: () => extender.stop() };
}

// In a child process: serve a filled extender, the floor, an embedded API server or an extender against one,
// report the address, answer how much CPU the process has used, and close when told.
const roles: Record<string, (data: Record<string, unknown>) => Promise<Served>> = {
  [SERVER_ROLE]: (data) => serveFilledExtender(data.nodes as number),
  [FLOOR_ROLE]: () => serveFloor(),
  [CLUSTER_ROLE]: () => EmbeddedCluster.start({ token: CLUSTER_TOKEN }).then((c) => ({ url: c.loopbackUrl ?? c.url, grants: 0, close: () => c.stop() })),
  [EXTENDER_ROLE]: (data) => serveExtender(data.clusterUrl as string, data.podNames as string[]),
  [FLOOR_BINDER_ROLE]: (data) => serveBindingFloor(data.clusterUrl as string, data.podNames as string[]),
};
const CHILD_ENV = 'TESSERA_EXTENDER_BENCH_CHILD';
type ChildCommand = { role: string; data: Record<string, unknown> } | 'cpu' | 'close';

/** CPU milliseconds this process has used so far, all its threads (V8's collector and compiler included). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

if (process.env[CHILD_ENV] && process.send) {
  let served: Served | undefined;
  // A bench that died leaves no server behind.
  process.once('disconnect', () => process.exit(1));
  process.on('message', (command: ChildCommand) => {
    if (command === 'cpu') return process.send?.({ cpuMs: cpuMs() });
    if (command === 'close') {
      process.send?.({ held: served?.held ?? [] });
      void (served?.close() ?? Promise.resolve()).then(() => process.exit(0));
      return;
    }
    const serve = roles[command.role];
    if (!serve) throw new Error(`unknown bench role ${command.role}`);
    void serve(command.data).then((s) => {
      served = s;
      process.send?.({ url: s.url, grants: s.grants });
    });
  });
}

interface Child {
  url: string;
  grants: number;
  /** CPU milliseconds the process has used so far. */
  cpuMs: () => Promise<number>;
  /** Stops the process; resolves to what its server held per request (empty where it records none). */
  stop: () => Promise<number[]>;
}

/** Runs `role` in a process of its own, as the parts of a real cluster run, until `stop` is called. */
async function inProcess(role: string, data: Record<string, unknown> = {}): Promise<Child> {
  const child = fork(fileURLToPath(import.meta.url), { execArgv: ['--import', 'tsx', ...childFlags], env: { ...process.env, [CHILD_ENV]: '1' }, serialization: 'advanced' });
  const next = <T>(): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onExit = (code: number | null): void => reject(new Error(`bench role ${role} exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (message) => {
        child.off('exit', onExit);
        resolve(message as T);
      });
    });
  const started = next<{ url: string; grants: number }>();
  child.send({ role, data } satisfies ChildCommand);
  const { url, grants } = await started;
  return {
    url,
    grants,
    cpuMs: async () => {
      const reply = next<{ cpuMs: number }>();
      child.send('cpu' satisfies ChildCommand);
      return (await reply).cpuMs;
    },
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const reply = next<{ held: number[] }>();
      child.send('close' satisfies ChildCommand);
      const [{ held }] = await Promise.all([reply, exited]);
      return held;
    },
  };
}

/** A KubeConfig for the bench's API server at `url` (its loopback HTTP address) with its token. */
function kubeConfigFor(url: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'bench', server: url, skipTLSVerify: true }],
    users: [{ name: 'bench', token: CLUSTER_TOKEN }],
    contexts: [{ name: 'bench', cluster: 'bench', user: 'bench' }],
    currentContext: 'bench',
  });
  return kubeConfig;
}

/**
 * Filter, and prioritize when filter left several nodes, as kube-scheduler's loop runs them, against the server `role` runs: the round trip's
 * figures, and p50/p99 of the time the server held each pair of requests.
 */
async function cycles(role: string, data: Record<string, unknown>, nodes: number, label: string): Promise<{ result: BenchResult; grants: number; serverP50Ms: string; serverP99Ms: string }> {
  const { url, grants, stop } = await inProcess(role, data);
  const names = Array.from({ length: nodes }, (_, i) => nodeName(i));
  const requestsPerCycle: number[] = [];
  let result: BenchResult;
  let held: number[];
  try {
    result = await measureAsync(
      label,
      async (i) => {
        const pod = gpuPod(`bench-${i}`, { uid: `bench-${i}`, memoryMiB: 8000, cores: 10 });
        const filtered = (await postJson(`${url}/filter`, { Pod: pod, Nodes: null, NodeNames: names })).json as { NodeNames: string[]; Error: string };
        if (filtered.Error || filtered.NodeNames.length === 0) throw new Error(`filter failed: ${filtered.Error}`);
        requestsPerCycle.push(filtered.NodeNames.length > 1 ? 2 : 1);
        // kube-scheduler calls prioritize only when filter leaves more than one node.
        if (filtered.NodeNames.length === 1) return;
        const scored = await postJson(`${url}/prioritize`, { Pod: pod, Nodes: null, NodeNames: filtered.NodeNames });
        if (scored.status !== 200) throw new Error(`prioritize failed: HTTP ${scored.status}`);
      },
      { minMs: 3000, warmup: WARMUP_CYCLES },
    );
  } finally {
    held = await stop();
  }
  // A cycle's server time is the sum over its requests (filter, and prioritize when it ran), after the warm-up's.
  const perCycle: number[] = [];
  let at = 0;
  requestsPerCycle.forEach((count, cycle) => {
    const sum = held.slice(at, at + count).reduce((a, b) => a + b, 0);
    if (cycle >= WARMUP_CYCLES) perCycle.push(sum);
    at += count;
  });
  perCycle.sort((a, b) => a - b);
  return { result, grants, serverP50Ms: percentile(perCycle, 50).toFixed(2), serverP99Ms: percentile(perCycle, 99).toFixed(2) };
}

/**
 * The extender on a filled cluster, beside the floor measured just before it under the same load on the machine:
 * what this machine's HTTP and JSON cost for the same bodies with no decision at all.
 */
async function filterPrioritize(nodes: number, goalMs: number): Promise<BenchResult> {
  const floor = await cycles(FLOOR_ROLE, {}, nodes, `floor ${nodes}`);
  const extender = await cycles(SERVER_ROLE, { nodes }, nodes, `extender filter(+prioritize) HTTP, ${nodes} nodes`);
  return {
    ...extender.result,
    extra: {
      nodes,
      gpus: nodes * 8,
      grants: extender.grants,
      goalP99Ms: goalMs,
      serverP50Ms: extender.serverP50Ms,
      serverP99Ms: extender.serverP99Ms,
      floorP50Ms: (floor.result.p50Ms ?? 0).toFixed(2),
      floorP99Ms: (floor.result.p99Ms ?? 0).toFixed(2),
      floorServerP50Ms: floor.serverP50Ms,
      floorServerP99Ms: floor.serverP99Ms,
    },
  };
}

const WARMUP_CYCLES = 50;

/** Pods through filter and prioritize one at a time, binds in the background; resolves to the binds' errors. */
async function scheduleAll(extender: { url: string }, pods: V1Pod[], nodeNames: string[]): Promise<string[]> {
  const binds: Promise<string>[] = [];
  for (const pod of pods) binds.push((await schedulePodInBackground(extender, pod, nodeNames)).bound);
  return (await Promise.all(binds)).filter((e) => e !== '');
}

/** Creates `count` pods named `prefix-<i>`, of the throughput figure's one shape. */
async function createPods(api: CoreV1Api, prefix: string, count: number): Promise<V1Pod[]> {
  const created: V1Pod[] = [];
  for (let i = 0; i < count; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, (_, j) => api.createNamespacedPod({ namespace: 'default', body: gpuPod(`${prefix}-${i + j}`, { memoryMiB: 4000, cores: 5 }) }));
    created.push(...(await Promise.all(batch)));
  }
  return created;
}

interface Drained {
  podsPerSec: number;
  /** CPU milliseconds per pod: the process serving filter and bind, the API server, the client. */
  serverCpuMsPerPod: number;
  apiServerCpuMsPerPod: number;
  clientCpuMsPerPod: number;
}

/** `pods` pods through the server `role` runs (the extender or its floor), against an API server of their own. */
async function drain(role: string, nodes: number, pods: number): Promise<Drained> {
  // The API server and the server under test each run in a process of their own; kube-scheduler's part runs here.
  const cluster = await inProcess(CLUSTER_ROLE);
  let server: Child | undefined;
  try {
    const api = kubeConfigFor(cluster.url).makeApiClient(CoreV1Api);
    const names = Array.from({ length: nodes }, (_, i) => nodeName(i));
    // Warm-up, as the latency figures have: a long-running scheduler's code is compiled, a fresh process's is not
    // (cold, the extender spent a fifth more CPU per pod while V8 compiled). It runs on nodes of its own, so the timed
    // pods find the same empty nodes.
    const warmNames = Array.from({ length: 10 }, (_, i) => `warm-${i}`);
    await Promise.all([...names, ...warmNames].map((name) => api.createNode({ body: gpuNode(name) })));
    const created = await createPods(api, 'tp', pods);
    const warm = await createPods(api, 'warm', 500);
    server = await inProcess(role, { clusterUrl: cluster.url, podNames: [...created, ...warm].map((p) => p.metadata?.name ?? '') });
    const warmErrors = await scheduleAll(server, warm, warmNames);
    if (warmErrors.length > 0) throw new Error(`${warmErrors.length} warm-up binds failed, first: ${warmErrors[0]}`);
    const before = await Promise.all([server.cpuMs(), cluster.cpuMs()]);
    const clientBefore = cpuMs();
    const start = performance.now();
    const errors = await scheduleAll(server, created, names);
    const seconds = (performance.now() - start) / 1000;
    const client = cpuMs() - clientBefore;
    const [serverCpu, clusterCpu] = (await Promise.all([server.cpuMs(), cluster.cpuMs()])).map((ms, i) => ms - (before[i] ?? 0));
    if (errors.length > 0) throw new Error(`${errors.length} binds failed, first: ${errors[0]}`);
    return { podsPerSec: pods / seconds, serverCpuMsPerPod: (serverCpu ?? 0) / pods, apiServerCpuMsPerPod: (clusterCpu ?? 0) / pods, clientCpuMsPerPod: client / pods };
  } finally {
    await server?.stop();
    await cluster.stop();
  }
}

/**
 * The extender's throughput, beside its floor drained just before it: the same pods through a server that decides
 * nothing but binds (see `serveBindingFloor`). The extender's CPU per pod beyond the floor's is what deciding costs.
 */
async function throughput(nodes: number, pods: number): Promise<BenchResult> {
  const floor = await drain(FLOOR_BINDER_ROLE, nodes, pods);
  const extender = await drain(EXTENDER_ROLE, nodes, pods);
  return {
    name: `extender throughput, filter(+prioritize)+bind, ${nodes} nodes`,
    opsPerSec: Math.round(extender.podsPerSec),
    extra: {
      pods,
      goalPodsPerSec: 1000,
      extenderCpuMsPerPod: extender.serverCpuMsPerPod.toFixed(2),
      goalExtenderCpuMsPerPod: 0.6,
      apiServerCpuMsPerPod: extender.apiServerCpuMsPerPod.toFixed(2),
      clientCpuMsPerPod: extender.clientCpuMsPerPod.toFixed(2),
      // What one extender process could sustain on a core of its own.
      extenderBoundPodsPerSec: Math.round(1000 / extender.serverCpuMsPerPod),
      floorPodsPerSec: Math.round(floor.podsPerSec),
      floorCpuMsPerPod: floor.serverCpuMsPerPod.toFixed(2),
      floorApiServerCpuMsPerPod: floor.apiServerCpuMsPerPod.toFixed(2),
    },
  };
}

// Two suites, so each can run alone (`npm run bench -- --only extender-throughput`).
export const extenderLatencyBench: BenchSuite = {
  name: 'extender-latency',
  async run() {
    return [await filterPrioritize(1000, 2), await filterPrioritize(5000, 10)];
  },
};

export const extenderThroughputBench: BenchSuite = {
  name: 'extender-throughput',
  async run() {
    return [await throughput(100, 2000)];
  },
};
