/**
 * The price of Tessera beside the stock kube-scheduler, on the real control plane (scripts/k8s-bins.sh): N Node
 * objects with allocatable CPU and Tessera's GPU inventory (no kubelet: nothing has to run to be scheduled) and M
 * pending pods.
 * - (a) the stock kube-scheduler alone, its default profile, pods asking CPU only;
 * - (b) the stock kube-scheduler with config/scheduler-config.yaml calling `tessera scheduler` (its own process),
 *   GPU pods;
 * - (c) the stock kube-scheduler alone with the same GPU pods, their GPU resources ignored (NodeResourcesFitArgs
 *   `ignoredResources`, as the extender's `managedResources` make kube-scheduler do in (b)): what GPU pods cost
 *   kube-scheduler with no GPU decision made at all. Its NodeResourcesFit checks every extended resource name of a
 *   pod against a regular expression on every node before it looks at the ignore list (`IsExtendedResourceName`),
 *   which is most of the difference between (a) and (b) in kube-scheduler's CPU.
 * Throughput: M pods created while no scheduler runs, then the scheduler starts and drains them (pods/s from its
 * first bind to its last). Time to bind: pods created one at a time into an idle scheduler, from the create's reply
 * to the watch event that shows the node (p50/p99). CPU per pod of each process (from /proc) over the drain. The
 * ratio rows compare (b) with (a), the measure, and (b) with (c), Tessera's own part, from the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, Watch, type KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { ControlPlane, freePort, locateBinaries } from '../src/controlplane/index.js';
import { schedulerConfigFor } from '../src/localmode/control-plane-mode.js';
import { PACKAGE_ROOT } from '../src/localmode/up.js';
import { gpuNode, gpuPod } from '../test/scheduler/extender/fixtures.js';
import { childFlags, percentile, type BenchResult, type BenchSuite } from './harness.js';

const PODS = Number(process.env['TESSERA_K8S_BENCH_PODS'] ?? 1000);
/** Pods timed one at a time: the p99 of 300 is the fourth slowest, where that of 100 was the second. */
const LATENCY_PODS = 300;
/** The GPU resources of the bench's pods, ignored by kube-scheduler's NodeResourcesFit in (c). */
const GPU_RESOURCES = ['nvidia.com/gpu', 'nvidia.com/gpumem', 'nvidia.com/gpucores'];
const CLOCK_TICKS = 100;

/** CPU milliseconds a process has used (user + system, from /proc). */
async function processCpuMs(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/**
 * Records when each pod of the namespace is first seen bound. A watch that ends (the API server closes watches, and
 * a connection can drop) is started again: its first events list every pod, so none is missed, though one bound in
 * the gap is recorded late.
 */
async function watchBinds(kubeConfig: KubeConfig): Promise<{ boundAt: Map<string, number>; stop: () => void }> {
  const boundAt = new Map<string, number>();
  let stopped = false;
  let request: { abort: () => void } | undefined;
  const start = async (): Promise<void> => {
    request = await new Watch(kubeConfig).watch(
      '/api/v1/namespaces/default/pods',
      {},
      (_type, pod: V1Pod) => {
        const name = pod.metadata?.name ?? '';
        if (pod.spec?.nodeName && !boundAt.has(name)) boundAt.set(name, performance.now());
      },
      (error: unknown) => {
        if (stopped) return;
        progress(`the pod watch ended (${(error as Error | undefined)?.message ?? 'closed'}); watching again`);
        void start();
      },
    );
  };
  await start();
  return {
    boundAt,
    stop: () => {
      stopped = true;
      request?.abort();
    },
  };
}

function progress(message: string): void {
  process.stderr.write(`bench k8s: ${message}\n`);
}

async function until(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`bench k8s: timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function cpuPod(name: string): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: { containers: [{ name: 'main', image: 'busybox', resources: { requests: { cpu: '100m', memory: '100Mi' } } }] },
  };
}

interface Run {
  podsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerPod: Record<string, number>;
}

async function createAll(api: CoreV1Api, pods: V1Pod[]): Promise<void> {
  for (let i = 0; i < pods.length; i += 100) await Promise.all(pods.slice(i, i + 100).map((body) => api.createNamespacedPod({ namespace: 'default', body })));
}

/** Drain M pre-created pods, then time single pods into the idle scheduler. */
async function measureRun(plane: ControlPlane, startScheduler: () => Promise<Record<string, number | undefined>>, podOf: (name: string) => V1Pod, prefix: string): Promise<Run> {
  const kubeConfig = plane.kubeConfig();
  const api = kubeConfig.makeApiClient(CoreV1Api);
  const watch = await watchBinds(kubeConfig);
  try {
    const names = Array.from({ length: PODS }, (_, i) => `${prefix}-${i}`);
    await createAll(api, names.map(podOf));
    progress(`${prefix}: ${PODS} pods pending, starting the scheduler`);
    const fixed = { 'kube-apiserver': plane.component('kube-apiserver')?.pid, etcd: plane.component('etcd')?.pid };
    const pids = { ...fixed, ...(await startScheduler()) };
    const before = Object.fromEntries(await Promise.all(Object.entries(pids).map(async ([name, pid]) => [name, await processCpuMs(pid)] as const)));
    await until(() => names.every((n) => watch.boundAt.has(n)), `${PODS} binds`, 600_000);
    const times = names.map((n) => watch.boundAt.get(n) ?? 0).sort((a, b) => a - b);
    const seconds = ((times.at(-1) ?? 0) - (times[0] ?? 0)) / 1000;
    const cpuMsPerPod = Object.fromEntries(
      await Promise.all(Object.entries(pids).map(async ([name, pid]) => [name, Number((((await processCpuMs(pid)) - (before[name] ?? 0)) / PODS).toFixed(2))] as const)),
    );
    progress(`${prefix}: drained at ${Math.round(PODS / Math.max(seconds, 0.001))} pods/s; timing ${LATENCY_PODS} pods one at a time`);
    const latencies: number[] = [];
    for (let i = 0; i < LATENCY_PODS; i++) {
      const name = `${prefix}-single-${i}`;
      await api.createNamespacedPod({ namespace: 'default', body: podOf(name) });
      const created = performance.now();
      await until(() => watch.boundAt.has(name), `${name} to bind`, 30_000);
      latencies.push((watch.boundAt.get(name) ?? created) - created);
    }
    latencies.sort((a, b) => a - b);
    return { podsPerSec: Math.round(PODS / Math.max(seconds, 0.001)), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), cpuMsPerPod };
  } finally {
    watch.stop();
  }
}

/** `tessera scheduler` in a process of its own, ready once its health endpoint answers. */
async function startExtenderProcess(args: string[], port: number): Promise<{ child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [...childFlags, '--import', 'tsx', join(PACKAGE_ROOT, 'src/cli/main.ts'), 'scheduler', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr?.on('data', (d: Buffer) => (errors = (errors + d.toString()).slice(-4000)));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async (): Promise<void> => void (child.kill('SIGTERM'), await exited);
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`tessera scheduler exited ${child.exitCode}: ${errors}`);
    if ((await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok) return { child, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`tessera scheduler did not answer /healthz in 60 s: ${errors}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function compare(binDir: string, nodes: number): Promise<BenchResult[]> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-k8s-bench-'));
  const plane = await ControlPlane.start({ binDir, dir, log: pino({ level: 'warn' }) });
  const stops: Array<() => Promise<void>> = [];
  try {
    const api = plane.kubeConfig().makeApiClient(CoreV1Api);
    const names = Array.from({ length: nodes }, (_, i) => `node-${String(i).padStart(5, '0')}`);
    for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((name) => api.createNode({ body: gpuNode(name) })));
    progress(`${nodes} nodes created`);
    // kube-apiserver taints new nodes not-ready until a node lifecycle controller sees them ready; none runs here.
    for (let i = 0; i < names.length; i += 100) await Promise.all(names.slice(i, i + 100).map((name) => api.patchNode({ name, body: [{ op: 'replace', path: '/spec/taints', value: [] }] })));

    const stock = await measureRun(
      plane,
      async () => {
        const scheduler = await plane.startScheduler(
          stringify({ apiVersion: 'kubescheduler.config.k8s.io/v1', kind: 'KubeSchedulerConfiguration', leaderElection: { leaderElect: false }, percentageOfNodesToScore: 100 }),
        );
        stops.push(() => scheduler.stop());
        return { 'kube-scheduler': scheduler.pid };
      },
      cpuPod,
      'cpu',
    );
    await stops.pop()?.();

    const gpuPodOf = (name: string): V1Pod => gpuPod(name, { memoryMiB: 4000, cores: 5 }) as V1Pod;
    const keyFile = join(dir, 'signing.key');
    await writeFile(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    const kubeconfig = join(dir, 'extender.kubeconfig');
    await plane.writeKubeconfig(kubeconfig);
    const port = await freePort();
    const extender = await startExtenderProcess(
      ['--host', '127.0.0.1', '--port', String(port), '--kubeconfig', kubeconfig, '--signing-key-file', keyFile, '--leader-elect', 'false', '--log-level', 'warn'],
      port,
    );
    stops.push(extender.stop);
    const tessera = await measureRun(
      plane,
      async () => {
        const scheduler = await plane.startScheduler(await schedulerConfigFor(join(PACKAGE_ROOT, 'config/scheduler-config.yaml'), `http://127.0.0.1:${port}`));
        stops.push(() => scheduler.stop());
        return { 'kube-scheduler': scheduler.pid, extender: extender.child.pid };
      },
      gpuPodOf,
      'gpu',
    );
    // After (b), with the extender stopped: (b)'s pods are bound with their decisions, and nothing decides (c)'s.
    for (const stop of stops.splice(0).reverse()) await stop();
    const stockGpu = await measureRun(
      plane,
      async () => {
        const scheduler = await plane.startScheduler(
          stringify({
            apiVersion: 'kubescheduler.config.k8s.io/v1',
            kind: 'KubeSchedulerConfiguration',
            leaderElection: { leaderElect: false },
            percentageOfNodesToScore: 100,
            profiles: [{ schedulerName: gpuPodOf('x').spec?.schedulerName, pluginConfig: [{ name: 'NodeResourcesFit', args: { ignoredResources: GPU_RESOURCES } }] }],
          }),
        );
        stops.push(() => scheduler.stop());
        return { 'kube-scheduler': scheduler.pid };
      },
      gpuPodOf,
      'gpu-stock',
    );
    await stops.pop()?.();

    const row = (label: string, run: Run): BenchResult => ({
      name: `k8s ${label}, ${nodes} nodes`,
      opsPerSec: run.podsPerSec,
      p50Ms: run.p50Ms,
      p99Ms: run.p99Ms,
      extra: { pods: PODS, ...Object.fromEntries(Object.entries(run.cpuMsPerPod).map(([k, v]) => [`cpuMsPerPod.${k}`, v])) },
    });
    return [
      row('(a) kube-scheduler alone, CPU pods', stock),
      row('(b) kube-scheduler + tessera, GPU pods', tessera),
      row('(c) kube-scheduler alone, GPU pods, GPUs ignored', stockGpu),
      {
        name: `k8s ratio b/a, ${nodes} nodes`,
        extra: { podsPerSec: (tessera.podsPerSec / stock.podsPerSec).toFixed(2), goalPodsPerSec: '>=0.75', p99TimeToBind: (tessera.p99Ms / stock.p99Ms).toFixed(2), goalP99: '<=1.5' },
      },
      { name: `k8s ratio b/c, ${nodes} nodes`, extra: { podsPerSec: (tessera.podsPerSec / stockGpu.podsPerSec).toFixed(2), p99TimeToBind: (tessera.p99Ms / stockGpu.p99Ms).toFixed(2) } },
    ];
  } finally {
    for (const stop of stops.reverse()) await stop();
    await plane.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

export const k8sBench: BenchSuite = {
  name: 'k8s',
  async run() {
    const binDir = locateBinaries();
    if (!binDir) {
      process.stderr.write('bench k8s: skipped: no control-plane binaries (run scripts/k8s-bins.sh)\n');
      return [];
    }
    const sizes = (process.env['TESSERA_K8S_BENCH_NODES'] ?? '500,2000').split(',').map(Number);
    const rows: BenchResult[] = [];
    for (const nodes of sizes) rows.push(...(await compare(binDir, nodes)));
    return rows;
  },
};
