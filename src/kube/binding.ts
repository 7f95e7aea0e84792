/**
 * The Binding write, as kube-scheduler makes it: POST pods/<name>/binding. kube-apiserver sets the pod's node and
 * copies the Binding's annotations onto the pod in the same write.
 */
import type { KubeJsonClient } from './json-client.js';

/** Binds `pod` to `node`, carrying `annotations` onto the pod when given; the reply is the API server's Status. */
export function postBinding(client: KubeJsonClient, pod: { namespace: string; name: string; uid: string }, node: string, annotations?: Record<string, string>): Promise<unknown> {
  return client.post(`/api/v1/namespaces/${encodeURIComponent(pod.namespace)}/pods/${encodeURIComponent(pod.name)}/binding`, {
    apiVersion: 'v1',
    kind: 'Binding',
    metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, ...(annotations ? { annotations } : {}) },
    target: { apiVersion: 'v1', kind: 'Node', name: node },
  });
}
