/**
 * Server-side printing: the `meta.k8s.io/v1` Table kubectl asks for (`Accept: ...;as=Table`), with the columns
 * kubectl users expect per type (pods: READY, STATUS, RESTARTS, AGE, NODE). Pure: the caller passes the clock.
 */
import type { KubeObject } from './objects.js';
import { typeKey, type ResourceType } from './resources.js';

type Cell = string | number;

interface Column {
  name: string;
  type: 'string' | 'integer' | 'date';
  /** 0 shows always; 1 only with `-o wide`. */
  priority: number;
  cell(object: KubeObject): Cell;
}

type Loose = Record<string, unknown> & { [key: string]: Loose | undefined };
const at = (object: KubeObject, path: string): unknown => path.split('.').reduce<unknown>((node, part) => (node !== null && typeof node === 'object' ? (node as Loose)[part] : undefined), object);
const countKeys = (value: unknown): number => (value !== null && typeof value === 'object' ? Object.keys(value).length : 0);
const list = (value: unknown): Record<string, unknown>[] => (Array.isArray(value) ? (value as Record<string, unknown>[]) : []);

function podStatus(pod: KubeObject): string {
  if (pod.metadata.deletionTimestamp) return 'Terminating';
  return String(at(pod, 'status.reason') ?? at(pod, 'status.phase') ?? 'Pending');
}

function nodeStatus(node: KubeObject): string {
  const ready = list(at(node, 'status.conditions')).find((c) => c.type === 'Ready');
  const status = ready?.status === 'True' ? 'Ready' : ready ? 'NotReady' : 'Unknown';
  return at(node, 'spec.unschedulable') === true ? `${status},SchedulingDisabled` : status;
}

function nodeAddressOf(node: KubeObject, type: string): string {
  return String(list(at(node, 'status.addresses')).find((a) => a.type === type)?.address ?? '<none>');
}

function nodeRoles(node: KubeObject): string {
  const prefix = 'node-role.kubernetes.io/';
  const roles = Object.keys(node.metadata.labels ?? {})
    .filter((k) => k.startsWith(prefix))
    .map((k) => k.slice(prefix.length));
  return roles.length ? roles.sort().join(',') : '<none>';
}

const COLUMNS: Readonly<Record<string, readonly Column[]>> = {
  '/pods': [
    {
      name: 'Ready',
      type: 'string',
      priority: 0,
      cell: (p) => `${list(at(p, 'status.containerStatuses')).filter((c) => c.ready === true).length}/${list(at(p, 'spec.containers')).length}`,
    },
    { name: 'Status', type: 'string', priority: 0, cell: podStatus },
    { name: 'Restarts', type: 'integer', priority: 0, cell: (p) => list(at(p, 'status.containerStatuses')).reduce((n, c) => n + (Number(c.restartCount) || 0), 0) },
    { name: 'IP', type: 'string', priority: 1, cell: (p) => String(at(p, 'status.podIP') ?? '<none>') },
    { name: 'Node', type: 'string', priority: 1, cell: (p) => String(at(p, 'spec.nodeName') ?? '<none>') },
  ],
  '/nodes': [
    { name: 'Status', type: 'string', priority: 0, cell: nodeStatus },
    { name: 'Roles', type: 'string', priority: 0, cell: nodeRoles },
    { name: 'Version', type: 'string', priority: 0, cell: (n) => String(at(n, 'status.nodeInfo.kubeletVersion') ?? '') },
    { name: 'Internal-IP', type: 'string', priority: 1, cell: (n) => nodeAddressOf(n, 'InternalIP') },
    { name: 'External-IP', type: 'string', priority: 1, cell: (n) => nodeAddressOf(n, 'ExternalIP') },
    { name: 'OS-Image', type: 'string', priority: 1, cell: (n) => String(at(n, 'status.nodeInfo.osImage') ?? '<unknown>') },
    { name: 'Kernel-Version', type: 'string', priority: 1, cell: (n) => String(at(n, 'status.nodeInfo.kernelVersion') ?? '<unknown>') },
    { name: 'Container-Runtime', type: 'string', priority: 1, cell: (n) => String(at(n, 'status.nodeInfo.containerRuntimeVersion') ?? '<unknown>') },
  ],
  '/namespaces': [{ name: 'Status', type: 'string', priority: 0, cell: (n) => String(at(n, 'status.phase') ?? '') }],
  '/configmaps': [{ name: 'Data', type: 'integer', priority: 0, cell: (c) => countKeys(c.data) + countKeys(c.binaryData) }],
  '/secrets': [
    { name: 'Type', type: 'string', priority: 0, cell: (s) => String(s.type ?? 'Opaque') },
    { name: 'Data', type: 'integer', priority: 0, cell: (s) => countKeys(s.data) },
  ],
  'coordination.k8s.io/leases': [{ name: 'Holder', type: 'string', priority: 0, cell: (l) => String(at(l, 'spec.holderIdentity') ?? '') }],
  'apps/deployments': [
    { name: 'Ready', type: 'string', priority: 0, cell: (d) => `${Number(at(d, 'status.readyReplicas') ?? 0)}/${Number(at(d, 'spec.replicas') ?? 1)}` },
    { name: 'Up-to-date', type: 'integer', priority: 0, cell: (d) => Number(at(d, 'status.updatedReplicas') ?? 0) },
    { name: 'Available', type: 'integer', priority: 0, cell: (d) => Number(at(d, 'status.availableReplicas') ?? 0) },
  ],
  'apps/replicasets': [
    { name: 'Desired', type: 'integer', priority: 0, cell: (r) => Number(at(r, 'spec.replicas') ?? 1) },
    { name: 'Current', type: 'integer', priority: 0, cell: (r) => Number(at(r, 'status.replicas') ?? 0) },
    { name: 'Ready', type: 'integer', priority: 0, cell: (r) => Number(at(r, 'status.readyReplicas') ?? 0) },
  ],
  '/persistentvolumeclaims': [
    { name: 'Status', type: 'string', priority: 0, cell: (c) => String(at(c, 'status.phase') ?? 'Pending') },
    { name: 'Volume', type: 'string', priority: 0, cell: (c) => String(at(c, 'spec.volumeName') ?? '') },
    { name: 'Capacity', type: 'string', priority: 0, cell: (c) => String(at(c, 'status.capacity.storage') ?? '') },
  ],
};

/** True when the client asked for server-side printing in meta.k8s.io/v1. */
export function wantsTable(accept: string | undefined): boolean {
  return (accept ?? '').split(',').some((part) => {
    const params = part.split(';').map((p) => p.trim());
    return params.includes('as=Table') && params.includes('g=meta.k8s.io') && params.includes('v=v1');
  });
}

/** kubectl's short durations: 45s, 12m, 5h, 3d, 2y. */
export function shortAge(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 120) return `${s}s`;
  if (s < 3 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 48 * 3600) return `${Math.floor(s / 3600)}h`;
  if (s < 2 * 365 * 86400) return `${Math.floor(s / 86400)}d`;
  return `${Math.floor(s / (365 * 86400))}y`;
}

export function toTable(type: ResourceType, objects: readonly KubeObject[], now: Date, metadata: object = {}, withColumns = true): object {
  const extra = COLUMNS[typeKey(type)] ?? [];
  const age = (o: KubeObject): string => shortAge((now.getTime() - Date.parse(o.metadata.creationTimestamp ?? now.toISOString())) / 1000);
  const columns = [
    { name: 'Name', type: 'string', format: 'name', priority: 0, cell: (o: KubeObject): Cell => o.metadata.name ?? '' },
    ...extra.filter((c) => c.priority === 0),
    { name: 'Age', type: 'string', format: '', priority: 0, cell: age },
    ...extra.filter((c) => c.priority > 0),
  ];
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata,
    ...(withColumns ? { columnDefinitions: columns.map((c) => ({ name: c.name, type: c.type, format: 'format' in c ? c.format : '', description: '', priority: c.priority })) } : {}),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o)),
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
