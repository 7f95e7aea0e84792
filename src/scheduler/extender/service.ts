/**
 * `tessera scheduler` assembled: informers feed the cluster view, a Lease decides who may decide, the extender
 * answers kube-scheduler over HTTP, and a sweeper takes back grants the device plugin never confirmed.
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import { hostname } from 'node:os';
import { CoreV1Api, type KubeConfig, type V1Node, type V1Pod } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { type LeaderElector, runInformer, type RunningInformer, startLeaderElection } from '../../kube/index.js';
import type { DemandMix } from '../../geometry/index.js';
import type { MigPlanner, Policy, RunContext } from '../core/index.js';
import type { RequestConfig } from '../../request/index.js';
import { publicKeyOf } from '../../api/index.js';
import { ClusterView } from './cluster-view.js';
import { NodeKeys } from './node-keys.js';
import type { ExtenderConfig } from './config.js';
import { PodEffects } from './effects.js';
import { Extender, type Readiness } from './extender.js';
import { createMetrics, type ExtenderMetrics } from './metrics.js';
import { startReservationSweeper } from './reservation-sweeper.js';
import { buildServer, type ExtenderServer } from './server.js';
import { startWorkloadLearner, type WorkloadLearner } from './workload.js';

export interface StartExtenderOptions {
  config: ExtenderConfig;
  kubeConfig: KubeConfig;
  /** The scheduler's Ed25519 private key: it signs decisions and release marks. */
  signingKey: KeyObject;
  /** Resource names and defaults from the HAMi device config. */
  requestConfig: RequestConfig;
  /** HAMi's deviceMemoryScaling. */
  memoryScaling: number;
  /** Per-node deviceMemoryScaling from the device config's nodeconfig. */
  nodeMemoryScaling?: Readonly<Record<string, number>>;
  policy: Policy;
  migPlanner?: MigPlanner;
  /** The MIG planner for a learned demand mix (device-options.ts); absent: `migPlanner` whatever the workload. */
  migPlannerFor?: (demand: DemandMix) => MigPlanner;
  resolveModel?: (reported: string) => string;
  log: Logger;
  now?: () => number;
  /**
   * Serving certificate for the HTTPS webhook listener on config.webhookPort (none: no such listener); with
   * `clientCa`, the extender port too serves HTTPS, to clients whose certificate that CA signed.
   */
  tls?: { cert: Buffer; key: Buffer; clientCa?: Buffer };
}

export interface RunningExtender {
  /** Base URL the extender listens on (`http://127.0.0.1:<port>`). */
  readonly url: string;
  /** Base URL of the HTTPS listener, when TLS is configured. */
  readonly secureUrl: string | undefined;
  readonly view: ClusterView;
  readonly metrics: ExtenderMetrics;
  readonly server: ExtenderServer;
  isLeader(): boolean;
  /**
   * Stops serving and the informers. The lease is released so a follower takes over at once, unless
   * `releaseLease` is false (what a crash leaves behind: a follower waits out the lease).
   */
  stop(options?: { releaseLease?: boolean }): Promise<void>;
}

export async function startExtender(options: StartExtenderOptions): Promise<RunningExtender> {
  const { config, kubeConfig, log } = options;
  const now = options.now ?? Date.now;
  const metrics = createMetrics();
  const nodeKeys = new NodeKeys();
  const view = new ClusterView({
    keys: nodeKeys.trusted(publicKeyOf(options.signingKey)),
    log,
    memoryScaling: options.memoryScaling,
    ...(options.nodeMemoryScaling ? { nodeMemoryScaling: options.nodeMemoryScaling } : {}),
    now,
    ...(options.migPlanner ? { migPlanner: options.migPlanner } : {}),
    ...(options.resolveModel ? { resolveModel: options.resolveModel } : {}),
  });

  const core = kubeConfig.makeApiClient(CoreV1Api);
  const nodes: RunningInformer<V1Node> = runInformer<V1Node>({
    kubeConfig,
    path: '/api/v1/nodes',
    list: () => core.listNode(),
    handlers: {
      upsert: (n) => {
        view.upsertNode(n);
        if (nodeKeys.upsert(n)) view.recheckNode(n.metadata?.name ?? '');
      },
      remove: (n) => {
        nodeKeys.remove(n.metadata?.name ?? '');
        view.removeNode(n.metadata?.name ?? '');
      },
    },
    log,
  });
  const pods: RunningInformer<V1Pod> = runInformer<V1Pod>({
    kubeConfig,
    path: '/api/v1/pods',
    list: () => core.listPodForAllNamespaces(),
    handlers: { upsert: (p) => view.upsertPod(p), remove: (p) => view.removePod(p) },
    log,
  });
  let synced = false;
  let learner: WorkloadLearner | undefined;
  const allSynced = Promise.all([nodes.synced, pods.synced]).then(() => {
    synced = true;
    if (config.workloadRefreshSeconds > 0) {
      learner = startWorkloadLearner({
        view,
        requestConfig: options.requestConfig,
        refreshMs: config.workloadRefreshSeconds * 1000,
        ...(options.migPlannerFor ? { plannerFor: options.migPlannerFor } : {}),
        ...(options.policy.needsTypical ? { setLearned: (learned: Pick<RunContext, 'typical' | 'scarceHomes'>) => extender.setLearned(learned) } : {}),
        log,
      });
      learner.refresh();
    }
    metrics.synced.set(1);
    log.info({ nodes: view.state.nodes().length, grants: view.book.size }, 'informers synced');
  });

  const le = config.leaderElection;
  const elector: LeaderElector | undefined = le.enabled
    ? startLeaderElection({
        kubeConfig,
        namespace: le.namespace,
        name: le.name,
        identity: le.identity || `${hostname()}-${randomUUID().slice(0, 8)}`,
        leaseDurationSeconds: le.leaseDurationSeconds,
        renewDeadlineSeconds: le.renewDeadlineSeconds,
        retryPeriodSeconds: le.retryPeriodSeconds,
        log,
        onStartedLeading: () => metrics.leader.set(1),
        onStoppedLeading: () => metrics.leader.set(0),
      })
    : undefined;
  if (!elector) metrics.leader.set(1);
  const isLeader = (): boolean => elector?.isLeader() ?? true;

  const readiness: Readiness = {
    notReadyReason: () => (!synced ? 'informers have not synced' : !isLeader() ? 'not the leader' : undefined),
    waitSynced: (ms) =>
      new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        void allSynced.then(() => {
          clearTimeout(timer);
          resolve(true);
        });
      }),
  };

  const effects = new PodEffects(kubeConfig, options.signingKey, log, now);
  const context: RunContext = { nodePolicy: config.nodePolicy, gpuPolicy: config.gpuPolicy };
  const extender = new Extender({
    view,
    effects,
    readiness,
    policy: options.policy,
    context,
    requestConfig: options.requestConfig,
    key: options.signingKey,
    log,
    metrics,
    now,
    syncWaitMs: config.syncWaitSeconds * 1000,
    filterAnswers: config.filterAnswers,
  });

  const serverOptions = {
    service: extender,
    webhook: { request: options.requestConfig, trustedUsers: config.trustedUsers, ...(config.schedulerName ? { schedulerName: config.schedulerName } : {}) },
    metrics: metrics.registry,
    requests: metrics.requests,
    log,
  };
  const { tls } = options;
  // kube-scheduler calls the extender port (loopback, or HTTPS with client certificates); the API server calls the
  // webhook listener, which serves nothing else.
  const server = buildServer(tls?.clientCa ? { ...serverOptions, https: tls } : serverOptions);
  const secure = tls ? buildServer({ ...serverOptions, https: { cert: tls.cert, key: tls.key }, routes: 'webhook' }) : undefined;
  let url: string;
  let secureUrl: string | undefined;
  try {
    url = (await server.listen({ host: config.host, port: config.port })).replace('0.0.0.0', '127.0.0.1');
    secureUrl = secure ? (await secure.listen({ host: config.webhookHost, port: config.webhookPort })).replace('0.0.0.0', '127.0.0.1') : undefined;
    if (config.host !== '127.0.0.1' && config.host !== '::1' && config.host !== 'localhost' && !tls?.clientCa) {
      log.warn(
        { host: config.host },
        'the extender port (filter, bind) is served beyond loopback without client certificates: anyone who reaches it can bind pods; use --client-ca-file or a NetworkPolicy',
      );
    }
  } catch (error) {
    // A port in use must not leave informers and the lease running behind the error: the process could not exit.
    await server.close();
    await secure?.close();
    learner?.stop();
    await elector?.stop({ release: true });
    await Promise.all([nodes.stop(), pods.stop()]);
    effects.close();
    throw error;
  }

  const stopSweeper = startReservationSweeper({ view, effects, metrics, log, now, ttlSeconds: config.reservationTtlSeconds, isLeader });

  return {
    url,
    secureUrl,
    view,
    metrics,
    server,
    isLeader,
    async stop({ releaseLease = true } = {}) {
      stopSweeper();
      learner?.stop();
      await server.close();
      await secure?.close();
      await elector?.stop({ release: releaseLease });
      await Promise.all([nodes.stop(), pods.stop()]);
      effects.close();
    },
  };
}
