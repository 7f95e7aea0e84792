/**
 * The stock Kubernetes control plane on loopback, from a folder of upstream binaries (`scripts/k8s-bins.sh` builds
 * them): etcd, kube-apiserver, and on request kube-controller-manager and kube-scheduler. A fresh CA signs the API
 * server's serving certificate and one client certificate per identity, so every party authenticates as it does in
 * a real cluster (the admin is in `system:masters`; kube-scheduler and kube-controller-manager use their own
 * `system:kube-*` users, which the default RBAC policy already grants). `tessera up --control-plane` and the
 * real-Kubernetes suite (test/k8s) both run on it.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { parse, stringify } from 'yaml';
import { TesseraError } from '../errors.js';
import { CertificateAuthority, type KeyPairPem } from './pki.js';
import { ComponentProcess } from './process.js';

/** The administrator's user name: the local stack's components and its kubectl all act as it. */
export const ADMIN_USER = 'tessera-admin';

/**
 * The folder of upstream binaries: `$TESSERA_K8S_BIN`, else the cache `scripts/k8s-bins.sh` fills when it is
 * complete; undefined when neither has them (nothing is built here).
 */
export function locateBinaries(): string | undefined {
  const fromEnv = process.env['TESSERA_K8S_BIN'];
  if (fromEnv) {
    if (!existsSync(join(fromEnv, 'kube-apiserver'))) throw new TesseraError('INVALID_CONFIG', `${fromEnv} holds no kube-apiserver; run scripts/k8s-bins.sh`, { field: 'TESSERA_K8S_BIN' });
    return fromEnv;
  }
  try {
    return execFileSync('bash', [fileURLToPath(new URL('../../scripts/k8s-bins.sh', import.meta.url)), '--check'], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .at(-1);
  } catch {
    return undefined;
  }
}

/** The binaries a control plane needs, in the folder `scripts/k8s-bins.sh` prints. */
export const CONTROL_PLANE_BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;

const READY_TIMEOUT_MS = 90_000;
const POLL_MS = 250;
const SERVICE_CIDR = '10.96.0.0/16';

export interface ControlPlaneOptions {
  /** Folder holding etcd, kube-apiserver, kube-controller-manager and kube-scheduler. */
  binDir: string;
  /** Working folder: certificates, kubeconfigs, etcd's data, each component's log. */
  dir: string;
  /** Start kube-controller-manager (Deployments, ReplicaSets, garbage collection). */
  controllerManager?: boolean;
  log: Logger;
}

export interface Identity {
  user: string;
  groups?: string[];
}

/**
 * Free loopback ports, distinct: each is held until all are picked, since the kernel may hand a port just released
 * out again (the short window before a component binds one is accepted).
 */
export async function freePorts(count: number): Promise<number[]> {
  const servers = Array.from({ length: count }, () => createServer());
  try {
    return await Promise.all(
      servers.map(async (server) => {
        await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
        const address = server.address();
        if (address === null || typeof address === 'string') throw new TesseraError('INTERNAL', 'no port from the kernel');
        return address.port;
      }),
    );
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  }
}

/** One free loopback port. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0] as number;
}

function kubeconfigYaml(server: string, caPem: string, name: string, client: KeyPairPem): string {
  const b64 = (text: string): string => Buffer.from(text).toString('base64');
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'tessera', cluster: { server, 'certificate-authority-data': b64(caPem) } }],
    users: [{ name, user: { 'client-certificate-data': b64(client.certPem), 'client-key-data': b64(client.keyPem) } }],
    contexts: [{ name, context: { cluster: 'tessera', user: name, namespace: 'default' } }],
    'current-context': name,
  });
}

/** GET over HTTPS with a client certificate; the status code, or undefined when nothing answered. */
function httpsStatus(url: string, caPem: string, client?: KeyPairPem): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { ca: caPem, ...(client ? { cert: client.certPem, key: client.keyPem } : { rejectUnauthorized: false }), timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once('error', () => resolve(undefined));
    req.once('timeout', () => req.destroy());
    req.end();
  });
}

async function waitUntil(component: ComponentProcess, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (!component.running) throw await component.failure(`exited before it was ${what}`);
    if (await check()) return;
    await sleep(POLL_MS);
  }
  throw await component.failure(`not ${what} within ${READY_TIMEOUT_MS / 1000} s`);
}

export class ControlPlane {
  private readonly components: ComponentProcess[] = [];
  private apiPort = 0;
  private adminCredentials: KeyPairPem | undefined;

  private constructor(
    private readonly options: ControlPlaneOptions,
    readonly ca: CertificateAuthority,
  ) {}

  /** Checks the binaries are there, so a missing build fails with the command that makes it. */
  static async checkBinaries(binDir: string): Promise<void> {
    for (const binary of CONTROL_PLANE_BINARIES) {
      try {
        await access(join(binDir, binary));
      } catch {
        throw new TesseraError('INVALID_CONFIG', `has no ${binary}; build the control plane with scripts/k8s-bins.sh and pass the folder it prints`, { field: '--control-plane' });
      }
    }
  }

  static async start(options: ControlPlaneOptions): Promise<ControlPlane> {
    await ControlPlane.checkBinaries(options.binDir);
    await mkdir(join(options.dir, 'logs'), { recursive: true });
    const plane = new ControlPlane(options, await CertificateAuthority.create('tessera-control-plane-ca'));
    try {
      await plane.startEtcdAndApiServer();
      if (options.controllerManager) await plane.startControllerManager();
    } catch (error) {
      await plane.stop();
      throw error;
    }
    return plane;
  }

  get url(): string {
    return `https://127.0.0.1:${this.apiPort}`;
  }

  /** Writes a file into the working folder (mode 0600: keys and kubeconfigs live here). */
  private async file(name: string, text: string): Promise<string> {
    const path = join(this.options.dir, name);
    await writeFile(path, text, { mode: 0o600 });
    return path;
  }

  private spawn(binary: string, args: string[], name = binary): ComponentProcess {
    const component = ComponentProcess.spawn(name, join(this.options.binDir, binary), args, join(this.options.dir, 'logs'), this.options.log);
    this.components.push(component);
    return component;
  }

  private async startEtcdAndApiServer(): Promise<void> {
    const { dir, log } = this.options;
    const [clientPort, peerPort] = (await freePorts(2)) as [number, number];
    const etcd = this.spawn('etcd', [
      `--data-dir=${join(dir, 'etcd')}`,
      '--name=default',
      `--listen-client-urls=http://127.0.0.1:${clientPort}`,
      `--advertise-client-urls=http://127.0.0.1:${clientPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
    ]);
    await waitUntil(etcd, 'healthy', async () => {
      const response = await fetch(`http://127.0.0.1:${clientPort}/health`).catch(() => undefined);
      return response?.ok === true;
    });

    this.apiPort = await freePort();
    const serving = await this.ca.issue({
      commonName: 'kube-apiserver',
      dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
      ipAddresses: ['127.0.0.1', '10.96.0.1'],
      usage: 'server',
    });
    const serviceAccount = generateKeyPairSync('ec', { namedCurve: 'prime256v1', publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const caFile = await this.file('ca.crt', this.ca.certPem);
    const apiServer = this.spawn('kube-apiserver', [
      `--etcd-servers=http://127.0.0.1:${clientPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      // The `kubernetes` Service's endpoints may not be a loopback address; nothing here dials it.
      '--endpoint-reconciler-type=none',
      `--secure-port=${this.apiPort}`,
      `--tls-cert-file=${await this.file('apiserver.crt', serving.certPem)}`,
      `--tls-private-key-file=${await this.file('apiserver.key', serving.keyPem)}`,
      `--client-ca-file=${caFile}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${await this.file('sa.pub', serviceAccount.publicKey)}`,
      `--service-account-signing-key-file=${await this.file('sa.key', serviceAccount.privateKey)}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      // Pods would wait for their namespace's default ServiceAccount, which only a controller-manager creates;
      // the simulated kubelets mount no tokens either.
      '--disable-admission-plugins=ServiceAccount',
      '--profiling=false',
    ]);
    this.adminCredentials = await this.ca.issue({ commonName: ADMIN_USER, organizations: ['system:masters'], usage: 'client' });
    const admin = this.adminCredentials;
    await waitUntil(apiServer, 'ready', async () => (await httpsStatus(`${this.url}/readyz`, this.ca.certPem, admin)) === 200);
    log.info({ url: this.url }, 'kube-apiserver ready');
  }

  private async startControllerManager(): Promise<void> {
    const kubeconfig = await this.writeIdentityKubeconfig('controller-manager.kubeconfig', { user: 'system:kube-controller-manager' });
    const port = await freePort();
    const manager = this.spawn('kube-controller-manager', [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      '--leader-elect=false',
      // Each controller under its own ServiceAccount, as kubeadm runs it: the default RBAC policy grants per controller.
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${join(this.options.dir, 'sa.key')}`,
      `--root-ca-file=${join(this.options.dir, 'ca.crt')}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
    ]);
    await waitUntil(manager, 'healthy', async () => (await httpsStatus(`https://127.0.0.1:${port}/healthz`, this.ca.certPem)) === 200);
  }

  /**
   * Starts the stock kube-scheduler with a KubeSchedulerConfiguration (YAML text, e.g. config/scheduler-config.yaml
   * with its extender's urlPrefix set); its own client connection is filled in here, as `identity` (by default
   * kube-scheduler's own user; a chart's scheduler runs as its ServiceAccount).
   */
  async startScheduler(configYaml: string, identity: Identity = { user: 'system:kube-scheduler' }): Promise<ComponentProcess> {
    // Files per instance: several kube-schedulers may run side by side (replicas electing a leader).
    const port = await freePort();
    const kubeconfig = await this.writeIdentityKubeconfig(`scheduler-${port}.kubeconfig`, identity);
    const config = parse(configYaml) as Record<string, unknown>;
    config['clientConnection'] = { ...((config['clientConnection'] as object | undefined) ?? {}), kubeconfig };
    const configPath = await this.file(`scheduler-${port}.yaml`, stringify(config));
    const scheduler = this.spawn(
      'kube-scheduler',
      [`--config=${configPath}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, '--bind-address=127.0.0.1', `--secure-port=${port}`],
      `kube-scheduler-${port}`,
    );
    await waitUntil(scheduler, 'healthy', async () => (await httpsStatus(`https://127.0.0.1:${port}/healthz`, this.ca.certPem)) === 200);
    return scheduler;
  }

  /** A kubeconfig for an identity (a client certificate the API server trusts). */
  async identityKubeconfigYaml(identity: Identity): Promise<string> {
    const credentials = await this.ca.issue({ commonName: identity.user, ...(identity.groups ? { organizations: identity.groups } : {}), usage: 'client' });
    return kubeconfigYaml(this.url, this.ca.certPem, identity.user, credentials);
  }

  async writeIdentityKubeconfig(name: string, identity: Identity): Promise<string> {
    return this.file(name, await this.identityKubeconfigYaml(identity));
  }

  /** The cluster administrator's kubeconfig (`system:masters`). */
  adminKubeconfigYaml(): string {
    if (!this.adminCredentials) throw new TesseraError('UNAVAILABLE', 'the control plane is not started');
    return kubeconfigYaml(this.url, this.ca.certPem, ADMIN_USER, this.adminCredentials);
  }

  kubeConfig(): KubeConfig {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(this.adminKubeconfigYaml());
    return kubeConfig;
  }

  async writeKubeconfig(path: string): Promise<void> {
    await writeFile(path, this.adminKubeconfigYaml(), { mode: 0o600 });
  }

  /** A component by name (tests crash one with `kill`). */
  component(name: string): ComponentProcess | undefined {
    return this.components.find((c) => c.name === name && c.running);
  }

  /**
   * Stops the components: the API server's clients (schedulers, controller manager) together, then the API server,
   * then etcd. Each may take up to its SIGKILL deadline, so one at a time the clients alone could take 15 s.
   */
  async stop(): Promise<void> {
    const servers = ['kube-apiserver', 'etcd'];
    await Promise.all(this.components.filter((c) => !servers.includes(c.name)).map((c) => c.stop()));
    for (const name of servers) await Promise.all(this.components.filter((c) => c.name === name).map((c) => c.stop()));
  }
}
