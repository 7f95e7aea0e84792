/**
 * The one bridge from pure collectors to prom-client: each family becomes a gauge that reports a snapshot's
 * samples. The snapshot is taken once per scrape (prom-client asks every gauge in the same tick, and the cached
 * snapshot is dropped on the next turn of the event loop), so all families of one scrape agree.
 */
import { Gauge, type MetricObjectWithValues, type MetricType, type MetricValue, type Registry } from 'prom-client';
import { modeFamilies } from '../modes/index.js';
import type { MetricFamily, Samples } from './samples.js';
import { SCHEDULER_VIEW_FAMILIES, collectSchedulerView, type SchedulerView, type SchedulerViewOptions } from './scheduler-view.js';

/** prom-client's types declare MetricType numeric; at run time, and on the scrape, it is the type's name. */
const COUNTER = 'counter' as unknown as MetricType;

/**
 * A gauge whose values are the snapshot's samples as they are: it skips prom-client's per-label hashing, which
 * dominated a scrape of a large cluster (collectors never emit one label set twice).
 */
class SnapshotGauge extends Gauge {
  constructor(
    private readonly family: MetricFamily,
    registry: Registry,
    private readonly current: () => Samples,
  ) {
    super({ name: family.name, help: family.help, labelNames: [...family.labelNames], registers: [registry] });
  }

  override async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    // The base answers name, help, type and aggregator (its own values are empty: nothing is ever set on it).
    const base = await super.get();
    const values = (this.current().get(this.family.name) ?? []).map((s) => ({ value: s.value, labels: s.labels }));
    return { ...base, ...(this.family.type === 'counter' ? { type: COUNTER } : {}), values };
  }
}

/** Registers `families` on `registry`, filled on each scrape from `snapshot()`. */
export function registerFamilies(registry: Registry, families: readonly MetricFamily[], snapshot: () => Samples): void {
  let cached: Samples | undefined;
  const current = (): Samples => {
    if (cached === undefined) {
      cached = snapshot();
      setImmediate(() => (cached = undefined));
    }
    return cached;
  };
  for (const family of families) new SnapshotGauge(family, registry, current);
}

/**
 * Registers the scheduler-view series (HAMi names, Tessera's gauges, and each sharing mode's own) on `registry`,
 * computed on each scrape from `view()`. The extender calls this with its own cache; the exporter with its informers.
 */
export function registerSchedulerView(registry: Registry, view: () => SchedulerView, options: SchedulerViewOptions): void {
  const families = [...Object.values(SCHEDULER_VIEW_FAMILIES), ...modeFamilies('nodeFamilies').filter((f) => options.legacyMigMetric || !f.legacy)];
  registerFamilies(registry, families, () => collectSchedulerView(view(), options));
}
