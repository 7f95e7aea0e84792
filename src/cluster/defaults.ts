/**
 * What kube-apiserver fills in on a pod a client did not: the v1 defaults applied at decode
 * (k8s.io/kubernetes pkg/apis/core/v1/defaults.go), the Priority admission plugin's priority, and the QoS class
 * the pod strategy records on create (pkg/apis/core/helper/qos). Clients and schedulers read these fields (a
 * graceful delete takes its grace from terminationGracePeriodSeconds, a scheduler picks pods by schedulerName), so
 * the embedded server writes them as the real one does. Objects are changed in place: callers pass their own copy.
 * Pure.
 */
import type { KubeObject } from './objects.js';
import { quantityNanos } from './quantity.js';
import type { ResourceType } from './resources.js';

type Json = Record<string, unknown>;

const isMap = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value);

const isPods = (type: ResourceType): boolean => type.group === '' && type.plural === 'pods';

/** kube's DefaultTerminationGracePeriodSeconds. */
const DEFAULT_TERMINATION_GRACE_SECONDS = 30;

/** The priorities of the PriorityClasses every cluster has (the embedded server serves no PriorityClass objects). */
const SYSTEM_PRIORITIES: Record<string, number> = { 'system-node-critical': 2_000_001_000, 'system-cluster-critical': 2_000_000_000 };

/** The v1 defaults of a pod, applied on every decode (create, update and the result of a patch). */
export function applyDefaults(type: ResourceType, object: KubeObject): void {
  if (!isPods(type) || !isMap(object.spec)) return;
  const spec = object.spec;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.restartPolicy ??= 'Always';
  spec.securityContext ??= {};
  spec.terminationGracePeriodSeconds ??= DEFAULT_TERMINATION_GRACE_SECONDS;
  spec.schedulerName ??= 'default-scheduler';
  spec.enableServiceLinks ??= true;
  for (const group of ['initContainers', 'containers', 'ephemeralContainers']) {
    const containers = spec[group];
    if (!Array.isArray(containers)) continue;
    for (const container of containers) {
      if (!isMap(container)) continue;
      defaultContainer(container);
      // SetDefaults_Pod: a resource with a limit and no request is requested at its limit (not ephemeral ones).
      if (group !== 'ephemeralContainers' && isMap(container.resources) && isMap(container.resources.limits)) {
        const requests = isMap(container.resources.requests) ? container.resources.requests : {};
        for (const [name, limit] of Object.entries(container.resources.limits)) if (!(name in requests)) requests[name] = limit;
        container.resources.requests = requests;
      }
    }
  }
}

function defaultContainer(container: Json): void {
  container.imagePullPolicy ??= imageTag(typeof container.image === 'string' ? container.image : '') === 'latest' ? 'Always' : 'IfNotPresent';
  container.terminationMessagePath ??= '/dev/termination-log';
  container.terminationMessagePolicy ??= 'File';
  if (Array.isArray(container.ports)) for (const port of container.ports) if (isMap(port)) port.protocol ??= 'TCP';
}

/** The tag ParseImageName finds: the one written, else `latest` unless the image is pinned by digest. */
function imageTag(image: string): string {
  const [named, digest] = image.split('@');
  const lastSlash = named!.lastIndexOf('/');
  const colon = named!.lastIndexOf(':');
  if (colon > lastSlash) return named!.slice(colon + 1);
  return digest === undefined ? 'latest' : '';
}

/** What create adds besides the decode defaults: the Priority admission plugin's priority and the pod's status. */
export function applyCreateDefaults(type: ResourceType, object: KubeObject): void {
  if (!isPods(type)) return;
  const spec = isMap(object.spec) ? object.spec : {};
  const className = typeof spec.priorityClassName === 'string' ? spec.priorityClassName : '';
  // No PriorityClass objects are served: the system classes get their fixed priority, the rest keep what was sent.
  if (className === '') spec.priority ??= 0;
  else if (className in SYSTEM_PRIORITIES) spec.priority ??= SYSTEM_PRIORITIES[className];
  spec.preemptionPolicy ??= 'PreemptLowerPriority';
  // A new pod's status belongs to the scheduler and the kubelet: whatever the client sent is replaced.
  object.status = { phase: 'Pending', qosClass: qosClass(spec) };
}

/** GetPodQOS: only cpu and memory count; Guaranteed needs both limited in every container and requests equal to limits. */
function qosClass(spec: Json): 'Guaranteed' | 'Burstable' | 'BestEffort' {
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  const containers = [spec.initContainers, spec.containers].flatMap((group) => (Array.isArray(group) ? group : []));
  for (const container of containers) {
    const resources = isMap(container) && isMap(container.resources) ? container.resources : {};
    const limited = new Set<string>();
    for (const [list, totals] of [
      [resources.requests, requests],
      [resources.limits, limits],
    ] as const) {
      if (!isMap(list)) continue;
      for (const name of ['cpu', 'memory']) {
        const value = quantityNanos(list[name]);
        if (value === undefined || value <= 0n) continue;
        totals.set(name, (totals.get(name) ?? 0n) + value);
        if (totals === limits) limited.add(name);
      }
    }
    if (limited.size < 2) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return 'BestEffort';
  if (guaranteed && [...requests].every(([name, value]) => limits.get(name) === value) && requests.size === limits.size) return 'Guaranteed';
  return 'Burstable';
}
