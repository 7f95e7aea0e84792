/**
 * `tessera up`: the whole stack in one process. In start order: the embedded API server (optionally persisted),
 * the topology's Nodes, the scheduler extender, the scheduling driver playing kube-scheduler against it, and the
 * dashboard; then, if asked, the demo workload. Everything is stopped in reverse order, also when a later part
 * fails to start.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { EmbeddedCluster } from '../cluster/index.js';
import { isConflict, withRetry } from '../kube/retry.js';
import { DEFAULT_REQUEST_CONFIG } from '../scheduler/core/index.js';
import { DEFAULT_CONFIG } from '../scheduler/extender/config.js';
import { startExtender } from '../scheduler/extender/service.js';
import { policyByName } from '../scheduler/policies/index.js';
import { buildDashboardServer } from './dashboard/server.js';
import { dashboardView } from './dashboard/view.js';
import { submitDemo } from './demo.js';
import { SchedulingDriver } from './driver.js';
import { migShapes } from './mig-shapes.js';
import { ClusterMirror } from './mirror.js';
import { loadSchedulerSettings } from './scheduler-config.js';
import { loadLocalTopology, nodeObject, type LocalTopology } from './topology.js';

/** The repository (or installed package) root, which holds config/ and examples/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface UpOptions {
  topologyPath: string;
  /** The KubeSchedulerConfiguration the driver follows (its extender's urlPrefix is replaced by ours). */
  schedulerConfigPath: string;
  kubeconfigPath: string;
  host: string;
  apiPort: number;
  extenderPort: number;
  dashboardPort: number;
  /** Persist the API server's state here (and load it on start). */
  statePath?: string;
  demo: boolean;
  log: Logger;
}

export interface LocalCluster {
  kubeConfig: KubeConfig;
  kubeconfigPath: string;
  topology: LocalTopology;
  urls: { api: string; extender: string; dashboard: string };
  /** Pods the demo submitted (0 without --demo or when they existed already). */
  demoPods: number;
  stop(): Promise<void>;
}

/** Creates the topology's Nodes; ones that exist (restored state) are kept as they are. */
async function createNodes(kubeConfig: KubeConfig, topology: LocalTopology): Promise<void> {
  const api = kubeConfig.makeApiClient(CoreV1Api);
  for (const node of topology.nodes) {
    try {
      await withRetry(() => api.createNode({ body: nodeObject(node) }));
    } catch (error) {
      if (!isConflict(error)) throw error;
    }
  }
}

export async function startLocalCluster(options: UpOptions): Promise<LocalCluster> {
  const { log } = options;
  const topology = loadLocalTopology(options.topologyPath);
  const settings = loadSchedulerSettings(options.schedulerConfigPath);
  const policy = policyByName(DEFAULT_CONFIG.policy);
  if (!policy.ok) throw policy.error;
  const stoppers: Array<() => Promise<void>> = [];
  const stop = async (): Promise<void> => {
    for (const stopOne of stoppers.reverse()) {
      try {
        await stopOne();
      } catch (error) {
        log.warn({ err: error }, 'a part did not stop cleanly');
      }
    }
  };

  try {
    const cluster = await EmbeddedCluster.start({ host: options.host, port: options.apiPort, ...(options.statePath ? { persistPath: options.statePath } : {}), log: log.child({ component: 'api-server' }) });
    stoppers.push(() => cluster.stop());
    await mkdir(dirname(options.kubeconfigPath), { recursive: true });
    await cluster.writeKubeconfig(options.kubeconfigPath);
    const kubeConfig = cluster.kubeConfig();
    await createNodes(kubeConfig, topology);

    // One process: the extender and the device plugins share the decision-signing key in memory.
    const signingKey = randomBytes(32);
    const extender = await startExtender({
      config: { ...DEFAULT_CONFIG, host: options.host, port: options.extenderPort, schedulerName: settings.schedulerName, leaderElection: { ...DEFAULT_CONFIG.leaderElection, enabled: false } },
      kubeConfig,
      signingKey,
      requestConfig: DEFAULT_REQUEST_CONFIG,
      memoryScaling: 1,
      policy: policy.value,
      log: log.child({ component: 'extender' }),
    });
    stoppers.push(() => extender.stop());

    const mirror = await ClusterMirror.start(kubeConfig, log.child({ component: 'informers' }));
    stoppers.push(() => mirror.stop());
    const driver = new SchedulingDriver({ kubeConfig, mirror, settings: { ...settings, extender: { ...settings.extender, urlPrefix: extender.url } }, log: log.child({ component: 'kube-scheduler' }) });
    stoppers.push(() => driver.stop());

    const dashboard = await buildDashboardServer(
      { view: () => dashboardView(mirror.nodes(), mirror.pods(), driver.snapshot(), migShapes), subscribe: (listener) => mirror.subscribe(() => listener()) },
      log.child({ component: 'dashboard' }),
    );
    const dashboardUrl = (await dashboard.listen({ host: options.host, port: options.dashboardPort })).replace('0.0.0.0', '127.0.0.1');
    stoppers.push(() => dashboard.close());

    const demoPods = options.demo ? await submitDemo(kubeConfig, settings.schedulerName) : 0;
    return { kubeConfig, kubeconfigPath: options.kubeconfigPath, topology, urls: { api: cluster.url, extender: extender.url, dashboard: dashboardUrl }, demoPods, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
