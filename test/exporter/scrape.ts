/** Scrapes a /metrics endpoint over real HTTP and parses it with a real Prometheus text-format parser. */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

export interface ScrapedSample {
  labels: Record<string, string>;
  value: number;
}

export type Scrape = Map<string, ScrapedSample[]>;

export function parseScrape(text: string): Scrape {
  const families = parsePrometheusTextFormat(text);
  return new Map(families.map((f) => [f.name, f.metrics.map((m) => ({ labels: m.labels ?? {}, value: Number(m.value ?? m.count ?? Number.NaN) }))]));
}

export async function scrape(url: string): Promise<Scrape> {
  const response = await fetch(`${url}/metrics`);
  if (!response.ok) throw new Error(`scrape failed: ${response.status}`);
  return parseScrape(await response.text());
}

/** Samples of `family` whose labels include every pair in `match`. */
export function series(scrape: Scrape, family: string, match: Record<string, string> = {}): ScrapedSample[] {
  return (scrape.get(family) ?? []).filter((s) => Object.entries(match).every(([k, v]) => (s.labels[k] ?? '') === v));
}
