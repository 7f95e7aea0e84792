/**
 * A JSON client for the API writes on a hot path (the extender's Binding, one per pod). client-node's generated
 * call spends about 0.3 ms of CPU on its own layers (request factory, ObjectSerializer, node-fetch) and re-reads the
 * kubeconfig's certificate files on every request; this one measured a quarter of that against the same server.
 * Authentication stays client-node's (`applyToHTTPSOptions`: tokens, token files, exec plugins, client
 * certificates), taken again once a minute as client-go re-reads a service account token, over one keep-alive agent.
 * Failures are client-node's `ApiException`, so the retry helpers read them as they read client-node's.
 */
import http from 'node:http';
import https from 'node:https';
import { ApiException, type KubeConfig } from '@kubernetes/client-node';
import { collectReplyBody } from './reply-body.js';

export interface KubeJsonClientOptions {
  /** How long the authentication and TLS settings are reused before being taken again (default 60 s). */
  refreshMs?: number;
  /** A request with no reply by then fails (and is retried as a dropped connection would be). Default 30 s. */
  timeoutMs?: number;
  now?: () => number;
}

interface Settings {
  takenAt: number;
  headers: http.OutgoingHttpHeaders;
  auth: string | undefined;
  agent: http.Agent;
  /** The TLS material the agent was built from, to keep the agent (and its connections) while it is the same. */
  tls: string;
}

/** Replies larger than this are refused: the writes this serves answer with one object. */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;

export class KubeJsonClient {
  private readonly server: URL;
  private readonly refreshMs: number;
  private readonly timeoutMs: number;
  private readonly now: () => number;
  private settings: Promise<Settings> | undefined;

  constructor(
    private readonly kubeConfig: KubeConfig,
    options: KubeJsonClientOptions = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    this.refreshMs = options.refreshMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.now = options.now ?? Date.now;
  }

  /** POSTs `body` to `path` (e.g. `/api/v1/namespaces/ns/pods/name/binding`); resolves to the parsed reply. */
  async post<T>(path: string, body: unknown): Promise<T> {
    const settings = await this.current();
    const payload = JSON.stringify(body);
    const transport = this.server.protocol === 'https:' ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = transport.request(
        {
          protocol: this.server.protocol,
          hostname: this.server.hostname,
          port: this.server.port,
          path: `${this.server.pathname.replace(/\/$/, '')}${path}`,
          method: 'POST',
          agent: settings.agent,
          auth: settings.auth,
          timeout: this.timeoutMs,
          headers: { ...settings.headers, accept: 'application/json', 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        },
        (res) =>
          collectReplyBody(req, res, MAX_REPLY_BYTES, (text) => {
            const status = res.statusCode ?? 0;
            if (status < 200 || status >= 300) {
              reject(new ApiException(status, `HTTP-Code: ${status} Message: POST ${path} failed`, text, headersOf(res)));
              return;
            }
            try {
              resolve((text === '' ? undefined : JSON.parse(text)) as T);
            } catch (cause) {
              reject(new Error(`POST ${path}: the reply is not JSON (${(cause as Error).message})`, { cause }));
            }
          }),
      );
      req.on('timeout', () => req.destroy(new Error(`POST ${path}: no reply within ${this.timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    void this.settings?.then((s) => s.agent.destroy()).catch(() => undefined);
  }

  private current(): Promise<Settings> {
    const settings = this.settings;
    if (settings === undefined) return (this.settings = this.take(undefined));
    return settings.then((s) => (this.now() - s.takenAt < this.refreshMs ? s : (this.settings = this.take(s))));
  }

  private async take(previous: Settings | undefined): Promise<Settings> {
    const options: https.RequestOptions = {};
    try {
      await this.kubeConfig.applyToHTTPSOptions(options);
    } catch (error) {
      // A failed refresh must not stick: the next request tries again.
      this.settings = undefined;
      throw error;
    }
    const tlsOptions = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      pfx: options.pfx,
      passphrase: options.passphrase,
      rejectUnauthorized: options.rejectUnauthorized,
      servername: options.servername,
    };
    const tls = JSON.stringify(tlsOptions, (_key, value: unknown) => (Buffer.isBuffer(value) ? value.toString('base64') : value));
    let agent: http.Agent;
    if (this.kubeConfig.getCurrentCluster()?.proxyUrl)
      agent = options.agent as http.Agent; // client-node's proxy agent, as it would use it
    else if (previous?.tls === tls) agent = previous.agent;
    else {
      previous?.agent.destroy();
      agent = this.server.protocol === 'https:' ? new https.Agent({ ...tlsOptions, keepAlive: true }) : new http.Agent({ keepAlive: true });
    }
    // client-node sets headers as an object (Authorization, Impersonate-User) and auth as `user:password`.
    return { takenAt: this.now(), headers: (options.headers ?? {}) as http.OutgoingHttpHeaders, auth: options.auth ?? undefined, agent, tls };
  }
}

function headersOf(res: http.IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(res.headers)) if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  return headers;
}
