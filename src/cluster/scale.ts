/**
 * The `scale` subresource of Deployments and ReplicaSets (autoscaling/v1 Scale), which `kubectl scale` reads and
 * patches: a view of the object's spec.replicas, status.replicas and selector. Pure.
 */
import type { KubeObject } from './objects.js';
import { badRequest } from './status.js';

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

/** A LabelSelector object in its string form (`app=web,tier in (a,b)`), as Scale's status.selector carries it. */
export function selectorString(selector: unknown): string {
  const s = (selector ?? {}) as { matchLabels?: Record<string, string>; matchExpressions?: Requirement[] };
  const terms = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const r of s.matchExpressions ?? []) {
    const values = `(${[...(r.values ?? [])].sort().join(',')})`;
    if (r.operator === 'In') terms.push(`${r.key} in ${values}`);
    else if (r.operator === 'NotIn') terms.push(`${r.key} notin ${values}`);
    else if (r.operator === 'Exists') terms.push(r.key);
    else if (r.operator === 'DoesNotExist') terms.push(`!${r.key}`);
  }
  return terms.sort().join(',');
}

export function scaleOf(object: KubeObject): KubeObject {
  const spec = (object.spec ?? {}) as { replicas?: number; selector?: unknown };
  const status = (object.status ?? {}) as { replicas?: number };
  const { name, namespace, uid, resourceVersion, creationTimestamp } = object.metadata;
  return {
    kind: 'Scale',
    apiVersion: 'autoscaling/v1',
    metadata: { name, namespace, uid, resourceVersion, creationTimestamp },
    spec: { replicas: spec.replicas ?? 1 },
    status: { replicas: status.replicas ?? 0, selector: selectorString(spec.selector) },
  };
}

/** The object with spec.replicas taken from a Scale a client wrote; its resourceVersion, if any, is a precondition. */
export function withScale(object: KubeObject, scale: unknown): KubeObject {
  const body = scale as { kind?: unknown; metadata?: { resourceVersion?: unknown }; spec?: { replicas?: unknown } } | null;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw badRequest('a Scale object is required');
  if (body.kind !== undefined && body.kind !== 'Scale') throw badRequest(`the kind "${String(body.kind)}" does not match Scale`);
  const replicas = body.spec?.replicas ?? 0;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0 || replicas > 2 ** 31 - 1) {
    throw badRequest(`spec.replicas: Invalid value: ${JSON.stringify(replicas)}: must be a non-negative 32-bit integer`);
  }
  const rv = body.metadata?.resourceVersion;
  const metadata = typeof rv === 'string' && rv !== '' ? { ...object.metadata, resourceVersion: rv } : object.metadata;
  return { ...object, metadata, spec: { ...((object.spec ?? {}) as object), replicas } };
}
