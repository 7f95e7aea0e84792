/**
 * EmbeddedCluster: an in-process Kubernetes API server for tests and the local mode. Start it, hand its
 * kubeConfig() to the code under test (which talks HTTP through @kubernetes/client-node like in production), and
 * stop it. `store` and `faults` are for test setup and fault injection only.
 */
import { KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { isIP, type AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { Faults } from './faults.js';
import { Journal, journalLine, loadState, writeFileAtomic } from './persistence.js';
import { ApiServer, type ServerLimits } from './server.js';
import { Store } from './store.js';
import { servingCertificate } from './tls.js';

export interface EmbeddedClusterOptions extends Partial<ServerLimits> {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /**
   * Load state from this file on start; every write is journaled beside it (`<file>.journal`) and fsynced before
   * it is acknowledged, and the journal is folded into the file on stop.
   */
  persistPath?: string;
  /** The bearer token every request but the health checks must carry (default: 32 random bytes, base64url). */
  token?: string;
  /** Bound on the serialized size of all stored objects (default 256 MiB); writes past it get 507. */
  maxStoredBytes?: number;
  /** Changes kept for watch resume (default 10,000); older resourceVersions get 410 Expired. */
  historySize?: number;
  bookmarkIntervalMs?: number;
  log?: Logger;
}

export class EmbeddedCluster {
  readonly store: Store;
  readonly faults: Faults;
  /** `https://127.0.0.1:<port>`: what kubeconfig files name. */
  readonly url: string;
  /** `http://127.0.0.1:<port>` when the server is reachable over loopback (plain HTTP is served to loopback peers). */
  readonly loopbackUrl: string | undefined;
  /** The bearer token clients must send; kubeConfig() and writeKubeconfig() carry it. */
  readonly token: string;
  /** The self-signed serving certificate (PEM), made at start: what clients trust. */
  readonly ca: string;
  private readonly server: ApiServer;
  private readonly journal: Journal | undefined;
  private stopped = false;

  private constructor(store: Store, faults: Faults, server: ApiServer, urls: { url: string; loopbackUrl: string | undefined }, token: string, ca: string, journal: Journal | undefined) {
    this.store = store;
    this.faults = faults;
    this.server = server;
    this.url = urls.url;
    this.loopbackUrl = urls.loopbackUrl;
    this.token = token;
    this.ca = ca;
    this.journal = journal;
  }

  static async start(options: EmbeddedClusterOptions = {}): Promise<EmbeddedCluster> {
    const log = options.log ?? pino({ level: 'warn' }).child({ component: 'embedded-cluster' });
    const store = new Store({ historySize: options.historySize, maxStoredBytes: options.maxStoredBytes });
    let journal: Journal | undefined;
    if (options.persistPath) {
      const path = options.persistPath;
      const state = await loadState(path, log);
      if (state) store.restore(state);
      journal = await Journal.open({ path, snapshot: () => store.snapshot(), log });
      const open = journal;
      store.onCommit((commit) => open.append(journalLine(commit)));
    }
    const token = options.token ?? randomBytes(32).toString('base64url');
    const host = options.host ?? '127.0.0.1';
    const tls = servingCertificate(host);
    const faults = new Faults();
    const server = new ApiServer({
      store,
      faults,
      log,
      token,
      tls,
      bookmarkIntervalMs: options.bookmarkIntervalMs,
      ...(journal ? { durable: journal.durable.bind(journal) } : {}),
      ...(options.maxRequestBytes !== undefined ? { maxRequestBytes: options.maxRequestBytes } : {}),
      ...(options.maxJsonDepth !== undefined ? { maxJsonDepth: options.maxJsonDepth } : {}),
    });
    await server.app.listen({ port: options.port ?? 0, host });
    const { port } = server.app.server.address() as AddressInfo;
    const url = `https://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
    const loopback = loopbackHost(host);
    const urls = { url, loopbackUrl: loopback === undefined ? undefined : `http://${loopback}:${port}` };
    const cluster = new EmbeddedCluster(store, faults, server, urls, token, tls.cert, journal);
    if (!isLoopback(host)) {
      log.warn({ url, host }, "the embedded API server listens beyond loopback: anyone who can reach it and holds the kubeconfig's token has full access; it is a development server");
    }
    log.info({ url: cluster.url, persistPath: options.persistPath }, 'embedded cluster listening');
    return cluster;
  }

  /**
   * A client-node KubeConfig for clients on this machine (context `tessera-embedded`, with the token): plain HTTP
   * over loopback when the server listens there, since client-node pays a TLS handshake per request; HTTPS with
   * the certificate pinned otherwise.
   */
  kubeConfig(namespace = 'default'): KubeConfig {
    return this.config(this.loopbackUrl ?? this.url, namespace);
  }

  /** Writes a kubeconfig file for kubectl and other processes (`kubectl --kubeconfig <path> get pods`): HTTPS, certificate pinned, the token; readable by its owner only. */
  async writeKubeconfig(path: string): Promise<void> {
    await writeFileAtomic(path, this.config(this.url, 'default').exportConfig(), 0o600);
  }

  private config(server: string, namespace: string): KubeConfig {
    const kc = new KubeConfig();
    // client-node refuses an http:// server unless skipTLSVerify is set; over HTTPS the certificate is pinned.
    const tls = server.startsWith('https:') ? { caData: Buffer.from(this.ca).toString('base64'), skipTLSVerify: false } : { skipTLSVerify: true };
    kc.loadFromOptions({
      clusters: [{ name: 'tessera-embedded', server, ...tls }],
      users: [{ name: 'tessera', token: this.token }],
      contexts: [{ name: 'tessera-embedded', cluster: 'tessera-embedded', user: 'tessera', namespace }],
      currentContext: 'tessera-embedded',
    });
    return kc;
  }

  /** How many watch streams clients hold open now. */
  openWatches(): number {
    return this.server.openWatches();
  }

  /** Ends every open watch, cleanly or by dropping the connection: clients must re-watch or relist. */
  closeWatches(options: { abrupt?: boolean } = {}): void {
    this.server.closeWatches(options);
  }

  /** Stops serving; with persistPath, folds the journal into the state file. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.server.close();
    await this.journal?.close();
  }
}

/** The address this machine reaches a server bound to `host` by over loopback, if any. */
function loopbackHost(host: string): string | undefined {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  if (!isLoopback(host)) return undefined;
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** 127.0.0.0/8, ::1 and localhost: addresses only this machine reaches. */
function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host) || /^::ffff:127\./.test(host);
}
