/**
 * The HTTP face of the embedded cluster: Kubernetes REST paths to store operations. Fastify parses and routes;
 * watches hijack the reply and stream chunked JSON lines on the raw response, because a watch is one open
 * response written over time, not one payload.
 */
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Server as RawServer, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { Admission } from './admission.js';
import type { Binding } from './binding.js';
import type { Faults, Verb } from './faults.js';
import { dualProtocolServer } from './listener.js';
import { applyPatch } from './patch.js';
import { apiVersionOf, isBindingType, type ResourceType } from './resources.js';
import { route } from './routes.js';
import { scaleOf, withScale } from './scale.js';
import { toTable, wantsTable } from './table.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import type { DeleteOptions, DeleteResult, KubeObject, Store } from './store.js';
import { KubeStatusError, failureStatus, successStatus, type StatusBody } from './status.js';
import { DEFAULT_MAX_JSON_DEPTH, booleanParam, checkListOptions, decodeDeleteOptions, decodeObjectBody, decodePatchBody, integerParam, isDryRun, listJson, watchLine, watchStart } from './wire.js';
import { objectJson } from './objects.js';

export interface ServerLimits {
  /** Largest request body accepted (default 3 MiB, kube-apiserver's); larger ones get 413. */
  maxRequestBytes: number;
  /** Deepest nesting of arrays and objects in a body (default 1,000); deeper ones get 400. */
  maxJsonDepth: number;
}

export interface ApiServerOptions extends Partial<ServerLimits> {
  store: Store;
  faults: Faults;
  log: Logger;
  /** The bearer token every request but the anonymous health and version endpoints must carry. */
  token: string;
  /** The serving certificate and key (PEM): HTTPS for everyone, plain HTTP from loopback peers only. */
  tls: { cert: string; key: string };
  /** Resolves once every committed write is on disk; a write is acknowledged only after it. */
  durable?: () => Promise<void>;
  /** How often a watch that asked for bookmarks gets one. */
  bookmarkIntervalMs?: number;
}

/** kube-apiserver's default request body limit. */
export const DEFAULT_MAX_REQUEST_BYTES = 3 * 1024 * 1024;

/** What kube-apiserver's system:public-info-viewer role lets anyone read. */
const ANONYMOUS_PATHS = new Set(['/healthz', '/livez', '/readyz', '/version', '/version/']);

const WRITES: ReadonlySet<Verb> = new Set<Verb>(['create', 'update', 'patch', 'delete', 'deletecollection']);

type ResourceRoute = Extract<ReturnType<typeof route>, { kind: 'resource' }>;

interface Request {
  route: ResourceRoute;
  query: URLSearchParams;
  contentType: string | undefined;
  /** Server-side printing asked for (kubectl's `as=Table`). */
  table: boolean;
  body: Buffer | undefined;
}

type Answer = { code: number; json: string } | { watch: true };

export class ApiServer {
  readonly app: FastifyInstance;
  private readonly watches = new Set<{ end(abrupt: boolean): void }>();
  private readonly sockets = new Set<Socket>();
  private closing = false;
  private readonly graceTimers = new Set<NodeJS.Timeout>();
  private readonly store: Store;
  private readonly faults: Faults;
  private readonly log: Logger;
  private readonly bookmarkIntervalMs: number;
  private readonly tokenDigest: Buffer;
  private readonly durable: () => Promise<void>;
  private readonly maxJsonDepth: number;
  private readonly admission: Admission;

  constructor(options: ApiServerOptions) {
    this.store = options.store;
    this.faults = options.faults;
    this.log = options.log;
    this.bookmarkIntervalMs = options.bookmarkIntervalMs ?? 1000;
    this.tokenDigest = digest(options.token);
    this.durable = options.durable ?? (() => Promise.resolve());
    this.maxJsonDepth = options.maxJsonDepth ?? DEFAULT_MAX_JSON_DEPTH;
    this.admission = new Admission(this.store, this.log);
    const maxRequestBytes = options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES;
    this.app = Fastify({
      serverFactory: (handler) => dualProtocolServer(handler, options.tls) as unknown as RawServer,
      bodyLimit: maxRequestBytes,
      return503OnClosing: false,
      forceCloseConnections: true,
      // Requests fastify refuses before routing (a malformed URL) still get a Status body.
      frameworkErrors: (error, _request, reply) => {
        void (reply as FastifyReply)
          .code(400)
          .type('application/json')
          .send(JSON.stringify(failureStatus(400, 'BadRequest', error.message)));
      },
    });
    this.app.removeAllContentTypeParsers();
    // Bodies are decoded by the handlers, which know the media types each verb accepts and answer with a Status.
    this.app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    this.app.setErrorHandler((error: { statusCode?: number; message: string }, _request, reply) => {
      const code = error.statusCode && error.statusCode >= 400 ? error.statusCode : 500;
      const reason = code === 413 ? 'RequestEntityTooLarge' : code < 500 ? 'BadRequest' : 'InternalError';
      const message = code === 413 ? `Request entity too large: limit is ${maxRequestBytes} bytes (maxRequestBytes, --max-request-bytes)` : error.message;
      if (code >= 500) this.log.error({ err: error }, 'embedded cluster request failed');
      void reply
        .code(code)
        .type('application/json')
        .send(JSON.stringify(failureStatus(code, reason, message)));
    });
    // Authentication comes before the body is read, so an anonymous client cannot even make the server buffer one.
    this.app.addHook('onRequest', async (request, reply) => {
      if (this.authenticated(request)) return undefined;
      return reply
        .code(401)
        .type('application/json')
        .send(JSON.stringify(failureStatus(401, 'Unauthorized', 'Unauthorized')));
    });
    this.app.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'], url: '/*', handler: (request, reply) => this.handle(request, reply) });
  }

  /** How many watch streams are open now (kube-apiserver's apiserver_registered_watchers). */
  openWatches(): number {
    return this.watches.size;
  }

  /** Ends every open watch: cleanly (the stream finishes) or abruptly (the connection drops). */
  closeWatches(options: { abrupt?: boolean } = {}): void {
    for (const watch of [...this.watches]) watch.end(options.abrupt ?? false);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.closeWatches();
    for (const timer of this.graceTimers) clearTimeout(timer);
    this.graceTimers.clear();
    const closed = this.app.close();
    // A client that re-watches at once (an informer) may have a TLS handshake or a request in flight that the
    // HTTP server does not count as a connection yet: its socket goes too.
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /** A bearer token equal to ours (compared in constant time), or a path anyone may read. */
  private authenticated(request: FastifyRequest): boolean {
    const header = request.headers.authorization;
    if (header !== undefined && /^bearer /i.test(header)) return timingSafeEqual(digest(header.slice(7).trim()), this.tokenDigest);
    return ANONYMOUS_PATHS.has(pathOf(request.url));
  }

  private async handle(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    try {
      // The raw path, never one a URL parser resolved: `%2e%2e` must reach route() as a segment it refuses.
      const target = route(pathOf(request.url));
      const search = request.url.indexOf('?');
      const query = new URLSearchParams(search < 0 ? '' : request.url.slice(search + 1));
      if (target.kind === 'document') {
        if (target.protobuf && (request.headers.accept ?? '').includes('protobuf')) {
          await reply.code(200).type('application/com.github.proto-openapi.spec.v2.v1.0+protobuf').send(target.protobuf);
          return;
        }
        await reply.code(200).type('application/json').send(JSON.stringify(target.body));
        return;
      }
      const req: Request = {
        route: target,
        query,
        contentType: request.headers['content-type'],
        table: wantsTable(request.headers.accept),
        body: request.body as Buffer | undefined,
      };
      const verb = verbOf(request.method, req);
      const resource = target.subresource ? `${target.type.plural}/${target.subresource}` : target.type.plural;
      const delay = this.faults.delayFor(verb, resource);
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      const injected = this.faults.takeFailure(verb, resource);
      if (injected) {
        await reply.code(injected.code).type('application/json').send(JSON.stringify(injected));
        return;
      }
      const answer = this.admission.applies(verb, target) ? await this.serveAdmitted(verb, req, reply) : this.serve(verb, req, reply);
      // Acknowledged means durable: the reply waits for the journal's fsync (shared by the writes queued with it).
      if (WRITES.has(verb)) await this.durable();
      if ('json' in answer) await reply.code(answer.code).type('application/json').send(answer.json);
    } catch (error) {
      if (reply.sent || reply.raw.headersSent) return;
      const status = this.toStatus(error);
      await reply.code(status.code).type('application/json').send(JSON.stringify(status));
    }
  }

  private toStatus(error: unknown): StatusBody {
    if (error instanceof KubeStatusError) return error.toStatus();
    this.log.error({ err: error }, 'embedded cluster request failed');
    return failureStatus(500, 'InternalError', `internal error: ${(error as Error).message}`);
  }

  private serve(verb: Verb, req: Request, reply: FastifyReply): Answer {
    const { type, namespace, name, subresource } = req.route;
    const dryRun = isDryRun(req.query);
    const sub = subresource === 'status' ? 'status' : undefined;
    const reading = verb === 'get' || verb === 'list' || verb === 'watch';
    if (type.readOnly && !reading) throw methodNotAllowed(verb, type);
    // A namespaced type's cluster-wide path (/api/v1/pods) only lists and watches, as in kube-apiserver.
    if (type.namespaced && namespace === undefined && !reading) throw methodNotAllowed(verb, type);
    if (subresource === 'scale') return this.scale(verb, req, dryRun);
    switch (verb) {
      case 'get': {
        const object = this.store.get(type, namespace, name!);
        return req.table ? { code: 200, json: JSON.stringify(toTable(type, [object], new Date())) } : ok(200, object);
      }
      case 'list': {
        checkListOptions(req.query, false);
        const list = this.store.list(type, {
          namespace,
          labelSelector: req.query.get('labelSelector') ?? undefined,
          fieldSelector: req.query.get('fieldSelector') ?? undefined,
          limit: integerParam(req.query, 'limit'),
          continue: req.query.get('continue') || undefined,
        });
        if (!req.table) return { code: 200, json: listJson(type, list) };
        const metadata = { resourceVersion: list.resourceVersion, ...(list.continue ? { continue: list.continue } : {}) };
        return { code: 200, json: JSON.stringify(toTable(type, list.items, new Date(), metadata)) };
      }
      case 'watch':
        this.watch(req, reply);
        return { watch: true };
      case 'create': {
        if (subresource === 'binding' || isBindingType(type)) return this.bind(req, dryRun);
        const object = this.store.create(type, decodeObjectBody(req.contentType, req.body, this.maxJsonDepth), { namespace, dryRun });
        return ok(201, object);
      }
      case 'update':
        return ok(200, this.store.update(type, namespace, name!, decodeObjectBody(req.contentType, req.body, this.maxJsonDepth), { subresource: sub, dryRun }));
      case 'patch': {
        const { kind, patch } = decodePatchBody(req.contentType, req.body, this.maxJsonDepth);
        return ok(
          200,
          this.store.mutate(type, namespace, name!, (current) => applyPatch(current, kind, patch), { subresource: sub, dryRun }),
        );
      }
      case 'delete': {
        const options = decodeDeleteOptions(req.contentType, req.body, req.query, this.maxJsonDepth);
        const result = this.deleteOne(type, namespace, name!, options);
        if (!result.removed || returnsDeletedObject(type)) return ok(200, result.object);
        const { uid } = result.object.metadata;
        return { code: 200, json: JSON.stringify(successStatus(200, { name, group: type.group, kind: type.plural, ...(uid ? { uid } : {}) })) };
      }
      case 'deletecollection': {
        const options = decodeDeleteOptions(req.contentType, req.body, req.query, this.maxJsonDepth);
        const { items } = this.store.list(type, {
          namespace,
          labelSelector: req.query.get('labelSelector') ?? undefined,
          fieldSelector: req.query.get('fieldSelector') ?? undefined,
        });
        const deleted = items.map((item) => this.deleteOne(type, item.metadata.namespace, item.metadata.name!, { ...options, preconditions: {} }).object);
        return { code: 200, json: listJson(type, { items: deleted, resourceVersion: this.store.resourceVersion }) };
      }
    }
  }

  /** deployments/scale, replicasets/scale: the object's replicas as an autoscaling/v1 Scale (`kubectl scale`). */
  private scale(verb: Verb, req: Request, dryRun: boolean): Answer {
    const { type, namespace, name } = req.route;
    const answer = (object: KubeObject): Answer => ({ code: 200, json: JSON.stringify(scaleOf(object)) });
    switch (verb) {
      case 'get':
        return answer(this.store.get(type, namespace, name!));
      case 'update': {
        const body = decodeObjectBody(req.contentType, req.body, this.maxJsonDepth);
        return answer(this.store.mutate(type, namespace, name!, (current) => withScale(current, body), { dryRun }));
      }
      case 'patch': {
        const { kind, patch } = decodePatchBody(req.contentType, req.body, this.maxJsonDepth);
        return answer(this.store.mutate(type, namespace, name!, (current) => withScale(current, applyPatch(scaleOf(current), kind, patch)), { dryRun }));
      }
      default:
        throw methodNotAllowed(verb, type);
    }
  }

  /**
   * A write that mutating webhooks see first (admission.ts): the object as it would be stored is admitted, then
   * written. An update or patch is written guarded by the resourceVersion it was computed from, and a patch is
   * recomputed when another write came in between, as kube-apiserver retries it.
   */
  private async serveAdmitted(verb: Verb, req: Request, reply: FastifyReply): Promise<Answer> {
    const { type, namespace, name, subresource } = req.route;
    const base = { type, subresource, dryRun: isDryRun(req.query) };
    const asJson = (object: unknown): Request => ({ ...req, contentType: 'application/json', body: Buffer.from(JSON.stringify(object)) });
    if (verb === 'delete') {
      await this.admission.admit({ ...base, operation: 'DELETE', namespace, name: name!, object: null, oldObject: this.store.get(type, namespace, name!) });
      return this.serve(verb, req, reply);
    }
    if (verb === 'create') {
      const object = decodeObjectBody(req.contentType, req.body, this.maxJsonDepth);
      if (!isObject(object)) return this.serve(verb, req, reply);
      const metadata = object.metadata as { name?: string; namespace?: string };
      const admitted = await this.admission.admit({
        ...base,
        operation: 'CREATE',
        namespace: type.namespaced ? (namespace ?? metadata.namespace) : undefined,
        name: metadata.name ?? '',
        object,
        oldObject: null,
      });
      return this.serve(verb, asJson(admitted), reply);
    }
    for (let attempt = 1; ; attempt++) {
      const current = this.store.get(type, namespace, name!);
      let next: unknown;
      if (verb === 'update') next = decodeObjectBody(req.contentType, req.body, this.maxJsonDepth);
      else {
        const { kind, patch } = decodePatchBody(req.contentType, req.body, this.maxJsonDepth);
        next = applyPatch(structuredClone(current), kind, patch);
      }
      if (!isObject(next)) return this.serve(verb, req, reply);
      const admitted = await this.admission.admit({ ...base, operation: 'UPDATE', namespace, name: name!, object: next, oldObject: current });
      // A patch that set no resourceVersion of its own applies to whatever is current: retried on a conflict.
      const retryable = verb === 'patch' && next.metadata.resourceVersion === current.metadata.resourceVersion;
      try {
        return this.serve('update', asJson(admitted), reply);
      } catch (error) {
        if (!retryable || attempt >= 5 || !(error instanceof KubeStatusError) || error.reason !== 'Conflict') throw error;
      }
    }
  }

  private bind(req: Request, dryRun: boolean): Answer {
    const binding = decodeObjectBody(req.contentType, req.body, this.maxJsonDepth) as Binding;
    if (binding === null || typeof binding !== 'object' || Array.isArray(binding)) throw new KubeStatusError(400, 'BadRequest', 'a Binding object is required');
    const kind = (binding as { kind?: unknown }).kind;
    if (kind !== undefined && kind !== 'Binding') throw new KubeStatusError(400, 'BadRequest', `the kind "${String(kind)}" does not match Binding`);
    const podName = req.route.subresource === 'binding' ? req.route.name : binding.metadata?.name;
    if (!podName) throw new KubeStatusError(400, 'BadRequest', 'metadata.name: Required value: the pod to bind');
    this.store.bind(req.route.namespace!, podName, binding, { dryRun });
    return { code: 201, json: JSON.stringify(successStatus(201)) };
  }

  private deleteOne(type: ResourceType, namespace: string | undefined, name: string, options: DeleteOptions): DeleteResult {
    const result = this.store.delete(type, namespace, name, options);
    if (!result.removed && !options.dryRun) this.finishGracefulDeletion(type, result.object, result.object.metadata.deletionGracePeriodSeconds ?? 0);
    return result;
  }

  /**
   * A graceful deletion without finalizers completes when the grace period ends, as the kubelet would make it: the
   * pod's kubelet (the simulated one) usually deletes it sooner, but a pod on a node no kubelet serves still goes.
   */
  private finishGracefulDeletion(type: ResourceType, object: KubeObject, graceSeconds: number): void {
    if ((object.metadata.finalizers ?? []).length > 0 || graceSeconds <= 0) return;
    const timer = setTimeout(() => {
      this.graceTimers.delete(timer);
      try {
        this.store.delete(type, object.metadata.namespace, object.metadata.name!, { gracePeriodSeconds: 0, preconditions: { uid: object.metadata.uid } });
      } catch (error) {
        // Already gone or replaced by a newer object of the same name: nothing left to finish.
        this.log.debug({ err: error, name: object.metadata.name }, 'graceful deletion found nothing to finish');
      }
    }, graceSeconds * 1000);
    this.graceTimers.add(timer);
  }

  private watch(req: Request, reply: FastifyReply): void {
    const { type, namespace, name } = req.route;
    const labelSelector = req.query.get('labelSelector') ?? undefined;
    // Watching one object by URL is watching its collection by name.
    const fieldSelector = [req.query.get('fieldSelector'), name === undefined ? undefined : `metadata.name=${name}`].filter(Boolean).join(',') || undefined;
    // Bad selectors are a 400 before the stream opens, as kube-apiserver answers them.
    parseLabelSelector(labelSelector);
    parseFieldSelector(fieldSelector);
    checkListOptions(req.query, true);
    const timeoutSeconds = integerParam(req.query, 'timeoutSeconds');
    const bookmarks = booleanParam(req.query, 'allowWatchBookmarks');
    const initialEventsEnd = booleanParam(req.query, 'sendInitialEvents');
    if (this.closing) throw new KubeStatusError(503, 'ServiceUnavailable', 'the server is shutting down');
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, private', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const timers: NodeJS.Timeout[] = [];
    let stop: () => void = () => undefined;
    const stream = {
      end: (abrupt: boolean): void => {
        if (!this.watches.delete(stream)) return;
        stop();
        for (const timer of timers) clearTimeout(timer);
        if (abrupt) res.destroy();
        else res.end();
      },
    };
    this.watches.add(stream);
    res.on('close', () => stream.end(false));
    const bookmark = (annotations?: Record<string, string>): void => {
      const object = { kind: type.kind, apiVersion: apiVersionOf(type), metadata: { resourceVersion: this.store.resourceVersion, ...(annotations ? { annotations } : {}) } };
      write(res, watchLine('BOOKMARK', JSON.stringify(object)));
    };
    try {
      stop = this.store.watch(type, { namespace, labelSelector, fieldSelector, resourceVersion: watchStart(req.query, this.store.resourceVersion) }, (event) =>
        write(res, watchLine(event.type, req.table ? JSON.stringify(toTable(type, [event.object], new Date())) : objectJson(event.object))),
      );
    } catch (error) {
      write(res, watchLine('ERROR', JSON.stringify(this.toStatus(error))));
      stream.end(false);
      return;
    }
    if (bookmarks && initialEventsEnd) bookmark({ 'k8s.io/initial-events-end': 'true' });
    if (bookmarks) timers.push(setInterval(() => bookmark(), this.bookmarkIntervalMs));
    if (timeoutSeconds !== undefined && timeoutSeconds > 0) timers.push(setTimeout(() => stream.end(false), timeoutSeconds * 1000));
  }
}

const digest = (token: string): Buffer => createHash('sha256').update(token).digest();

const pathOf = (url: string): string => {
  const search = url.indexOf('?');
  return search < 0 ? url : url.slice(0, search);
};

function write(res: ServerResponse, line: string): void {
  if (!res.writableEnded && !res.destroyed) res.write(line);
}

const ok = (code: number, object: KubeObject): Answer => ({ code, json: objectJson(object) });

const isObject = (value: unknown): value is KubeObject =>
  value !== null && typeof value === 'object' && !Array.isArray(value) && (value as { metadata?: unknown }).metadata !== null && typeof (value as { metadata?: unknown }).metadata === 'object';

/** kube-apiserver answers a finished delete with the object for these types and with a Status for the rest. */
const returnsDeletedObject = (type: ResourceType): boolean => type.group === '' && (type.plural === 'pods' || type.plural === 'namespaces');

function verbOf(method: string, req: Request): Verb {
  const { name, subresource, legacyWatch, type } = req.route;
  const watch = legacyWatch || booleanParam(req.query, 'watch');
  switch (method) {
    case 'GET':
      if (subresource === 'binding') break;
      return name === undefined ? (watch ? 'watch' : 'list') : watch ? 'watch' : 'get';
    case 'POST':
      if (name === undefined || subresource === 'binding') return 'create';
      break;
    case 'PUT':
      if (name !== undefined && subresource !== 'binding') return 'update';
      break;
    case 'PATCH':
      if (name !== undefined && subresource !== 'binding') return 'patch';
      break;
    case 'DELETE':
      if (subresource === undefined) return name === undefined ? 'deletecollection' : 'delete';
      break;
  }
  throw methodNotAllowed(method, type);
}

function methodNotAllowed(verb: string, type: ResourceType): KubeStatusError {
  return new KubeStatusError(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource (${verb} ${type.plural})`);
}
