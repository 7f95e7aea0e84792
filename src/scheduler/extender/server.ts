/**
 * The extender's HTTP surface. Each route parses and validates its body (wire.ts), hands plain data to the
 * service, and writes the reply in kube-scheduler's format. A malformed body never crashes anything: filter and
 * bind answer 200 with `Error` set (kube-scheduler reports it with the attempt), prioritize answers 400 (its
 * errors are ignored by kube-scheduler), preempt and the webhook answer 400.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { TesseraError } from '../../errors.js';
import { filterErrorReply, parseBindArgs, parseFilterArgs, parsePreemptArgs, type BindArgs, type FilterArgs, type FilterReply, type HostScore, type PreemptArgs, type PreemptReply } from './wire.js';
import { reviewAdmission, type WebhookOptions } from './webhook.js';

/** What the routes need from the running extender. */
export interface ExtenderService {
  /** Undefined when ready to decide; otherwise why not (not synced, not the leader). */
  notReadyReason(): string | undefined;
  filter(args: FilterArgs): Promise<FilterReply>;
  prioritize(args: FilterArgs): Promise<HostScore[]>;
  /** Resolves to an error message, or '' once the pod is bound. */
  bind(args: BindArgs): Promise<string>;
  preempt(args: PreemptArgs): Promise<PreemptReply>;
}

export interface ServerOptions {
  service: ExtenderService;
  /**
   * Serve HTTPS with this certificate (the admission webhook must be called over TLS); with `clientCa`, only to
   * clients whose certificate it signed (kube-scheduler's extender tlsConfig).
   */
  https?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
  /** `webhook`: only the admission webhook, health and metrics (the listener the API server reaches). */
  routes?: 'all' | 'webhook';
  webhook: WebhookOptions;
  metrics: Registry;
  log: Logger;
}

/** Bodies up to 64 MiB: without nodeCacheCapable a filter request carries every candidate Node object. */
const BODY_LIMIT = 64 * 1024 * 1024;

function describe(error: unknown): string {
  return error instanceof TesseraError ? error.message : `internal error: ${(error as Error).message ?? String(error)}`;
}

export type ExtenderServer = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export function buildServer(options: ServerOptions): ExtenderServer {
  const { service, log } = options;
  const common = {
    loggerInstance: log,
    bodyLimit: BODY_LIMIT,
    logController: new LogController({ disableRequestLogging: true }),
    // Bodies are read field by field into fresh objects, never merged into others, so `__proto__` keys are inert;
    // skipping the poisoning scan makes parsing a 5,000-node filter body several times cheaper.
    onProtoPoisoning: 'ignore' as const,
    onConstructorPoisoning: 'ignore' as const,
  };
  // The HTTPS instance differs only in its transport; the routes below treat both alike. Fastify's idle-connection
  // closing does not reach an HTTPS server's kept-alive connections, which would hold a stopping process open.
  const https = options.https && {
    cert: options.https.cert,
    key: options.https.key,
    ...(options.https.clientCa ? { ca: options.https.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  };
  const app = (https ? Fastify({ ...common, https, forceCloseConnections: true }) : Fastify(common)) as unknown as ExtenderServer;
  const extenderRoutes = options.routes !== 'webhook';

  function logFailure(route: string, error: unknown): void {
    if (error instanceof TesseraError) log.warn({ route, code: error.code, field: error.field }, error.message);
    else log.error({ route, err: error }, 'request failed');
  }

  // No response schemas: fastify then writes replies with JSON.stringify, as fast as its compiled serializers once
  // the string is measured for Content-Length, with a quarter of the garbage (those build a reply from thousands of
  // partial strings: 1.4 MB per 5,000-node prioritize reply against 0.3 MB).
  // Filter waits (bounded) for the first sync itself, so it is not turned away here.
  if (extenderRoutes) registerExtenderRoutes(app, service, logFailure);

  app.post('/webhook', async (request, reply) => {
    try {
      return reviewAdmission(request.body, options.webhook);
    } catch (error) {
      logFailure('webhook', error);
      return reply.code(error instanceof TesseraError ? error.status : 500).send({ error: describe(error) });
    }
  });

  app.get('/healthz', async () => 'ok');
  app.get('/readyz', async (_request, reply) => {
    const notReady = service.notReadyReason();
    return notReady ? reply.code(503).send(`not ready: ${notReady}`) : 'ok';
  });
  app.get('/metrics', async (_request, reply) => reply.type(options.metrics.contentType).send(await options.metrics.metrics()));

  // Bodies that are not JSON at all reach here (fastify's parser rejects them before the routes run).
  app.setErrorHandler((error, request, reply) => {
    logFailure(request.url, error);
    const message = `malformed request body: ${error instanceof Error ? error.message : String(error)}`;
    if (request.url === '/filter') return reply.code(200).send(filterErrorReply(message));
    if (request.url === '/bind') return reply.code(200).send({ Error: message });
    return reply.code(400).send({ Error: message });
  });
  return app;
}

/** kube-scheduler's verbs: only on the extender port, never on the listener the API server reaches. */
function registerExtenderRoutes(app: ExtenderServer, service: ExtenderService, logFailure: (route: string, error: unknown) => void): void {
  app.post('/filter', async (request) => {
    try {
      return await service.filter(parseFilterArgs(request.body));
    } catch (error) {
      logFailure('filter', error);
      return filterErrorReply(describe(error));
    }
  });

  app.post('/prioritize', async (request, reply) => {
    const notReady = service.notReadyReason();
    if (notReady) return reply.code(503).send({ Error: `tessera extender not ready: ${notReady}` });
    try {
      return await service.prioritize(parseFilterArgs(request.body));
    } catch (error) {
      logFailure('prioritize', error);
      return reply.code(error instanceof TesseraError ? error.status : 500).send({ Error: describe(error) });
    }
  });

  app.post('/bind', async (request) => {
    const notReady = service.notReadyReason();
    if (notReady) return { Error: `tessera extender not ready: ${notReady}` };
    try {
      return { Error: await service.bind(parseBindArgs(request.body)) };
    } catch (error) {
      logFailure('bind', error);
      return { Error: describe(error) };
    }
  });

  // ExtenderPreemptionResult has no error field: failures are non-200 answers, which fail that preemption attempt.
  app.post('/preempt', async (request, reply) => {
    const notReady = service.notReadyReason();
    if (notReady) return reply.code(503).send({ Error: `tessera extender not ready: ${notReady}` });
    try {
      return await service.preempt(parsePreemptArgs(request.body));
    } catch (error) {
      logFailure('preempt', error);
      return reply.code(error instanceof TesseraError ? error.status : 500).send({ Error: describe(error) });
    }
  });
}
