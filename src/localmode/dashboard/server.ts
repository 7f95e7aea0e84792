/**
 * The dashboard's HTTP side: the static page (plain HTML, one JS module, one stylesheet, shipped as files next to
 * this module and copied into dist by `postbuild`), a JSON snapshot, and live updates as server-sent events.
 * Every change the source reports is coalesced into at most one event per `UPDATE_INTERVAL_MS`; a heartbeat event
 * keeps rates fresh and proxies from closing an idle stream.
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type RawServerDefault } from 'fastify';
import type { Logger } from 'pino';
import type { DashboardView } from './view.js';

export interface DashboardSource {
  view(): DashboardView;
  /** Calls `listener` whenever something the view shows may have changed; returns the function that stops it. */
  subscribe(listener: () => void): () => void;
}

export type DashboardServer = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, Logger>;

export const UPDATE_INTERVAL_MS = 200;
export const HEARTBEAT_MS = 2000;

const STATIC_DIR = new URL('./static/', import.meta.url);
const STATIC_FILES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'style.css': 'text/css; charset=utf-8',
};

function sendEvent(stream: ServerResponse, view: DashboardView): void {
  stream.write(`event: snapshot\ndata: ${JSON.stringify(view)}\n\n`);
}

/** The dashboard's HTTP server (not listening yet): `/`, `/static/<file>`, `/api/snapshot`, `/api/events`. */
export async function buildDashboardServer(source: DashboardSource, log: Logger): Promise<DashboardServer> {
  const app = Fastify({ loggerInstance: log, logController: new LogController({ disableRequestLogging: true }) });
  for (const [name, type] of Object.entries(STATIC_FILES)) {
    const body = await readFile(new URL(name, STATIC_DIR));
    const serve = async (_request: unknown, reply: FastifyReply) => reply.type(type).send(body);
    app.get(`/static/${name}`, serve);
    if (name === 'index.html') app.get('/', serve);
  }
  const streams = new Set<ServerResponse>();

  app.get('/api/snapshot', async () => source.view());

  app.get('/api/events', (request, reply) => {
    reply.hijack();
    const stream = reply.raw;
    stream.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    streams.add(stream);
    sendEvent(stream, source.view());
    let pending: NodeJS.Timeout | undefined;
    const unsubscribe = source.subscribe(() => {
      pending ??= setTimeout(() => {
        pending = undefined;
        sendEvent(stream, source.view());
      }, UPDATE_INTERVAL_MS);
    });
    const heartbeat = setInterval(() => sendEvent(stream, source.view()), HEARTBEAT_MS);
    request.raw.on('close', () => {
      unsubscribe();
      clearTimeout(pending);
      clearInterval(heartbeat);
      streams.delete(stream);
    });
  });

  // Open event streams would hold app.close() forever: end them first.
  app.addHook('preClose', async () => {
    for (const stream of streams) stream.end();
  });
  return app;
}
