/**
 * `tessera exporter`: serves `/metrics` with the DCGM-style series of the fake GPUs (from the topology
 * ConfigMaps), the scheduler-view series (from node inventories and pod decisions), and Tessera's decision
 * events (from pod changes); or, on a real GPU node, that node's GPUs as nvidia-smi reports them. Watches feed
 * in-memory state; every scrape computes the series from it.
 */
import type { KubeConfig, V1Node, V1Pod } from '@kubernetes/client-node';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import { type BindPhase, type Decision, decodeDecision, decodeInventory, HAMI_POD, type NodeInventory, TESSERA_NODE, TESSERA_POD } from '../api/index.js';
import { timestampMs, watchCluster, type ClusterWatch, type WatchedObject } from '../kube/index.js';
import { TopologyStore, type UtilizationRange } from '../topology/index.js';
import type { Executor } from '../deviceplugin/nvml/index.js';
import { tesseraBuildInfo } from './build-info.js';
import { collectDcgm, DCGM_FAMILIES, energyMeter } from './dcgm.js';
import { collectHamiMonitor, HAMI_MONITOR_FAMILIES, kernelClock } from './hami-monitor.js';
import { createDecisionMetrics, podTransition, type DecisionMetrics, type PodSighting } from './decision-events.js';
import { collectNvml, NVML_FAMILIES, pollNvml } from './nvml-source.js';
import { registerFamilies, registerSchedulerView } from './registry.js';
import type { ViewPod } from './scheduler-view.js';
import type { MigProfileLookup } from '../geometry/index.js';

export interface ExporterOptions {
  kubeConfig: KubeConfig;
  /** Namespace of the topology ConfigMaps. */
  namespace: string;
  log: Logger;
  profiles: MigProfileLookup;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  legacyMigMetric?: boolean;
  /** Chooses a utilization within a usage's range; random by default, as a real GPU wanders. */
  pickUtilization?: (range: UtilizationRange) => number;
  /** Milliseconds, for the energy counters. */
  now?: () => number;
  /**
   * A real GPU node instead of the fake operator's topology: this node's GPUs as nvidia-smi reports them
   * (`nvml-source.ts`), and only node series (the scheduler view and decision counts are the cluster-wide
   * exporter's; every node repeating them would multiply them).
   */
  nvml?: { node: string; executor: Executor; pollMs: number };
}

export interface Exporter {
  readonly url: string;
  readonly registry: Registry;
  readonly synced: Promise<void>;
  stop(): Promise<void>;
}

const randomWithin = (range: UtilizationRange): number => range.min + Math.round(Math.random() * (range.max - range.min));

/** One value per usage within a scrape, so DCGM's and HAMi's monitor series of that scrape agree. */
function onePickPerScrape(pick: (range: UtilizationRange) => number): (range: UtilizationRange) => number {
  let picked = new WeakMap<UtilizationRange, number>();
  let clearing = false;
  return (range) => {
    if (!clearing) {
      clearing = true;
      setImmediate(() => {
        picked = new WeakMap();
        clearing = false;
      });
    }
    const known = picked.get(range);
    if (known !== undefined) return known;
    const value = pick(range);
    picked.set(range, value);
    return value;
  };
}

/** The cluster as the exporter keeps it between scrapes: decoded once per change, read on every scrape. */
class ExporterState {
  readonly topology = new TopologyStore();
  readonly inventories = new Map<string, NodeInventory>();
  readonly pods = new Map<string, ViewPod>();
  private readonly sightings = new Map<string, PodSighting>();

  constructor(
    private readonly log: Logger,
    private readonly events: DecisionMetrics,
  ) {}

  apply(change: WatchedObject, deleted: boolean): void {
    if (change.kind === 'configmap') this.applyConfigMap(change.object.metadata?.name ?? '', change.object.data ?? {}, deleted);
    else if (change.kind === 'node') this.applyNode(change.object, deleted);
    else this.applyPod(change.object, deleted);
  }

  private applyConfigMap(name: string, data: Record<string, string>, deleted: boolean): void {
    if (deleted) return this.topology.remove(name);
    const result = this.topology.apply(name, data);
    if (!result.ok) this.log.error({ configMap: name, field: result.error.field, err: result.error.message }, 'topology refused; exporting the previous one');
  }

  private applyNode(node: V1Node, deleted: boolean): void {
    const name = node.metadata?.name ?? '';
    const text = node.metadata?.annotations?.[TESSERA_NODE.inventory];
    if (deleted || text === undefined) {
      this.inventories.delete(name);
      return;
    }
    try {
      this.inventories.set(name, decodeInventory(text));
    } catch (error) {
      this.log.warn({ node: name, err: (error as Error).message }, 'node inventory unreadable; keeping the previous one');
    }
  }

  private applyPod(pod: V1Pod, deleted: boolean): void {
    const uid = pod.metadata?.uid ?? '';
    const finished = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
    const decision = this.decisionOf(pod);
    if (deleted) {
      this.pods.delete(uid);
      this.sightings.delete(uid);
      return;
    }
    const rejected = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    const { sighting, events } = podTransition(this.sightings.get(uid), {
      decision,
      rejectionReason: rejected?.reason ?? null,
      rejectionMessage: rejected?.message ?? null,
      createdAtMs: timestampMs(pod.metadata?.creationTimestamp),
    });
    this.sightings.set(uid, sighting);
    for (const event of events) this.events.observe(event);
    if (decision && !finished) this.pods.set(uid, { decision, bindPhase: (pod.metadata?.annotations?.[HAMI_POD.bindPhase] as BindPhase | undefined) ?? null });
    else this.pods.delete(uid);
  }

  private decisionOf(pod: V1Pod): Decision | null {
    const text = pod.metadata?.annotations?.[TESSERA_POD.decision];
    if (text === undefined) return null;
    try {
      return decodeDecision(text);
    } catch (error) {
      this.log.warn({ pod: `${pod.metadata?.namespace}/${pod.metadata?.name}`, err: (error as Error).message }, 'decision unreadable; pod left out');
      return null;
    }
  }
}

export async function startExporter(options: ExporterOptions): Promise<Exporter> {
  const { log, profiles } = options;
  const registry = new Registry();
  const { nvml } = options;
  const state = new ExporterState(log, createDecisionMetrics(nvml ? new Registry() : registry));
  const poller = nvml ? pollNvml(nvml.executor, nvml.pollMs, log) : undefined;
  if (nvml && poller) {
    registerFamilies(registry, NVML_FAMILIES, () => collectNvml({ node: nvml.node, readings: poller.readings(), pods: [...state.pods.values()] }));
  } else {
    const pickUtilization = onePickPerScrape(options.pickUtilization ?? randomWithin);
    const now = options.now ?? Date.now;
    const energy = energyMeter(now);
    const kernels = kernelClock(now);
    registerFamilies(registry, Object.values(DCGM_FAMILIES), () => collectDcgm({ topology: state.topology.topology(), profiles, pickUtilization, energy }));
    registerFamilies(registry, Object.values(HAMI_MONITOR_FAMILIES), () => collectHamiMonitor({ topology: state.topology.topology(), pods: [...state.pods.values()], pickUtilization, kernels }));
    registerSchedulerView(registry, () => ({ nodes: [...state.inventories.values()], pods: [...state.pods.values()] }), {
      profiles,
      legacyMigMetric: options.legacyMigMetric ?? false,
      buildInfo: tesseraBuildInfo(),
    });
  }
  const watch: ClusterWatch = watchCluster({ kubeConfig: options.kubeConfig, namespace: options.namespace, log, onChange: (change, deleted) => state.apply(change, deleted) });
  const synced = Promise.all([watch.synced, poller?.first]).then(() => undefined);

  const app: FastifyInstance = Fastify({ logger: false });
  app.get('/metrics', async (_request, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  app.get('/healthz', async () => ({ ok: true }));
  let ready = false;
  void synced.then(() => (ready = true));
  app.get('/readyz', async (_request, reply) => reply.code(ready ? 200 : 503).send({ ready }));
  await app.listen({ host: options.host ?? '127.0.0.1', port: options.port ?? 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const url = `http://${options.host ?? '127.0.0.1'}:${port}`;
  log.info({ url }, 'exporter listening');
  return {
    url,
    registry,
    synced,
    async stop() {
      poller?.stop();
      await app.close();
      await watch.stop();
    },
  };
}
