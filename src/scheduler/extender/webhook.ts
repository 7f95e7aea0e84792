/**
 * The mutating admission webhook (admission.k8s.io/v1 AdmissionReview) for pods that ask for Tessera's
 * resources: route them to our scheduler, fill in HAMi's defaults, refuse values no GPU can honour, and drop
 * decision annotations a user tried to set (a forged decision must not reach the device plugin; it would also
 * fail signature verification there). The review is a pure function of the request and the options.
 */
import { SCHEDULER_OWNED_POD_ANNOTATIONS, USER_POD, NODE_MODES } from '../../api/annotations.js';
import { ajv, validationError } from '../../api/validate.js';
import { TesseraError } from '../../errors.js';
import { parseWirePod, type WirePod } from './wire.js';

/** Resource names and defaults, as the HAMi device config names them. */
export interface WebhookOptions {
  resources: { count: string; memory: string; memoryPercentage: string; cores: string; priority: string };
  defaultGpuNum: number;
  /** Set on every GPU pod when given (the sidecar kube-scheduler's profile name). */
  schedulerName?: string;
}

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
    request: { type: 'object', required: ['uid', 'operation', 'object'], properties: { uid: { type: 'string', minLength: 1 }, operation: { type: 'string' }, object: { type: 'object' } } },
  },
} as const;
const checkReview = ajv.compile(reviewSchema);

const POLICIES = ['binpack', 'spread'];
const pointer = (segment: string): string => segment.replace(/~/g, '~0').replace(/\//g, '~1');

/** Parses an integer quantity as HAMi reads it (plain decimal; numbers as JSON numbers too). */
function integerQuantity(value: string | number, field: string, min: number, max: number): number {
  const text = String(value).trim();
  if (!/^\d{1,9}$/.test(text)) throw new TesseraError('INVALID_REQUEST', `must be a whole number, got '${value}'`, { field });
  const n = Number(text);
  if (n < min || n > max) throw new TesseraError('INVALID_REQUEST', `must be between ${min} and ${max}, got ${n}`, { field });
  return n;
}

/** The JSON Patch that admits `pod`, or a TesseraError naming the field that cannot be admitted. */
export function admitPod(pod: WirePod, options: WebhookOptions): PatchOp[] {
  const names = options.resources;
  const ranges: Array<[string, number, number]> = [
    [names.count, 1, 64],
    [names.memory, 1, 10_000_000],
    [names.memoryPercentage, 1, 100],
    [names.cores, 0, 100],
    [names.priority, 0, 1],
  ];
  const ops: PatchOp[] = [];
  let asksForGpu = false;
  pod.spec.containers.forEach((container, c) => {
    for (const kind of ['limits', 'requests'] as const) {
      const list = container.resources?.[kind];
      if (!list) continue;
      for (const [name, min, max] of ranges) {
        const value = list[name];
        if (value === undefined) continue;
        asksForGpu = true;
        integerQuantity(value, `spec.containers[${c}].resources.${kind}.${name}`, min, max);
      }
      const sharesGpu = [names.memory, names.memoryPercentage, names.cores].some((n) => list[n] !== undefined);
      if (sharesGpu && list[names.count] === undefined) {
        ops.push({ op: 'add', path: `/spec/containers/${c}/resources/${kind}/${pointer(names.count)}`, value: String(options.defaultGpuNum) });
      }
    }
  });
  if (!asksForGpu) return [];

  const annotations = pod.metadata.annotations ?? {};
  const mode = annotations[USER_POD.vgpuMode];
  if (mode !== undefined && !(NODE_MODES as readonly string[]).includes(mode)) {
    throw new TesseraError('INVALID_REQUEST', `must be one of ${NODE_MODES.join(', ')}, got '${mode}'`, { field: `metadata.annotations.${USER_POD.vgpuMode}` });
  }
  for (const key of [USER_POD.nodeSchedulerPolicy, USER_POD.gpuSchedulerPolicy]) {
    const policy = annotations[key];
    if (policy !== undefined && !POLICIES.includes(policy)) {
      throw new TesseraError('INVALID_REQUEST', `must be one of ${POLICIES.join(', ')}, got '${policy}'`, { field: `metadata.annotations.${key}` });
    }
  }
  for (const key of SCHEDULER_OWNED_POD_ANNOTATIONS) {
    if (key in annotations) ops.push({ op: 'remove', path: `/metadata/annotations/${pointer(key)}` });
  }
  if (options.schedulerName && pod.spec.schedulerName !== options.schedulerName) {
    ops.push({ op: pod.spec.schedulerName === undefined ? 'add' : 'replace', path: '/spec/schedulerName', value: options.schedulerName });
  }
  return ops;
}

/** Answers an AdmissionReview: allowed with a patch, or denied with the reason naming the field. */
export function reviewAdmission(body: unknown, options: WebhookOptions): AdmissionReviewReply {
  if (!checkReview(body)) throw validationError(checkReview.errors, 'AdmissionReview');
  const request = (body as { request: { uid: string; operation: string; object: unknown } }).request;
  const reply = (response: Omit<AdmissionResponse, 'uid'>): AdmissionReviewReply => ({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: request.uid, ...response } });
  // Only creation is mutated: afterwards the scheduler itself writes the decision annotations.
  if (request.operation !== 'CREATE') return reply({ allowed: true });
  try {
    const ops = admitPod(parseWirePod(request.object, 'request.object'), options);
    if (ops.length === 0) return reply({ allowed: true });
    return reply({ allowed: true, patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(ops)).toString('base64') });
  } catch (error) {
    if (!(error instanceof TesseraError)) throw error;
    return reply({ allowed: false, status: { code: 400, message: `${error.message} (${error.hint})` } });
  }
}
