/**
 * The one bridge from pure collectors to prom-client: each family becomes a Gauge whose `collect` fills it from a
 * snapshot. The snapshot is taken once per scrape (prom-client asks every gauge in the same tick, and the cached
 * snapshot is dropped on the next turn of the event loop), so all families of one scrape agree.
 */
import { Gauge, type Registry } from 'prom-client';
import type { MetricFamily, Samples } from './samples.js';
import { SCHEDULER_VIEW_FAMILIES, collectSchedulerView, type SchedulerView, type SchedulerViewOptions } from './scheduler-view.js';

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
  for (const family of families) {
    new Gauge({
      name: family.name,
      help: family.help,
      labelNames: [...family.labelNames],
      registers: [registry],
      collect() {
        this.reset();
        for (const sample of current().get(family.name) ?? []) this.set(sample.labels, sample.value);
      },
    });
  }
}

/**
 * Registers the scheduler-view series (HAMi names and Tessera's gauges) on `registry`, computed on each scrape
 * from `view()`. The extender calls this with its own cache; the exporter with its informers.
 */
export function registerSchedulerView(registry: Registry, view: () => SchedulerView, options: SchedulerViewOptions): void {
  const families = Object.values(SCHEDULER_VIEW_FAMILIES).filter((f) => options.legacyMigMetric || f !== SCHEDULER_VIEW_FAMILIES.legacyMigInstance);
  registerFamilies(registry, families, () => collectSchedulerView(view(), options));
}
