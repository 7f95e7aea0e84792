/**
 * Tessera's event series: decisions (with their latency from pod creation), rejections by reason, and the counters
 * each sharing mode adds per decision (`SharingMode.metrics`: MIG's reconfigurations). `podTransition` is the pure
 * part: what changed between two sightings of a pod. `DecisionMetrics` counts the events on a registry; the exporter
 * feeds it from its pod watch, and the extender may call it directly.
 */
import { Counter, Histogram, type Registry } from 'prom-client';
import type { Decision, NodeMode } from '../api/index.js';
import { modeFamilies, sharingMode, type ModeCount } from '../modes/index.js';

/** What the exporter remembers of a pod between sightings. */
export interface PodSighting {
  /** Decision time (RFC 3339) of the decision the pod carries, or null. */
  decidedAt: string | null;
  /** `reason: message` of a PodScheduled=False condition, or null. */
  rejection: string | null;
}

/** `counts`: what the decision adds to its mode's own counters. */
export type DecisionEvent = { kind: 'decided'; mode: NodeMode; latencySeconds: number | null; counts: readonly ModeCount[] } | { kind: 'rejected'; reason: string };

/**
 * Events between the previous sighting and now. A decision counts once (when its decidedAt first appears); a
 * rejection counts each time the scheduler records a new one.
 */
export function podTransition(
  previous: PodSighting | undefined,
  current: { decision: Decision | null; rejectionReason: string | null; rejectionMessage: string | null; createdAtMs: number | null },
): { sighting: PodSighting; events: DecisionEvent[] } {
  const events: DecisionEvent[] = [];
  const decidedAt = current.decision?.decidedAt ?? null;
  if (current.decision && decidedAt !== previous?.decidedAt) {
    const decided = Date.parse(current.decision.decidedAt);
    events.push({
      kind: 'decided',
      mode: current.decision.mode,
      latencySeconds: current.createdAtMs === null ? null : Math.max(0, (decided - current.createdAtMs) / 1000),
      counts: sharingMode(current.decision.mode).metrics?.decisionCounts(current.decision) ?? [],
    });
  }
  const rejection = current.rejectionReason === null ? null : `${current.rejectionReason}: ${current.rejectionMessage ?? ''}`;
  if (rejection !== null && rejection !== previous?.rejection && current.rejectionReason !== null) events.push({ kind: 'rejected', reason: current.rejectionReason });
  return { sighting: { decidedAt, rejection }, events };
}

export interface DecisionMetrics {
  observe(event: DecisionEvent): void;
}

export function createDecisionMetrics(registry: Registry): DecisionMetrics {
  const decisions = new Counter({ name: 'tessera_decisions_total', help: 'Pods given a GPU decision, by node mode.', labelNames: ['mode'], registers: [registry] });
  const latency = new Histogram({
    name: 'tessera_decision_latency_seconds',
    help: 'Time from pod creation to its GPU decision.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const rejections = new Counter({ name: 'tessera_rejections_total', help: 'Scheduling rejections recorded on pods, by reason.', labelNames: ['reason'], registers: [registry] });
  const modeCounters = new Map(modeFamilies('decisionFamilies').map((f) => [f.name, new Counter({ name: f.name, help: f.help, labelNames: [...f.labelNames], registers: [registry] })]));
  return {
    observe(event) {
      if (event.kind === 'rejected') {
        rejections.inc({ reason: event.reason });
        return;
      }
      decisions.inc({ mode: event.mode });
      if (event.latencySeconds !== null) latency.observe(event.latencySeconds);
      for (const count of event.counts) modeCounters.get(count.family.name)?.inc(count.labels);
    },
  };
}
