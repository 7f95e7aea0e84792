/** Shared setup for the embedded cluster tests: a started cluster and typed client-node APIs on it. */
import { CoordinationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { EmbeddedCluster, type EmbeddedClusterOptions } from '../../src/cluster/index.js';

export interface Harness {
  cluster: EmbeddedCluster;
  core: CoreV1Api;
  coordination: CoordinationV1Api;
}

export async function startHarness(options: EmbeddedClusterOptions = {}): Promise<Harness> {
  const cluster = await EmbeddedCluster.start(options);
  const kc = cluster.kubeConfig();
  return { cluster, core: kc.makeApiClient(CoreV1Api), coordination: kc.makeApiClient(CoordinationV1Api) };
}

export function pod(name: string, extra: Partial<V1Pod> = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { app: 'demo' }, ...extra.metadata },
    spec: { containers: [{ name: 'main', image: 'busybox:1' }], ...extra.spec },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

/** The HTTP status of a failed client-node call (ApiException.code). */
export async function statusOf(call: Promise<unknown>): Promise<number> {
  try {
    await call;
  } catch (error) {
    return (error as { code?: number }).code ?? -1;
  }
  return 200;
}

export interface RawReply {
  status: number;
  text: string;
}

export interface RawOptions {
  headers?: Record<string, string | number>;
  body?: string | Buffer;
  /** The bearer token to send: the cluster's by default, none with null. */
  token?: string | null;
  /** Answer without reading the body when this says so (an open watch). */
  stopAt?: (status: number) => boolean;
}

/**
 * One HTTPS request as an attacker or a hand-written client sends it: the path goes on the wire exactly as given
 * (no URL parser resolves `..` or `%2e%2e` first), and the server's certificate is the cluster's.
 */
export function rawRequest(cluster: { url: string; ca: string; token: string }, method: string, path: string, options: RawOptions = {}): Promise<RawReply> {
  const { hostname, port } = new URL(cluster.url);
  const token = options.token === undefined ? cluster.token : options.token;
  const headers: Record<string, string | number> = { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...options.headers };
  if (options.body !== undefined) headers['content-length'] = Buffer.byteLength(options.body);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname.replace(/^\[|\]$/g, ''), port, path, method, headers, ca: cluster.ca, agent: false }, (res) => {
      const status = res.statusCode ?? 0;
      if (options.stopAt?.(status)) {
        res.destroy();
        resolve({ status, text: '' });
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

export const KUBECTL = process.env.KUBECTL ?? '/usr/bin/kubectl';
export const hasKubectl = existsSync(KUBECTL);
const run = promisify(execFile);

/** An embedded cluster with kubectl pointed at it, its kubeconfig in a folder of its own. */
export interface KubectlSession {
  cluster: EmbeddedCluster;
  dir: string;
  kubeconfig: string;
  kubectl(...args: string[]): Promise<string>;
}

/** A KubectlSession for the enclosing describe: started before its tests, stopped (folder removed) after them. */
export function kubectlSession(prefix: string): KubectlSession {
  const session = {
    dir: '',
    kubeconfig: '',
    kubectl: async (...args: string[]): Promise<string> => (await run(KUBECTL, ['--kubeconfig', session.kubeconfig, ...args], { timeout: 20_000 })).stdout,
  } as KubectlSession;
  beforeAll(async () => {
    session.cluster = await EmbeddedCluster.start();
    session.dir = mkdtempSync(join(tmpdir(), prefix));
    session.kubeconfig = join(session.dir, 'kubeconfig');
    await session.cluster.writeKubeconfig(session.kubeconfig);
  });
  afterAll(async () => {
    await session.cluster.stop();
    rmSync(session.dir, { recursive: true, force: true });
  });
  return session;
}
