import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DCGM_FAMILIES } from '../../src/exporter/dcgm.js';
import { HAMI_MONITOR_FAMILIES } from '../../src/exporter/hami-monitor.js';
import { createDecisionMetrics } from '../../src/exporter/decision-events.js';
import { SCHEDULER_VIEW_FAMILIES } from '../../src/exporter/scheduler-view.js';
import { createMetrics } from '../../src/scheduler/extender/metrics.js';
import { modeFamilies } from '../../src/modes/index.js';

interface Panel {
  title: string;
  targets?: Array<{ expr: string; legendFormat?: string }>;
}

const dashboard = JSON.parse(readFileSync(new URL('../../config/grafana-dashboard.json', import.meta.url), 'utf8')) as { panels: Panel[] };

/** Every series name the exporter and the extender can emit, with its label names (histograms: `_bucket` + le). */
function knownSeries(): Map<string, Set<string>> {
  const known = new Map<string, Set<string>>();
  for (const family of [...Object.values(DCGM_FAMILIES), ...Object.values(SCHEDULER_VIEW_FAMILIES), ...Object.values(HAMI_MONITOR_FAMILIES), ...modeFamilies('nodeFamilies')])
    known.set(family.name, new Set(family.labelNames));
  const decisions = new Registry();
  createDecisionMetrics(decisions);
  for (const metric of [...decisions.getMetricsAsArray(), ...createMetrics().registry.getMetricsAsArray()]) {
    // prom-client keeps the declared label names on each metric object.
    const labels = new Set((metric as unknown as { labelNames: string[] }).labelNames);
    known.set(metric.name, labels);
    known.set(`${metric.name}_bucket`, new Set([...labels, 'le']));
  }
  return known;
}

const METRIC = /\b(?:hami_[a-z_]+|DCGM_FI_[A-Z_]+|tessera_[a-z_]+)\b/g;

describe('config/grafana-dashboard.json', () => {
  const targets = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));

  it('queries something on every panel', () => {
    expect(targets.length).toBeGreaterThan(15);
    expect(dashboard.panels.filter((p) => p.targets !== undefined && p.targets.length === 0)).toEqual([]);
  });

  it('uses only series the exporter or the extender emits, and only their labels', () => {
    const known = knownSeries();
    for (const target of targets) {
      const names = [...new Set(target.expr.match(METRIC) ?? [])];
      expect(names.length, `${target.panel}: ${target.expr}`).toBeGreaterThan(0);
      for (const name of names) expect(known.has(name), `${target.panel}: unknown series ${name}`).toBe(true);
      if (names.length !== 1) continue;
      const labels = known.get(names[0]!)!;
      const used = [
        ...[...target.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(',').map((l) => l.trim())),
        ...[...target.expr.matchAll(/[{,]\s*([A-Za-z_]+)\s*(?:=~|!=|=)/g)].map((m) => m[1]!),
        ...[...(target.legendFormat ?? '').matchAll(/\{\{(\w+)\}\}/g)].map((m) => m[1]!),
      ];
      for (const label of used) expect(labels.has(label), `${target.panel}: ${names[0]} has no label ${label}`).toBe(true);
    }
  });
});
