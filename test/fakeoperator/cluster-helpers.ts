/** Test helpers against the embedded cluster: objects written through the real client-node, and polling. */
import { CoreV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type V1ConfigMap, type V1Node } from '@kubernetes/client-node';
import { TESSERA_POD } from '../../src/api/annotations.js';
import { encodeDecision, type Decision } from '../../src/api/decision.js';

export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** Polls `probe` until it returns without throwing (then returns its value), or rethrows its last error. */
export async function eventually<T>(probe: () => T | Promise<T>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await probe();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

export class TestCluster {
  readonly core: CoreV1Api;
  constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async namespaces(...names: string[]): Promise<void> {
    for (const name of names) await this.core.createNamespace({ body: { metadata: { name } } });
  }

  node(name: string, labels: Record<string, string> = {}, annotations: Record<string, string> = {}): Promise<V1Node> {
    return this.core.createNode({ body: { metadata: { name, labels, annotations } } });
  }

  readNode(name: string): Promise<V1Node> {
    return this.core.readNode({ name });
  }

  annotateNode(name: string, annotations: Record<string, string | null>): Promise<V1Node> {
    return this.core.patchNode({ name, body: { metadata: { annotations } } }, mergePatch);
  }

  async configMap(name: string, data: Record<string, string>): Promise<V1ConfigMap> {
    try {
      const current = await this.core.readNamespacedConfigMap({ name, namespace: this.namespace });
      return await this.core.replaceNamespacedConfigMap({ name, namespace: this.namespace, body: { ...current, data } });
    } catch {
      return this.core.createNamespacedConfigMap({ namespace: this.namespace, body: { metadata: { name, namespace: this.namespace }, data } });
    }
  }

  readConfigMap(name: string): Promise<V1ConfigMap> {
    return this.core.readNamespacedConfigMap({ name, namespace: this.namespace });
  }

  /**
   * Creates a pod bound to `node`, then annotates it (the annotations may depend on the UID the server gave it,
   * as a decision does) and marks it Running. Returns its UID.
   */
  async runningPod(node: string, name: string, containers: string[], annotations: (uid: string) => Record<string, string>, namespace = 'team'): Promise<string> {
    const created = await this.core.createNamespacedPod({
      namespace,
      body: { metadata: { name, namespace }, spec: { nodeName: node, containers: containers.map((c) => ({ name: c, image: 'busybox' })) } },
    });
    const uid = created.metadata?.uid ?? '';
    await this.core.patchNamespacedPod({ name, namespace, body: { metadata: { annotations: annotations(uid) } } }, mergePatch);
    await this.core.patchNamespacedPodStatus({ name, namespace, body: { status: { phase: 'Running', startTime: new Date() } } }, mergePatch);
    return uid;
  }

  /** The annotations of a pod carrying `decision`. */
  static decisionAnnotation(decision: Decision): Record<string, string> {
    return { [TESSERA_POD.decision]: encodeDecision(decision) };
  }

  async deletePod(name: string, namespace: string): Promise<void> {
    await this.core.deleteNamespacedPod({ name, namespace, gracePeriodSeconds: 0 });
  }
}
