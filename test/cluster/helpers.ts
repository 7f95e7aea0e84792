/** Shared setup for the embedded cluster tests: a started cluster and typed client-node APIs on it. */
import { CoordinationV1Api, CoreV1Api, type V1Pod } from '@kubernetes/client-node';
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
