/**
 * The mutating admission webhook (admission.k8s.io/v1 AdmissionReview) for pods that ask for Tessera's
 * resources: route them to our scheduler, fill in HAMi's defaults, refuse values no GPU can honour, drop
 * decision annotations a user tried to set (a forged decision must not reach the device plugin; it would also
 * fail signature verification there), and refuse a pod placed by hand (`spec.nodeName`), which would take devices
 * granted to another pod. On UPDATE, scheduler-owned annotations may be changed only by Tessera's own identities.
 * The review is a pure function of the request and the options.
 */
import { ajv, SCHEDULER_OWNED_POD_ANNOTATIONS, validationError } from '../../api/index.js';
import { TesseraError } from '../../errors.js';
import { parsePodRequest, parseQuantity, quantityInteger, reasonText, type RequestConfig } from '../../request/index.js';

export interface WebhookOptions {
  /** Resource names and defaults from the HAMi device config. */
  request: RequestConfig;
  /** Set on every GPU pod when given (the sidecar kube-scheduler's profile name). */
  schedulerName?: string;
  /** Users that may change scheduler-owned annotations (the extender's and device plugins' service accounts). */
  trustedUsers?: readonly string[];
}

/** Kubernetes' own scheduler: HAMi (forceOverwriteDefaultScheduler, on in its chart) takes its GPU pods over. */
const DEFAULT_SCHEDULER = 'default-scheduler';
/** HAMi-core's variable for the task priority (HAMi's util.TaskPriority). */
const TASK_PRIORITY_ENV = 'CUDA_TASK_PRIORITY';

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface AdmissionReviewReply {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

type PatchOp = { op: 'add' | 'replace' | 'remove'; path: string; value?: unknown };

const reviewSchema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'request'],
  properties: {
    apiVersion: { const: 'admission.k8s.io/v1' },
    kind: { const: 'AdmissionReview' },
    request: {
      type: 'object',
      required: ['uid', 'operation', 'object'],
      properties: {
        uid: { type: 'string', minLength: 1 },
        operation: { type: 'string' },
        object: { type: 'object' },
        oldObject: { type: ['object', 'null'] },
        userInfo: { type: 'object', properties: { username: { type: 'string' } } },
      },
    },
  },
} as const;
const checkReview = ajv.compile(reviewSchema);

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const recordAt = (parent: Json, key: string): Json => (isRecord(parent[key]) ? (parent[key] as Json) : {});
const pointer = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');

const containersOf = (spec: Json, key: string): Json[] => (Array.isArray(spec[key]) ? (spec[key] as unknown[]).map((c) => (isRecord(c) ? c : {})) : []);
const privileged = (container: Json): boolean => recordAt(container, 'securityContext').privileged === true;

/** HAMi-core reads the task priority from the environment: the limit's value is appended as HAMi does. */
function priorityEnv(container: Json, path: string, raw: unknown): PatchOp[] {
  if (raw === undefined || raw === null) return [];
  const quantity = typeof raw === 'string' || typeof raw === 'number' ? parseQuantity(String(raw)) : null;
  const value = quantity ? quantityInteger(quantity) : null;
  // A malformed value is refused below by the request parser, naming the field.
  if (value === null) return [];
  const env = { name: TASK_PRIORITY_ENV, value: String(value) };
  return Array.isArray(container.env) ? [{ op: 'add', path: `${path}/env/-`, value: env }] : [{ op: 'add', path: `${path}/env`, value: [env] }];
}

/**
 * The JSON Patch that admits `pod`, or a TesseraError naming the field that cannot be admitted. As HAMi's webhook
 * (pkg/scheduler/webhook.go): a pod meant for another scheduler is left alone, a privileged container in a GPU pod
 * is refused ("container X is privileged"), `nvidia.com/priority` becomes `CUDA_TASK_PRIORITY` in the container.
 */
export function admitPod(pod: Json, options: WebhookOptions): PatchOp[] {
  const names = options.request;
  const gpuResources = [names.resourceCountName, names.resourceMemoryName, names.resourceMemoryPercentageName, names.resourceCoreName, names.resourcePriorityName];
  const sharing = [names.resourceMemoryName, names.resourceMemoryPercentageName, names.resourceCoreName];
  const spec = recordAt(pod, 'spec');
  const requested = typeof spec.schedulerName === 'string' ? spec.schedulerName : '';
  if (requested !== '' && requested !== DEFAULT_SCHEDULER && requested !== options.schedulerName) return [];
  const ops: PatchOp[] = [];
  let asksForGpu = false;
  for (const key of ['initContainers', 'containers'] as const) {
    containersOf(spec, key).forEach((container, c) => {
      const resources = recordAt(container, 'resources');
      for (const kind of ['limits', 'requests'] as const) {
        const list = recordAt(resources, kind);
        if (!gpuResources.some((name) => name in list)) continue;
        asksForGpu = true;
        // kubelet hands out devices by the count resource, so the default count must be in the spec itself.
        if (sharing.some((name) => name in list) && !(names.resourceCountName in list)) {
          ops.push({ op: 'add', path: `/spec/${key}/${c}/resources/${kind}/${pointer(names.resourceCountName)}`, value: String(names.defaultGPUNum) });
        }
      }
      ops.push(...priorityEnv(container, `/spec/${key}/${c}`, recordAt(resources, 'limits')[names.resourcePriorityName]));
    });
  }
  if (!asksForGpu) return [];
  // A privileged container sees every GPU on the node, whatever it was granted.
  for (const key of ['initContainers', 'containers'] as const) {
    const index = containersOf(spec, key).findIndex(privileged);
    if (index >= 0) {
      const name = String(containersOf(spec, key)[index]?.name);
      throw new TesseraError('INVALID_REQUEST', `container ${name} is privileged`, { field: `spec.${key}[${index}].securityContext.privileged` });
    }
  }
  if (typeof spec.nodeName === 'string' && spec.nodeName !== '') {
    throw new TesseraError(
      'INVALID_REQUEST',
      `spec.nodeName is set to '${spec.nodeName}': a pod asking for ${names.resourceCountName} must be placed by the Tessera scheduler, which grants it devices; remove spec.nodeName (use a nodeSelector or node affinity to pick nodes)`,
      { field: 'spec.nodeName' },
    );
  }
  // At admission the pod has no uid yet (and maybe only generateName): stand-ins let the request parser run.
  const metadata = recordAt(pod, 'metadata');
  const parsed = parsePodRequest({ ...pod, metadata: { ...metadata, uid: 'admission', name: metadata.name ?? metadata.generateName ?? 'admission' } }, names);
  if (!parsed.ok) throw new TesseraError('INVALID_REQUEST', reasonText(parsed.error));

  const annotations = recordAt(metadata, 'annotations');
  for (const key of SCHEDULER_OWNED_POD_ANNOTATIONS) {
    if (key in annotations) ops.push({ op: 'remove', path: `/metadata/annotations/${pointer(key)}` });
  }
  if (options.schedulerName && spec.schedulerName !== options.schedulerName) {
    ops.push({ op: spec.schedulerName === undefined ? 'add' : 'replace', path: '/spec/schedulerName', value: options.schedulerName });
  }
  return ops;
}

/** Scheduler-owned annotations whose value differs between two versions of a pod (added, changed or removed). */
export function changedOwnedAnnotations(before: Json, after: Json): string[] {
  const old = recordAt(recordAt(before, 'metadata'), 'annotations');
  const now = recordAt(recordAt(after, 'metadata'), 'annotations');
  return SCHEDULER_OWNED_POD_ANNOTATIONS.filter((key) => old[key] !== now[key]);
}

/** Answers an AdmissionReview: allowed with a patch, or denied with the reason naming the field. */
export function reviewAdmission(body: unknown, options: WebhookOptions): AdmissionReviewReply {
  if (!checkReview(body)) throw validationError(checkReview.errors, 'AdmissionReview');
  const request = (body as { request: { uid: string; operation: string; object: unknown; oldObject?: unknown; userInfo?: { username?: string } } }).request;
  const reply = (response: Omit<AdmissionResponse, 'uid'>): AdmissionReviewReply => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, ...response } });
  if (request.operation === 'UPDATE') {
    // Grants, bind phases and releases are written by Tessera alone: a user who edits them could free or steal GPUs.
    const changed = changedOwnedAnnotations(isRecord(request.oldObject) ? request.oldObject : {}, request.object as Json);
    const user = request.userInfo?.username ?? '';
    if (changed.length === 0 || (options.trustedUsers ?? []).includes(user)) return reply({ allowed: true });
    return reply({
      allowed: false,
      status: { code: 403, message: `metadata.annotations: ${changed.join(', ')} may be changed only by the Tessera scheduler and device plugins, not by ${user || 'an unnamed user'}` },
    });
  }
  // Only creation is mutated: afterwards the scheduler itself writes the decision annotations.
  if (request.operation !== 'CREATE') return reply({ allowed: true });
  try {
    const ops = admitPod(request.object as Json, options);
    if (ops.length === 0) return reply({ allowed: true });
    return reply({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') });
  } catch (error) {
    if (!(error instanceof TesseraError)) throw error;
    return reply({ allowed: false, status: { code: 400, message: `${error.message} (${error.hint})` } });
  }
}
