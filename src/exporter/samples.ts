/**
 * Metric series as plain data: collectors are pure functions that return samples, and `registerFamilies`
 * (registry.ts) is the one place that hands them to prom-client.
 */
export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  /** Prometheus type on the scrape (default gauge); a counter's samples only ever grow. */
  readonly type?: 'gauge' | 'counter';
}

export interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Samples by family name; a family absent from the map has no series this scrape. */
export type Samples = ReadonlyMap<string, readonly Sample[]>;

/** Collects samples family by family: `add(family, labels, value)`; `samples()` returns the map. */
export class SampleSet {
  private readonly byFamily = new Map<string, Sample[]>();

  add(family: MetricFamily, labels: Record<string, string>, value: number): void {
    const list = this.byFamily.get(family.name) ?? [];
    list.push({ labels, value });
    this.byFamily.set(family.name, list);
  }

  samples(): Samples {
    return this.byFamily;
  }
}
