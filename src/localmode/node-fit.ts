/**
 * The kube-scheduler filters the driver runs itself before asking the extender, in kube-scheduler's own words:
 * NodeUnschedulable, NodeName, NodeAffinity (nodeSelector), TaintToleration and NodeResourcesFit (requests
 * against allocatable minus what assigned pods request; resources the extender manages with ignoredByScheduler
 * are skipped). Pure: plain Pod and Node objects in, a reason or null out.
 */
import type { V1Container, V1Node, V1Pod, V1Taint, V1Toleration } from '@kubernetes/client-node';
import { isFinished } from './pods.js';
import { parseQuantity, quantityCeil } from '../request/index.js';

/** Resource amounts in milli-units, so CPU (`500m`) and counts share one integer scale. */
export type ResourceAmounts = Map<string, number>;

/** Amounts above 2^53 milli-units (8 PiB) are not exact, which no node or pod here comes near. */
function milli(value: string | number): number {
  const q = parseQuantity(String(value));
  return q ? quantityCeil(q, 1000n) : 0;
}

function containerRequests(container: V1Container): ResourceAmounts {
  // A limit without a request defaults the request to the limit, as the API server does.
  const amounts: ResourceAmounts = new Map();
  for (const [name, value] of Object.entries(container.resources?.limits ?? {})) amounts.set(name, milli(value));
  for (const [name, value] of Object.entries(container.resources?.requests ?? {})) amounts.set(name, milli(value));
  return amounts;
}

/** What the pod needs on a node: per resource, max(largest init container, sum of app containers). */
export function podRequests(pod: V1Pod): ResourceAmounts {
  const total: ResourceAmounts = new Map();
  for (const container of pod.spec?.containers ?? []) {
    for (const [name, amount] of containerRequests(container)) total.set(name, (total.get(name) ?? 0) + amount);
  }
  for (const container of pod.spec?.initContainers ?? []) {
    for (const [name, amount] of containerRequests(container)) total.set(name, Math.max(total.get(name) ?? 0, amount));
  }
  return total;
}

/** Whether a pod still holds its node's resources (kube-scheduler counts every assigned pod not yet finished). */
export function holdsResources(pod: V1Pod): boolean {
  return Boolean(pod.spec?.nodeName) && !isFinished(pod);
}

function tolerates(tolerations: readonly V1Toleration[], taint: V1Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if (t.key === undefined || t.key === '') return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

/**
 * Why `node` cannot take `pod`, or null when it can. `used` is what pods already on the node request
 * (including `pods`, one each); `ignored` are the resources kube-scheduler leaves to the extender.
 */
export function nodeMisfit(pod: V1Pod, node: V1Node, used: ResourceAmounts, ignored: ReadonlySet<string>): string | null {
  const spec = pod.spec;
  if (node.spec?.unschedulable && !tolerates(spec?.tolerations ?? [], { key: 'node.kubernetes.io/unschedulable', effect: 'NoSchedule' })) {
    return 'node(s) were unschedulable';
  }
  if (spec?.nodeName && spec.nodeName !== node.metadata?.name) return "node(s) didn't match the requested node name";
  const labels = node.metadata?.labels ?? {};
  if (Object.entries(spec?.nodeSelector ?? {}).some(([key, value]) => labels[key] !== value)) return "node(s) didn't match Pod's node affinity/selector";
  const untolerated = (node.spec?.taints ?? []).find((taint) => taint.effect !== 'PreferNoSchedule' && !tolerates(spec?.tolerations ?? [], taint));
  if (untolerated) return `node(s) had untolerated taint {${untolerated.key}: ${untolerated.value ?? ''}}`;
  const allocatable = node.status?.allocatable ?? {};
  const requests = podRequests(pod);
  requests.set('pods', 1000);
  for (const [name, amount] of requests) {
    if (amount === 0 || ignored.has(name)) continue;
    const capacity = allocatable[name] === undefined ? 0 : milli(allocatable[name]);
    if ((used.get(name) ?? 0) + amount > capacity) return name === 'pods' ? 'Too many pods' : `Insufficient ${name}`;
  }
  return null;
}

/** Adds `pod`'s requests (and one pod) to `used`. */
export function addUsage(used: ResourceAmounts, pod: V1Pod, sign: 1 | -1 = 1): void {
  const requests = podRequests(pod);
  requests.set('pods', 1000);
  for (const [name, amount] of requests) used.set(name, (used.get(name) ?? 0) + sign * amount);
}

/**
 * kube-scheduler's summary of a failed attempt: `0/4 nodes are available: 1 Insufficient cpu, 3 <reason>.`
 * Reasons are counted over nodes and listed in alphabetical order, as its FitError does.
 */
export function unschedulableMessage(nodeCount: number, reasonByNode: ReadonlyMap<string, string>): string {
  const counts = new Map<string, number>();
  for (const reason of reasonByNode.values()) counts.set(reason, (counts.get(reason) ?? 0) + 1);
  const parts = [...counts.entries()].map(([reason, count]) => `${count} ${reason}`).sort();
  return `0/${nodeCount} nodes are available: ${parts.length > 0 ? parts.join(', ') : 'no nodes'}.`;
}

/**
 * The node to bind to: the highest total score, ties broken by node name so that runs repeat (kube-scheduler
 * picks among ties at random). `feasible` is never empty.
 */
export function pickNode(feasible: readonly string[], scores: ReadonlyMap<string, number>): string {
  let best = feasible[0] as string;
  for (const name of feasible) {
    const score = scores.get(name) ?? 0;
    const bestScore = scores.get(best) ?? 0;
    if (score > bestScore || (score === bestScore && name < best)) best = name;
  }
  return best;
}
