/**
 * kube-scheduler's side of the extender protocol (k8s.io/kube-scheduler/extender/v1), as its HTTPExtender speaks
 * it: PascalCase bodies, `NodeNames` only when the extender is nodeCacheCapable, any non-200 status an error, a
 * timeout of `httpTimeout`. Replies are decoded the way Go would (field names in any case) and validated.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { ajv, validationError } from '../api/index.js';
import { TesseraError } from '../errors.js';
import type { ExtenderSettings, ExtenderTls } from './scheduler-config.js';
import { collectReplyBody } from '../kube/index.js';

/** kube-scheduler's MaxExtenderPriority and MaxNodeScore: extender scores 0..10 are scaled to 0..100 x weight. */
export const MAX_EXTENDER_PRIORITY = 10;
export const MAX_NODE_SCORE = 100;

export interface FilterResult {
  /** Nodes that passed, in the order the extender answered. */
  feasible: string[];
  /** Node -> reason, for nodes preemption could help. */
  failed: Record<string, string>;
  /** Node -> reason, for nodes nothing would help. */
  unresolvable: Record<string, string>;
}

const reasons = { anyOf: [{ type: 'null' }, { type: 'object', additionalProperties: { type: 'string' } }] } as const;
const nodeNames = { anyOf: [{ type: 'null' }, { type: 'array', items: { type: 'string' } }] } as const;
const filterReplySchema = {
  type: 'object',
  properties: {
    nodes: {
      anyOf: [
        { type: 'null' },
        {
          type: 'object',
          properties: {
            items: {
              anyOf: [
                { type: 'null' },
                { type: 'array', items: { type: 'object', required: ['metadata'], properties: { metadata: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } } },
              ],
            },
          },
        },
      ],
    },
    nodenames: nodeNames,
    failednodes: reasons,
    failedandunresolvablenodes: reasons,
    error: { type: 'string' },
  },
} as const;
const hostScoresSchema = {
  anyOf: [
    { type: 'null' },
    {
      type: 'array',
      items: { type: 'object', required: ['host', 'score'], properties: { host: { type: 'string', minLength: 1 }, score: { type: 'integer' } } },
    },
  ],
} as const;
const bindReplySchema = { type: 'object', properties: { error: { type: 'string' } } } as const;

const checkFilterReply = ajv.compile(filterReplySchema);
const checkHostScores = ajv.compile(hostScoresSchema);
const checkBindReply = ajv.compile(bindReplySchema);

/** Go's encoding/json matches field names case-insensitively; so do we, one level deep at a time. */
function lowerKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(lowerKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Largest extender reply read (kube-scheduler reads whatever comes; a bound keeps a broken one from filling memory). */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

/** One POST over HTTP or HTTPS (verified as the extender's tlsConfig says), ended after `timeoutMs`. */
function postJson(url: string, body: string, timeoutMs: number, tls: ExtenderTls | undefined): Promise<{ status: number; text: string }> {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const tlsOptions =
    secure && tls
      ? { rejectUnauthorized: !tls.insecure, ...(tls.serverName ? { servername: tls.serverName } : {}), ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert, key: tls.key } : {}) }
      : {};
  return new Promise((resolve, reject) => {
    const req = (secure ? httpsRequest : httpRequest)(target, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }, ...tlsOptions }, (res) => {
      collectReplyBody(req, res, MAX_REPLY_BYTES, (text) => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, text });
      });
      res.on('error', reject);
    });
    // httpTimeout bounds the whole exchange, as Go's http.Client.Timeout does.
    const timer = setTimeout(() => req.destroy(new Error(`no reply within ${timeoutMs} ms (httpTimeout)`)), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}

export class ExtenderClient {
  constructor(private readonly settings: ExtenderSettings) {}

  /** Whether the pod asks for a resource the extender manages (kube-scheduler's IsInterested). */
  isInterested(pod: V1Pod): boolean {
    const managed = new Set(this.settings.managedResources.map((r) => r.name));
    if (managed.size === 0) return true;
    const containers = [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])];
    return containers.some((c) => [...Object.keys(c.resources?.requests ?? {}), ...Object.keys(c.resources?.limits ?? {})].some((name) => managed.has(name)));
  }

  get isBinder(): boolean {
    return this.settings.bindVerb !== '';
  }

  get weight(): number {
    return this.settings.weight;
  }

  get ignorable(): boolean {
    return this.settings.ignorable;
  }

  private async post(verb: string, body: unknown): Promise<unknown> {
    const url = `${this.settings.urlPrefix.replace(/\/$/, '')}/${verb}`;
    let reply: { status: number; text: string };
    try {
      reply = await postJson(url, JSON.stringify(body), this.settings.httpTimeoutMs, this.settings.tls);
    } catch (cause) {
      throw new TesseraError('UNAVAILABLE', `extender ${verb} at ${url} failed: ${(cause as Error).message}`, { field: verb, cause });
    }
    if (reply.status !== 200) throw new TesseraError('UNAVAILABLE', `extender ${verb} answered HTTP ${reply.status}: ${reply.text.slice(0, 200)}`, { field: verb });
    try {
      return lowerKeys(JSON.parse(reply.text));
    } catch (cause) {
      throw new TesseraError('INVALID_INPUT', `extender ${verb} reply is not JSON`, { field: verb, cause });
    }
  }

  /** ExtenderArgs: names only for a nodeCacheCapable extender, the Node objects otherwise. */
  private args(pod: V1Pod, nodes: readonly V1Node[]): unknown {
    return this.settings.nodeCacheCapable ? { Pod: pod, Nodes: null, NodeNames: nodes.map((n) => n.metadata?.name ?? '') } : { Pod: pod, Nodes: { metadata: {}, items: nodes }, NodeNames: null };
  }

  /** Filter; an `Error` in the reply or a node that was not offered fails the attempt, as in kube-scheduler. */
  async filter(pod: V1Pod, nodes: readonly V1Node[]): Promise<FilterResult> {
    if (!this.settings.filterVerb) return { feasible: nodes.map((n) => n.metadata?.name ?? ''), failed: {}, unresolvable: {} };
    const reply = await this.post(this.settings.filterVerb, this.args(pod, nodes));
    if (!checkFilterReply(reply)) throw validationError(checkFilterReply.errors, 'ExtenderFilterResult');
    const body = reply as {
      nodes?: { items?: V1Node[] | null } | null;
      nodenames?: string[] | null;
      failednodes?: Record<string, string> | null;
      failedandunresolvablenodes?: Record<string, string> | null;
      error?: string;
    };
    if (body.error) throw new TesseraError('UNAVAILABLE', body.error, { field: 'ExtenderFilterResult.Error' });
    const feasible = this.settings.nodeCacheCapable ? (body.nodenames ?? []) : (body.nodes?.items ?? []).map((n) => n.metadata?.name ?? '');
    const offered = new Set(nodes.map((n) => n.metadata?.name));
    const stranger = feasible.find((name) => !offered.has(name));
    if (stranger !== undefined) throw new TesseraError('INVALID_INPUT', `names node '${stranger}', which was not offered`, { field: 'ExtenderFilterResult.NodeNames' });
    return { feasible, failed: body.failednodes ?? {}, unresolvable: body.failedandunresolvablenodes ?? {} };
  }

  /** Prioritize: node -> score already scaled as kube-scheduler adds it (score x weight x MaxNodeScore/10). */
  async prioritize(pod: V1Pod, nodes: readonly V1Node[]): Promise<Map<string, number>> {
    if (!this.settings.prioritizeVerb) return new Map();
    const reply = await this.post(this.settings.prioritizeVerb, this.args(pod, nodes));
    if (!checkHostScores(reply)) throw validationError(checkHostScores.errors, 'HostPriorityList');
    const scale = this.settings.weight * (MAX_NODE_SCORE / MAX_EXTENDER_PRIORITY);
    return new Map(((reply ?? []) as Array<{ host: string; score: number }>).map((h) => [h.host, h.score * scale]));
  }

  /** Bind; resolves once the extender reports the pod bound, rejects with its `Error`. */
  async bind(pod: V1Pod, node: string): Promise<void> {
    const metadata = pod.metadata ?? {};
    const reply = await this.post(this.settings.bindVerb, { PodName: metadata.name, PodNamespace: metadata.namespace ?? 'default', PodUID: metadata.uid, Node: node });
    if (!checkBindReply(reply)) throw validationError(checkBindReply.errors, 'ExtenderBindingResult');
    const error = (reply as { error?: string }).error;
    if (error) throw new TesseraError('UNAVAILABLE', error, { field: 'ExtenderBindingResult.Error' });
  }
}
