/** The pods/binding rules: a pending pod is bound once, to a Node, and is then marked PodScheduled and carries the Binding's annotations. Pure. */
import type { KubeObject } from './objects.js';
import { badRequest, conflict } from './status.js';

export interface Binding {
  metadata?: { name?: string; namespace?: string; uid?: string; annotations?: Record<string, string> };
  target?: { kind?: string; name?: string; apiVersion?: string };
}

/** The pod after binding it to `binding.target`, or the reason it cannot be bound. `now` stamps the condition. */
export function bindPod(pod: KubeObject, binding: Binding, now: string): KubeObject {
  const name = pod.metadata.name ?? '';
  const target = binding.target;
  if (!target || typeof target.name !== 'string' || target.name === '') throw badRequest('target.name: Required value: the node to bind to');
  if (target.kind !== undefined && target.kind !== 'Node' && target.kind !== '') throw badRequest(`target.kind: Unsupported value: "${target.kind}": must be Node`);
  if (binding.metadata?.uid && binding.metadata.uid !== pod.metadata.uid) {
    throw conflict('pods/binding', name, `Precondition failed: UID in precondition: ${binding.metadata.uid}, UID in object meta: ${pod.metadata.uid}`);
  }
  const annotations = binding.metadata?.annotations;
  if (annotations !== undefined && (annotations === null || typeof annotations !== 'object' || Array.isArray(annotations) || Object.values(annotations).some((v) => typeof v !== 'string'))) {
    throw badRequest('metadata.annotations: Invalid value: must be a map of strings');
  }
  const spec = (pod.spec ?? {}) as { nodeName?: string };
  if (spec.nodeName) throw conflict('pods/binding', name, `pod ${name} is already assigned to node "${spec.nodeName}"`);
  if (pod.metadata.deletionTimestamp) throw conflict('pods/binding', name, `pod ${name} is being deleted, cannot be assigned to a host`);
  const status = (pod.status ?? {}) as { conditions?: { type: string }[] };
  const condition = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now };
  const conditions = [...(status.conditions ?? []).filter((c) => c.type !== 'PodScheduled'), condition];
  // setPodHostAndAnnotations: the Binding's annotations are written onto the pod (a scheduler's decision travels so).
  const metadata = annotations && Object.keys(annotations).length > 0 ? { ...pod.metadata, annotations: { ...pod.metadata.annotations, ...annotations } } : pod.metadata;
  return { ...pod, metadata, spec: { ...spec, nodeName: target.name }, status: { ...status, conditions } };
}
