/** The extender's own Prometheus series (the exporter engineer publishes the cluster-wide GPU series). */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { registerFamilies, SCHEDULER_VIEW_FAMILIES, tesseraBuildInfo } from '../../exporter/index.js';

export interface ExtenderMetrics {
  registry: Registry;
  requests: Counter<'verb' | 'outcome'>;
  latency: Histogram<'verb'>;
  binds: Counter<'outcome'>;
  reservations: Gauge<'phase'>;
  leader: Gauge;
  synced: Gauge;
}

export function createMetrics(): ExtenderMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'tessera_extender_' });
  // HAMi's scheduler publishes hami_build_info on its own metrics port: dashboards read the version there.
  const buildInfo = { labels: tesseraBuildInfo(), value: 1 };
  registerFamilies(registry, [SCHEDULER_VIEW_FAMILIES.buildInfo], () => new Map([[SCHEDULER_VIEW_FAMILIES.buildInfo.name, [buildInfo]]]));
  return {
    registry,
    requests: new Counter({ name: 'tessera_extender_requests_total', help: 'Extender calls by verb and outcome.', labelNames: ['verb', 'outcome'], registers: [registry] }),
    latency: new Histogram({
      name: 'tessera_extender_request_duration_seconds',
      help: "Time to answer an extender call (filter and prioritize run inside kube-scheduler's one-pod-at-a-time loop).",
      labelNames: ['verb'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers: [registry],
    }),
    binds: new Counter({ name: 'tessera_extender_binds_total', help: 'Binds by outcome (bound, failed).', labelNames: ['outcome'], registers: [registry] }),
    reservations: new Gauge({ name: 'tessera_extender_reservations', help: 'Granted pods by phase (reserved: awaiting the device plugin; confirmed).', labelNames: ['phase'], registers: [registry] }),
    leader: new Gauge({ name: 'tessera_extender_leader', help: '1 while this replica holds the leader lease.', registers: [registry] }),
    synced: new Gauge({ name: 'tessera_extender_synced', help: '1 once the node and pod informers have synced.', registers: [registry] }),
  };
}
