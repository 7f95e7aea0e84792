/**
 * EmbeddedCluster: an in-process Kubernetes API server for tests and the local mode. Start it, hand its
 * kubeConfig() to the code under test (which talks HTTP through @kubernetes/client-node like in production), and
 * stop it. `store` and `faults` are for test setup and fault injection only.
 */
import { KubeConfig } from '@kubernetes/client-node';
import type { AddressInfo } from 'node:net';
import { pino, type Logger } from 'pino';
import { Faults } from './faults.js';
import { loadSnapshot, saveSnapshot, writeFileAtomic } from './persistence.js';
import { ApiServer } from './server.js';
import { Store } from './store.js';

export interface EmbeddedClusterOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  host?: string;
  /** Load state from this file on start and save it on stop and after changes (debounced). */
  persistPath?: string;
  /** How long after a change the state is saved, when persistPath is set. */
  persistDebounceMs?: number;
  /** Changes kept for watch resume (default 10,000); older resourceVersions get 410 Expired. */
  historySize?: number;
  bookmarkIntervalMs?: number;
  log?: Logger;
}

export class EmbeddedCluster {
  readonly store: Store;
  readonly faults: Faults;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  private readonly server: ApiServer;
  private readonly options: EmbeddedClusterOptions;
  private readonly log: Logger;
  private saveTimer: NodeJS.Timeout | undefined;
  private saving: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(store: Store, faults: Faults, server: ApiServer, url: string, options: EmbeddedClusterOptions, log: Logger) {
    this.store = store;
    this.faults = faults;
    this.server = server;
    this.url = url;
    this.options = options;
    this.log = log;
  }

  static async start(options: EmbeddedClusterOptions = {}): Promise<EmbeddedCluster> {
    const log = options.log ?? pino({ level: 'warn' }).child({ component: 'embedded-cluster' });
    const store = new Store({ historySize: options.historySize });
    if (options.persistPath) {
      const snapshot = await loadSnapshot(options.persistPath);
      if (snapshot) store.restore(snapshot);
    }
    const faults = new Faults();
    const server = new ApiServer({ store, faults, log, bookmarkIntervalMs: options.bookmarkIntervalMs });
    const host = options.host ?? '127.0.0.1';
    await server.app.listen({ port: options.port ?? 0, host });
    const { port } = server.app.server.address() as AddressInfo;
    const cluster = new EmbeddedCluster(store, faults, server, `http://${host}:${port}`, options, log);
    if (options.persistPath) store.onChange(() => cluster.scheduleSave());
    log.info({ url: cluster.url, persistPath: options.persistPath }, 'embedded cluster listening');
    return cluster;
  }

  /** A client-node KubeConfig for this cluster (plain HTTP, so skipTLSVerify), context `tessera-embedded`. */
  kubeConfig(namespace = 'default'): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'tessera-embedded', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'tessera' }],
      contexts: [{ name: 'tessera-embedded', cluster: 'tessera-embedded', user: 'tessera', namespace }],
      currentContext: 'tessera-embedded',
    });
    return kc;
  }

  /** Writes a kubeconfig file for kubectl (`kubectl --kubeconfig <path> get pods`). */
  async writeKubeconfig(path: string): Promise<void> {
    await writeFileAtomic(path, this.kubeConfig().exportConfig(), 0o600);
  }

  /** How many watch streams clients hold open now. */
  openWatches(): number {
    return this.server.openWatches();
  }

  /** Ends every open watch, cleanly or by dropping the connection: clients must re-watch or relist. */
  closeWatches(options: { abrupt?: boolean } = {}): void {
    this.server.closeWatches(options);
  }

  /** Writes the state file now (when persistPath is set). */
  async save(): Promise<void> {
    const path = this.options.persistPath;
    if (!path) return;
    clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    // Saves run one after another so an older snapshot never lands after a newer one.
    this.saving = this.saving.then(() => saveSnapshot(path, this.store.snapshot()));
    await this.saving;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.server.close();
    await this.save();
  }

  private scheduleSave(): void {
    if (this.saveTimer !== undefined || this.stopped) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.save().catch((error: unknown) => this.log.error({ err: error, path: this.options.persistPath }, 'saving embedded cluster state failed'));
    }, this.options.persistDebounceMs ?? 1000);
  }
}
