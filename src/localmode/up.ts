/**
 * `tessera up`: the whole stack in one process. In start order: the embedded API server (optionally persisted),
 * the topology's Nodes and the fake GPU operator's ConfigMaps, the scheduler extender, one simulated kubelet and
 * one device plugin per node, the status updater and the exporter, the scheduling driver playing kube-scheduler
 * against the extender, and the dashboard; then, if asked, the demo workload. Everything stops in reverse order,
 * also when a later part fails to start.
 */
import type { KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { generateSigningKey, loadOrCreateKeyFile, publicKeyOf } from '../api/index.js';
import { EMBEDDED_USER, EmbeddedCluster } from '../cluster/index.js';
import { ADMIN_USER, CertificateAuthority, ControlPlane } from '../controlplane/index.js';
import { publishTopology, startStatusUpdater } from '../fakeoperator/index.js';
import { NODE_TOPOLOGY_LABEL, TOPOLOGY_CONFIGMAP, parseTopology, type Topology } from '../topology/index.js';
import { startExporter } from '../exporter/index.js';
import { loadDeviceConfig, reportNotices, type DeviceConfig } from '../config/index.js';
import { TesseraError } from '../errors.js';
import { isConflict, isNotFound, resolvesWithin, withRetry } from '../kube/index.js';
import { DEFAULT_CONFIG, extenderDeviceOptions, startExtender } from '../scheduler/extender/index.js';
import { policyByName } from '../scheduler/policies/index.js';
import { buildDashboardServer, dashboardView } from './dashboard/index.js';
import { submitDemo } from './demo.js';
import { SchedulingDriver } from './driver.js';
import type { DriverStats } from './stats.js';
import { startGpuNodes } from './gpu-nodes.js';
import { registerWebhook, startKubeScheduler } from './control-plane-mode.js';
import { ClusterMirror } from './mirror.js';
import { SchedulerObserver } from './scheduler-observer.js';
import { DEFAULT_SCHEDULER_NAME, loadSchedulerSettings } from './scheduler-config.js';
import { WorkloadController } from './workload-controller.js';
import { loadLocalTopology, nodeObject, operatorTopology, type LocalTopology } from './topology.js';
import { catalogProfiles } from '../geometry/index.js';

/** Where the fake GPU operator's topology ConfigMaps live. */
export const OPERATOR_NAMESPACE = 'gpu-operator';

/** The repository (or installed package) root, which holds config/ and examples/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface UpOptions {
  topologyPath: string;
  /** The KubeSchedulerConfiguration the driver follows (its extender's urlPrefix is replaced by ours). */
  schedulerConfigPath: string;
  /** HAMi device config: resource names, defaults, knownMigGeometries. */
  deviceConfigPath: string;
  kubeconfigPath: string;
  host: string;
  apiPort: number;
  extenderPort: number;
  dashboardPort: number;
  exporterPort: number;
  /** The extender's scoring policy (src/scheduler/policies). */
  policy: string;
  /** Persist the API server's state here (and load it on start). */
  statePath?: string;
  /**
   * A folder of upstream binaries (scripts/k8s-bins.sh): run on the stock etcd, kube-apiserver,
   * kube-controller-manager and kube-scheduler instead of the embedded API server and the driver.
   */
  controlPlane?: string;
  demo: boolean;
  log: Logger;
}

export interface LocalCluster {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
  topology: LocalTopology;
  urls: { api: string; extender: string; dashboard: string; exporter: string };
  /** Pods the demo submitted (0 without --demo or when they existed already). */
  demoPods: number;
  stop(): Promise<void>;
}

async function readDeviceConfig(path: string): Promise<DeviceConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be read (${(cause as Error).message})`, { field: path, cause });
  }
  const config = loadDeviceConfig(text);
  if (!config.ok) throw config.error;
  return config.value;
}

/** Starts a server on a port the user chose; a port already taken is the user's to fix, so the error names the flag. */
async function listening<T>(flag: string, host: string, port: number, start: Promise<T>): Promise<T> {
  try {
    return await start;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    throw new TesseraError('INVALID_INPUT', `${host}:${port} is already in use (another tessera up?); choose a free port, or 0 for any`, { field: flag, cause: error });
  }
}

/**
 * The stock control plane in a fresh folder beside the kubeconfig (its etcd data starts empty: `--state` is the
 * embedded server's).
 */
async function startControlPlane(binDir: string, kubeconfigPath: string, log: Logger): Promise<ControlPlane> {
  const dir = join(dirname(kubeconfigPath), 'control-plane');
  await rm(dir, { recursive: true, force: true });
  return ControlPlane.start({ binDir, dir, controllerManager: true, log: log.child({ component: 'control-plane' }) });
}

/** Creates an object unless it exists (restored state keeps what it holds). */
async function createUnlessExists(create: () => Promise<unknown>): Promise<void> {
  try {
    await withRetry(create);
  } catch (error) {
    if (!isConflict(error)) throw error;
  }
}

/**
 * The Nodes, and the fake GPU operator's topology ConfigMaps that the fake device plugins, the status updater and
 * the exporter read. A restored state keeps its own: its ConfigMaps hold the MIG instances that existed when it was
 * saved, which the fake GPUs must come back with, as real ones would.
 */
async function prepareCluster(kubeConfig: KubeConfig, topology: LocalTopology): Promise<Topology> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  for (const node of topology.nodes) await createUnlessExists(() => api.createNode({ body: nodeObject(node, new Date()) }));
  await createUnlessExists(() => api.createNamespace({ body: { metadata: { name: OPERATOR_NAMESPACE } } }));
  let cluster;
  try {
    cluster = await api.readNamespacedConfigMap({ name: TOPOLOGY_CONFIGMAP, namespace: OPERATOR_NAMESPACE });
  } catch (error) {
    if (!isNotFound(error)) throw error;
    const operator = operatorTopology(topology);
    await publishTopology(api, OPERATOR_NAMESPACE, operator);
    return operator;
  }
  const perNode = await api.listNamespacedConfigMap({ namespace: OPERATOR_NAMESPACE, labelSelector: NODE_TOPOLOGY_LABEL });
  const nodes = Object.fromEntries(perNode.items.map((cm) => [cm.metadata?.labels?.[NODE_TOPOLOGY_LABEL] ?? '', cm.data ?? {}]));
  const restored = parseTopology(cluster.data ?? {}, nodes);
  if (!restored.ok) throw restored.error;
  const missing = topology.nodes.find((n) => !restored.value.nodes[n.name]);
  if (missing)
    throw new TesseraError('INVALID_CONFIG', `node ${missing.name} is not in the saved state; start with the topology the state was saved with, or a new --state file`, { field: '--topology' });
  return restored.value;
}

/** Where the signing keys of a saved state live: beside it, one file per key (mode 0600). */
export const keyDirOf = (statePath: string): string => `${statePath}.keys`;

/**
 * The scheduler's key and each node's: kept beside a saved state, so decisions saved in it still verify after a
 * restart (a new key would disown every saved grant and hand its GPUs out again); in memory otherwise. A state
 * without its keys is refused for the same reason.
 */
function signingKeys(statePath: string | undefined, nodes: readonly string[]): { scheduler: KeyObject; node(name: string): KeyObject } {
  if (!statePath) {
    const keys = new Map(nodes.map((n) => [n, generateSigningKey()]));
    const scheduler = generateSigningKey();
    return { scheduler, node: (name) => keys.get(name) ?? generateSigningKey() };
  }
  const dir = keyDirOf(statePath);
  const schedulerPath = join(dir, 'scheduler.pem');
  if (existsSync(statePath) && !existsSync(schedulerPath)) {
    throw new TesseraError(
      'INVALID_CONFIG',
      `has no signing key beside it (${schedulerPath}): the grants saved in it could not be verified, and their GPUs would be given out again; start with a new --state file`,
      { field: '--state' },
    );
  }
  const scheduler = loadOrCreateKeyFile(schedulerPath, '--state').key;
  const keys = new Map(nodes.map((n) => [n, loadOrCreateKeyFile(join(dir, `node-${n}.pem`), '--state').key]));
  return { scheduler, node: (name) => keys.get(name) ?? generateSigningKey() };
}

/** How long each of Tessera's parts may take to stop before `tessera up` goes on without it. */
const PART_STOP_MS = 10_000;

export async function startLocalCluster(options: UpOptions): Promise<LocalCluster> {
  const { log } = options;
  const topology = loadLocalTopology(options.topologyPath);
  const settings = loadSchedulerSettings(options.schedulerConfigPath);
  // The webhook routes GPU pods to the file's first profile, Tessera's.
  const schedulerName = settings.schedulerNames[0] ?? DEFAULT_SCHEDULER_NAME;
  const deviceConfig = await readDeviceConfig(options.deviceConfigPath);
  reportNotices(deviceConfig, log);
  const policy = policyByName(options.policy, '--policy');
  if (!policy.ok) throw policy.error;
  const deviceOptions = extenderDeviceOptions(deviceConfig, policy.value);
  /** `graceMs` null: the part bounds its own stop. */
  const stoppers: Array<{ part: string; stop: () => Promise<void>; graceMs: number | null }> = [];
  const stopsWith = (part: string, stopPart: () => Promise<void>, graceMs: number | null = PART_STOP_MS): void => void stoppers.push({ part, stop: stopPart, graceMs });
  let stopping: Promise<void> | undefined;
  // Once, however often it is asked (a second Ctrl-C while stopping waits for the first). Each of Tessera's parts
  // gets PART_STOP_MS, so one that hangs is named and the rest (the API server last) still stop within the
  // command's grace; the API server's own stop is bounded by its processes' SIGKILL deadlines.
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const { part, stop: stopPart, graceMs } of [...stoppers].reverse()) {
        try {
          if (graceMs === null) await stopPart();
          else if (!(await resolvesWithin(stopPart(), graceMs))) log.warn({ part, graceMs }, 'a part did not stop in time; going on without it');
        } catch (error) {
          log.warn({ part, err: error }, 'a part did not stop cleanly');
        }
      }
    })());

  try {
    const { host } = options;
    // Before the API server creates a new state file: a state is never left without its keys.
    const keys = signingKeys(
      options.statePath,
      topology.nodes.map((n) => n.name),
    );
    await mkdir(dirname(options.kubeconfigPath), { recursive: true });
    const cluster = options.controlPlane
      ? await startControlPlane(options.controlPlane, options.kubeconfigPath, log)
      : await listening(
          '--api-port',
          host,
          options.apiPort,
          EmbeddedCluster.start({ host, port: options.apiPort, ...(options.statePath ? { persistPath: options.statePath } : {}), log: log.child({ component: 'api-server' }) }),
        );
    stopsWith('api-server', () => cluster.stop(), null);
    await cluster.writeKubeconfig(options.kubeconfigPath);
    const kubeConfig = cluster.kubeConfig();
    const operator = await prepareCluster(kubeConfig, topology);
    const plane = cluster instanceof ControlPlane ? cluster : undefined;
    // The API server (kube-apiserver or the embedded one) calls the admission webhook over HTTPS with a certificate
    // its CA bundle trusts: the control plane's CA, or one made for this run.
    const webhookCa = plane ? plane.ca : await CertificateAuthority.create('tessera-local-webhook-ca');
    const webhookTls = await webhookCa.issue({ commonName: 'tessera-webhook', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], usage: 'server' });

    // The embedded API server has one identity, which the extender and the device plugins write decisions as.
    const extender = await listening(
      '--extender-port',
      host,
      options.extenderPort,
      startExtender({
        config: {
          ...DEFAULT_CONFIG,
          policy: options.policy,
          host,
          port: options.extenderPort,
          webhookPort: 0,
          schedulerName,
          trustedUsers: [plane ? ADMIN_USER : EMBEDDED_USER.username],
          leaderElection: { ...DEFAULT_CONFIG.leaderElection, enabled: false },
        },
        kubeConfig,
        signingKey: keys.scheduler,
        tls: { cert: Buffer.from(webhookTls.certPem), key: Buffer.from(webhookTls.keyPem) },
        policy: policy.value,
        ...deviceOptions,
        log: log.child({ component: 'extender' }),
      }),
    );
    stopsWith('extender', () => extender.stop());
    // Before anything writes pods: a configuration restored with --state names the last run's address.
    if (!extender.secureUrl) throw new TesseraError('INTERNAL', 'the extender has no HTTPS listener for the webhook');
    await registerWebhook(kubeConfig, extender.secureUrl, webhookCa.certPem);

    const gpuNodes = await startGpuNodes({
      topology,
      operator,
      kubeConfig,
      schedulerKey: publicKeyOf(keys.scheduler),
      nodeKey: keys.node,
      requestConfig: deviceOptions.requestConfig,
      splitCount: deviceConfig.nvidia.deviceSplitCount,
      deviceConfig,
      log,
    });
    stopsWith('gpu-nodes', () => gpuNodes.stop());

    const statusUpdater = startStatusUpdater({ kubeConfig, namespace: OPERATOR_NAMESPACE, profiles: catalogProfiles, log: log.child({ component: 'status-updater' }) });
    stopsWith('status-updater', () => statusUpdater.stop());
    const exporter = await listening(
      '--exporter-port',
      host,
      options.exporterPort,
      startExporter({ kubeConfig, namespace: OPERATOR_NAMESPACE, profiles: catalogProfiles, host, port: options.exporterPort, log: log.child({ component: 'exporter' }) }),
    );
    stopsWith('exporter', () => exporter.stop());

    const mirror = await ClusterMirror.start(kubeConfig, log.child({ component: 'informers' }));
    stopsWith('informers', () => mirror.stop());
    let scheduling: { snapshot(): DriverStats };
    if (plane) {
      const observer = new SchedulerObserver(mirror);
      stopsWith('scheduler-observer', async () => observer.stop());
      await startKubeScheduler(plane, options.schedulerConfigPath, extender.url);
      scheduling = observer;
    } else {
      // kube-controller-manager's part for Deployments and ReplicaSets (the control plane runs the real one).
      const workloads = await WorkloadController.start({ kubeConfig, log: log.child({ component: 'workload-controller' }) });
      stopsWith('workload-controller', () => workloads.stop());
      // One driver per profile, each calling every extender of the file (at our address), as kube-scheduler does;
      // and, unless the file has that profile, the cluster's own default-scheduler, which no extender serves.
      const extenders = settings.extenders.map((e) => ({ ...e, urlPrefix: extender.url }));
      const profiles = settings.schedulerNames.map((schedulerName) => ({ schedulerName, extenders }));
      if (!settings.schedulerNames.includes(DEFAULT_SCHEDULER_NAME)) profiles.push({ schedulerName: DEFAULT_SCHEDULER_NAME, extenders: [] });
      const drivers = profiles.map((profile) => new SchedulingDriver({ kubeConfig, mirror, ...profile, log: log.child({ component: 'kube-scheduler', profile: profile.schedulerName }) }));
      for (const driver of drivers) stopsWith('kube-scheduler', () => driver.stop());
      scheduling = drivers[0]!;
    }

    const dashboard = await buildDashboardServer(
      { view: () => dashboardView(mirror.nodes(), mirror.pods(), scheduling.snapshot()), subscribe: (listener) => mirror.subscribe(() => listener()) },
      log.child({ component: 'dashboard' }),
    );
    const dashboardUrl = (await listening('--dashboard-port', host, options.dashboardPort, dashboard.listen({ host, port: options.dashboardPort }))).replace('0.0.0.0', '127.0.0.1');
    stopsWith('dashboard', () => dashboard.close());

    const demoPods = options.demo ? await submitDemo(kubeConfig, schedulerName) : 0;
    return { kubeConfig, kubeconfigPath: options.kubeconfigPath, topology, urls: { api: cluster.url, extender: extender.url, dashboard: dashboardUrl, exporter: exporter.url }, demoPods, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
