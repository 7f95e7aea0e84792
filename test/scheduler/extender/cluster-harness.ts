/** An extender started against the embedded cluster exactly as `tessera scheduler` starts it, for tests. */
import type { KeyObject } from 'node:crypto';
import { generateSigningKey } from '../../../src/api/signing.js';
import { Agent, request } from 'node:http';
import { CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import type { EmbeddedCluster } from '../../../src/cluster/index.js';
import { hamiPolicy } from '../../../src/scheduler/policies/index.js';
import { DEFAULT_CONFIG, type ExtenderConfig } from '../../../src/scheduler/extender/config.js';
import { startExtender, type RunningExtender, type StartExtenderOptions } from '../../../src/scheduler/extender/service.js';
import { silentLog } from './harness.js';
import { DEFAULT_REQUEST_CONFIG } from '../../../src/request/index.js';

export function testConfig(overrides: Partial<ExtenderConfig> = {}, leaderElection: Partial<ExtenderConfig['leaderElection']> = { enabled: false }): ExtenderConfig {
  return { ...DEFAULT_CONFIG, host: '127.0.0.1', port: 0, syncWaitSeconds: 5, ...overrides, leaderElection: { ...DEFAULT_CONFIG.leaderElection, ...leaderElection } };
}

export function startTestExtender(cluster: EmbeddedCluster, key: KeyObject, config: ExtenderConfig = testConfig(), extra: Partial<StartExtenderOptions> = {}): Promise<RunningExtender> {
  return startExtender({ config, kubeConfig: cluster.kubeConfig(), signingKey: key, requestConfig: DEFAULT_REQUEST_CONFIG, memoryScaling: 1, policy: hamiPolicy, log: silentLog, ...extra });
}

export const newKey = (): KeyObject => generateSigningKey();

// Keep-alive, like kube-scheduler's client to its extender.
const agent = new Agent({ keepAlive: true });

export function postJson(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const text = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown }));
    });
    req.on('error', reject);
    req.end(text);
  });
}

/** Polls until `check` holds (informers deliver asynchronously); fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, probe: () => T | Promise<T>, check: (value: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (check(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)?.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Where an extender listens (a RunningExtender, or one served by another thread). */
type Listening = Pick<RunningExtender, 'url'>;

/**
 * Filter and prioritize one pod the way kube-scheduler does (prioritize only when filter left several), then start the bind on the best-scored node without
 * waiting for it (kube-scheduler binds in the background). Resolves once the bind is under way; `bound` gives the
 * bind's error ('' when bound).
 */
export async function schedulePodInBackground(extender: Listening, pod: V1Pod, nodeNames: string[]): Promise<{ bound: Promise<string> }> {
  const chosen = await chooseNode(extender, pod, nodeNames);
  if (!chosen.node) return { bound: Promise.resolve(chosen.error) };
  const body = { PodName: pod.metadata?.name, PodNamespace: pod.metadata?.namespace ?? 'default', PodUID: pod.metadata?.uid, Node: chosen.node };
  return { bound: postJson(`${extender.url}/bind`, body).then((reply) => (reply.json as { Error: string }).Error) };
}

async function chooseNode(extender: Listening, pod: V1Pod, nodeNames: string[]): Promise<{ node?: string; error: string }> {
  const filter = (await postJson(`${extender.url}/filter`, { Pod: pod, Nodes: null, NodeNames: nodeNames })).json as { NodeNames: string[] | null; Error: string };
  if (filter.Error) return { error: filter.Error };
  const fit = filter.NodeNames ?? [];
  if (fit.length === 0) return { error: 'no node fits' };
  // kube-scheduler neither scores nor calls prioritize when one node is left (filter's default answer).
  if (fit.length === 1) return { node: fit[0] as string, error: '' };
  const scores = (await postJson(`${extender.url}/prioritize`, { Pod: pod, Nodes: null, NodeNames: fit })).json as Array<{ Host: string; Score: number }>;
  return { node: [...scores].sort((a, b) => b.Score - a.Score || (a.Host < b.Host ? -1 : 1))[0]?.Host ?? '', error: '' };
}

/** Filter, prioritize and bind one pod the way kube-scheduler does, binding on the best-scored node. */
export async function schedulePod(extender: Listening, pod: V1Pod, nodeNames: string[]): Promise<{ node?: string; error: string }> {
  const chosen = await chooseNode(extender, pod, nodeNames);
  if (!chosen.node) return chosen;
  const body = { PodName: pod.metadata?.name, PodNamespace: pod.metadata?.namespace ?? 'default', PodUID: pod.metadata?.uid, Node: chosen.node };
  return { node: chosen.node, error: ((await postJson(`${extender.url}/bind`, body)).json as { Error: string }).Error };
}

export function coreApi(cluster: EmbeddedCluster): CoreV1Api {
  return cluster.kubeConfig().makeApiClient(CoreV1Api);
}
