/**
 * Mutating admission, as kube-apiserver's MutatingAdmissionWebhook plugin does it: every write is matched against
 * the stored MutatingWebhookConfigurations (in name order, webhooks in their order; rules, namespaceSelector,
 * objectSelector), each match is called with an admission.k8s.io/v1 AdmissionReview over HTTPS (its caBundle
 * trusted, its timeoutSeconds kept), and the JSONPatch it returns is applied before the next webhook sees the
 * object. A denial or a failed call (failurePolicy Fail) refuses the write in kube-apiserver's words.
 * Not done: matchConditions (CEL), reinvocationPolicy IfNeeded, clientConfig.service (no cluster DNS here).
 */
import { randomUUID } from 'node:crypto';
import { request as httpsRequest } from 'node:https';
import type { Logger } from 'pino';
import type { KubeObject } from './objects.js';
import { applyPatch } from './patch.js';
import { apiVersionOf, isBindingType, type ResourceType } from './resources.js';
import { KubeStatusError, badRequest, type StatusReason } from './status.js';
import type { Store } from './store.js';
import { collectReplyBody } from '../kube/index.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE';

/** The one identity the embedded server knows: every holder of its token (the kubeconfig's user `tessera`). */
export const EMBEDDED_USER = { username: 'tessera', groups: ['system:masters', 'system:authenticated'] } as const;

export interface AdmissionAttributes {
  operation: Operation;
  type: ResourceType;
  subresource: string | undefined;
  namespace: string | undefined;
  name: string;
  /** The object being written (CREATE, UPDATE); null for DELETE. */
  object: KubeObject | null;
  /** The stored object (UPDATE, DELETE). */
  oldObject: KubeObject | null;
  dryRun: boolean;
}

interface Rule {
  operations?: string[];
  apiGroups?: string[];
  apiVersions?: string[];
  resources?: string[];
  scope?: string;
}

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Requirement[];
}

interface Webhook {
  name: string;
  clientConfig?: { url?: string; caBundle?: string; service?: { name?: string; namespace?: string; path?: string; port?: number } };
  rules?: Rule[];
  failurePolicy?: string;
  sideEffects?: string;
  timeoutSeconds?: number;
  namespaceSelector?: unknown;
  objectSelector?: unknown;
  admissionReviewVersions?: string[];
}

const TYPE = 'mutatingwebhookconfigurations.admissionregistration.k8s.io';
const ADMITTED_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete']);
/** kube-apiserver's default and largest timeoutSeconds. */
const DEFAULT_TIMEOUT_SECONDS = 10;
const MAX_TIMEOUT_SECONDS = 30;
/** A webhook's reply is bounded as a request body is (3 MiB). */
const MAX_REPLY_BYTES = 3 * 1024 * 1024;

const asArray = <T>(value: unknown): T[] => (Array.isArray(value) ? (value as T[]) : []);
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A LabelSelector object (matchLabels, matchExpressions) against labels; an absent or empty one matches all. A
 * malformed one (kube-apiserver would have refused it on create) throws, naming what is wrong.
 */
export function selectorMatches(selector: unknown, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined || selector === null) return true;
  if (!isRecord(selector)) throw new Error('must be an object');
  const { matchLabels = {}, matchExpressions = [] } = selector as Selector;
  if (!isRecord(matchLabels)) throw new Error('matchLabels must be an object');
  if (!Array.isArray(matchExpressions)) throw new Error('matchExpressions must be a list');
  for (const [key, value] of Object.entries(matchLabels)) if (labels[key] !== value) return false;
  for (const r of matchExpressions as unknown[]) {
    if (!isRecord(r) || typeof r.key !== 'string') throw new Error('each matchExpressions entry needs a key');
    const { key, operator } = r as unknown as Requirement;
    const values = asArray<string>(r.values);
    const has = Object.hasOwn(labels, key);
    const ok =
      operator === 'In'
        ? has && values.includes(labels[key]!)
        : operator === 'NotIn'
          ? !has || !values.includes(labels[key]!)
          : operator === 'Exists'
            ? has
            : operator === 'DoesNotExist'
              ? !has
              : undefined;
    if (ok === undefined) throw new Error(`operator "${String(operator)}" is not In, NotIn, Exists or DoesNotExist`);
    if (!ok) return false;
  }
  return true;
}

/** One rule against a request: `*` everywhere, `pods` (no subresource), `pods/*`, `*\/status`, `*\/*`; and scope. */
export function ruleMatches(rule: Rule, attributes: Pick<AdmissionAttributes, 'operation' | 'type' | 'subresource'>): boolean {
  const { type, subresource } = attributes;
  const has = (list: unknown, value: string): boolean => asArray<unknown>(list).some((item) => item === '*' || item === value);
  if (!has(rule.operations, attributes.operation) || !has(rule.apiGroups, type.group) || !has(rule.apiVersions, type.version)) return false;
  const scope = rule.scope ?? '*';
  if ((scope === 'Cluster' && type.namespaced) || (scope === 'Namespaced' && !type.namespaced)) return false;
  return asArray<unknown>(rule.resources).some((entry) => {
    if (typeof entry !== 'string') return false;
    const [resource = '', sub] = entry.split('/', 2);
    if (resource !== '*' && resource !== type.plural) return false;
    if (sub === undefined) return subresource === undefined;
    return sub === '*' || sub === subresource;
  });
}

export class Admission {
  constructor(
    private readonly store: Store,
    private readonly log: Logger,
  ) {}

  /**
   * Whether a write goes through admission: creates, updates, patches and deletes of objects and their status,
   * while any webhook is configured (without one, writes take the synchronous path). Bindings and scale are left
   * out, and webhook configurations themselves, so a bad one cannot lock itself in (kube-apiserver exempts them).
   */
  applies(verb: string, route: { type: ResourceType; subresource: string | undefined }): boolean {
    if (!ADMITTED_VERBS.has(verb) || isBindingType(route.type) || route.type.group === 'admissionregistration.k8s.io') return false;
    if (route.subresource !== undefined && route.subresource !== 'status') return false;
    return this.store.list(TYPE).items.length > 0;
  }

  /** Runs the mutating webhooks for one write; resolves to the object to store (the patched one). */
  async admit<T extends KubeObject | null>(attributes: AdmissionAttributes & { object: T }): Promise<T> {
    const configurations = [...this.store.list(TYPE).items].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
    let object: KubeObject | null = attributes.object;
    for (const configuration of configurations) {
      for (const webhook of asArray<Webhook>(configuration.webhooks)) {
        if (!isRecord(webhook) || typeof webhook.name !== 'string') continue;
        const current = { ...attributes, object };
        if (!this.matches(webhook, current)) continue;
        object = await this.call(webhook, current);
      }
    }
    return object as T;
  }

  private matches(webhook: Webhook, attributes: AdmissionAttributes): boolean {
    if (!asArray<Rule>(webhook.rules).some((rule) => isRecord(rule) && ruleMatches(rule, attributes))) return false;
    const selected = (field: 'objectSelector' | 'namespaceSelector', labels: Record<string, string>): boolean => {
      try {
        return selectorMatches(webhook[field], labels);
      } catch (error) {
        // Fail closed: a webhook whose scope cannot be read might be one that must see this write.
        throw new KubeStatusError(500, 'InternalError', `Internal error occurred: admission webhook "${webhook.name}" has an invalid ${field}: ${(error as Error).message}`);
      }
    };
    // The object selector matches when the new or the old object matches, as kube-apiserver's does.
    const objects = [attributes.object, attributes.oldObject].filter((o): o is KubeObject => o !== null);
    if (!objects.some((o) => selected('objectSelector', o.metadata.labels ?? {}))) return false;
    const namespaceLabels = this.namespaceLabels(attributes);
    // Cluster-scoped objects other than Namespaces are never excluded by a namespaceSelector.
    return namespaceLabels === undefined || selected('namespaceSelector', namespaceLabels);
  }

  /** The labels the namespaceSelector sees: the namespace's own (plus kubernetes.io/metadata.name, always set). */
  private namespaceLabels(attributes: AdmissionAttributes): Record<string, string> | undefined {
    const { type, namespace, name } = attributes;
    const isNamespace = type.group === '' && type.plural === 'namespaces';
    const nsName = isNamespace ? name : type.namespaced ? namespace : undefined;
    if (nsName === undefined) return undefined;
    const labels = isNamespace ? (attributes.object ?? attributes.oldObject)?.metadata.labels : this.storedNamespaceLabels(nsName);
    return { ...labels, 'kubernetes.io/metadata.name': nsName };
  }

  private storedNamespaceLabels(name: string): Record<string, string> | undefined {
    try {
      return this.store.get('namespaces', undefined, name).metadata.labels;
    } catch {
      // A write into a namespace that does not exist is refused by the store after admission.
      return undefined;
    }
  }

  private async call(webhook: Webhook, attributes: AdmissionAttributes): Promise<KubeObject | null> {
    const failClosed = webhook.failurePolicy !== 'Ignore';
    if (attributes.dryRun && webhook.sideEffects !== 'None' && webhook.sideEffects !== 'NoneOnDryRun') {
      throw badRequest(`admission webhook "${webhook.name}" does not support dry run`);
    }
    const uid = randomUUID();
    const { type, subresource } = attributes;
    const gvk = { group: type.group, version: type.version, kind: type.kind };
    const gvr = { group: type.group, version: type.version, resource: type.plural };
    const review = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid,
        kind: gvk,
        resource: gvr,
        ...(subresource ? { subResource: subresource } : {}),
        requestKind: gvk,
        requestResource: gvr,
        ...(subresource ? { requestSubResource: subresource } : {}),
        name: attributes.name,
        ...(attributes.namespace ? { namespace: attributes.namespace } : {}),
        operation: attributes.operation,
        userInfo: { username: EMBEDDED_USER.username, groups: [...EMBEDDED_USER.groups] },
        object: attributes.object,
        oldObject: attributes.oldObject,
        dryRun: attributes.dryRun,
        options: { apiVersion: 'meta.k8s.io/v1', kind: attributes.operation === 'CREATE' ? 'CreateOptions' : attributes.operation === 'UPDATE' ? 'UpdateOptions' : 'DeleteOptions' },
      },
    };
    let response: Record<string, unknown>;
    try {
      response = parseReply(await post(webhook, JSON.stringify(review)), uid);
    } catch (error) {
      const message = `failed calling webhook "${webhook.name}": ${(error as Error).message}`;
      if (!failClosed) {
        this.log.warn({ webhook: webhook.name, err: error }, 'admission webhook failed; ignored (failurePolicy Ignore)');
        return attributes.object;
      }
      throw new KubeStatusError(500, 'InternalError', `Internal error occurred: ${message}`);
    }
    if (response.allowed !== true) throw denied(webhook.name, response.status);
    if (response.patch === undefined || attributes.object === null) return attributes.object;
    if (response.patchType !== 'JSONPatch') {
      throw new KubeStatusError(500, 'InternalError', `Internal error occurred: failed calling webhook "${webhook.name}": unsupported patch type "${String(response.patchType)}"`);
    }
    let ops: unknown;
    try {
      ops = JSON.parse(Buffer.from(String(response.patch), 'base64').toString('utf8'));
    } catch (cause) {
      throw new KubeStatusError(500, 'InternalError', `Internal error occurred: failed calling webhook "${webhook.name}": the patch is not base64 JSON (${(cause as Error).message})`);
    }
    let patched: KubeObject;
    try {
      patched = applyPatch(structuredClone(attributes.object), 'json', ops);
    } catch (cause) {
      // The webhook's fault, not the client's: kube-apiserver answers an internal error.
      throw new KubeStatusError(500, 'InternalError', `Internal error occurred: admission webhook "${webhook.name}" returned a patch that cannot be applied: ${(cause as Error).message}`);
    }
    if (!isRecord(patched) || !isRecord(patched.metadata))
      throw new KubeStatusError(500, 'InternalError', `Internal error occurred: admission webhook "${webhook.name}" returned a patch that removes the object's metadata`);
    if (patched.apiVersion !== undefined && patched.apiVersion !== apiVersionOf(type)) throw badRequest(`admission webhook "${webhook.name}" changed the object's apiVersion`);
    return patched;
  }
}

/** kube-apiserver's ToStatusErr: a denial keeps the webhook's code (at least 400) and reason, its message prefixed. */
function denied(name: string, status: unknown): KubeStatusError {
  const s = isRecord(status) ? status : {};
  const code = typeof s.code === 'number' && s.code >= 400 && s.code <= 599 ? s.code : 400;
  const reason = typeof s.reason === 'string' ? s.reason : '';
  const message = typeof s.message === 'string' ? s.message : '';
  const deniedBy = `admission webhook "${name}" denied the request`;
  const text = message ? `${deniedBy}: ${message}` : reason ? `${deniedBy}: ${reason}` : `${deniedBy} without explanation`;
  // The webhook's own reason word passes through verbatim, as kube-apiserver passes it.
  return new KubeStatusError(code, reason as StatusReason, text);
}

function parseReply(text: string, uid: string): Record<string, unknown> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error('the reply is not JSON');
  }
  if (!isRecord(body) || body.apiVersion !== 'admission.k8s.io/v1' || body.kind !== 'AdmissionReview') throw new Error('expected an admission.k8s.io/v1 AdmissionReview in the reply');
  const response = body.response;
  if (!isRecord(response)) throw new Error('the AdmissionReview has no response');
  if (response.uid !== uid) throw new Error(`expected response.uid="${uid}", got "${String(response.uid)}"`);
  if (typeof response.allowed !== 'boolean') throw new Error('response.allowed must be a boolean');
  return response;
}

function webhookUrl(webhook: Webhook): URL {
  const config = webhook.clientConfig ?? {};
  if (typeof config.url !== 'string') {
    const service = config.service;
    if (service?.name)
      throw new Error(`clientConfig.service ${service.namespace ?? 'default'}/${service.name} cannot be reached: the embedded API server has no cluster network; use clientConfig.url`);
    throw new Error('clientConfig names neither url nor service');
  }
  const url = new URL(config.url);
  if (url.protocol !== 'https:') throw new Error(`clientConfig.url must use https (${config.url})`);
  return url;
}

function post(webhook: Webhook, body: string): Promise<string> {
  const url = webhookUrl(webhook);
  const asked = webhook.timeoutSeconds;
  const seconds = typeof asked === 'number' && Number.isFinite(asked) ? Math.min(MAX_TIMEOUT_SECONDS, Math.max(1, Math.floor(asked))) : DEFAULT_TIMEOUT_SECONDS;
  const bundle = webhook.clientConfig?.caBundle;
  const ca = typeof bundle === 'string' && bundle !== '' ? Buffer.from(bundle, 'base64').toString('utf8') : undefined;
  // Go's http client names the request this way; the caller adds the webhook's name.
  const where = `Post "${url.href}?timeout=${seconds}s"`;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method: 'POST', ...(ca ? { ca } : {}), headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'Content-Length': Buffer.byteLength(body) }, timeout: seconds * 1000 },
      (res) =>
        collectReplyBody(req, res, MAX_REPLY_BYTES, (text) => {
          if (res.statusCode === 200) resolve(text);
          else reject(new Error(`failed to call webhook: ${where}: the server answered ${res.statusCode}: ${text.slice(0, 200)}`));
        }),
    );
    req.on('timeout', () => req.destroy(new Error('context deadline exceeded')));
    req.on('error', (error) => reject(new Error(`failed to call webhook: ${where}: ${error.message}`)));
    req.end(body);
  });
}
