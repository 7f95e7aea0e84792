/**
 * An extender wired to a cluster view fed directly with Node and Pod objects (what the informers would deliver),
 * for the wire-level tests of filter and prioritize that need no API server. Bind tests run against the embedded
 * cluster instead (service.test.ts).
 */
import type { KeyObject } from 'node:crypto';
import { generateSigningKey, publicKeyOf } from '../../../src/api/signing.js';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { hamiPolicy } from '../../../src/scheduler/policies/index.js';
import { ClusterView } from '../../../src/scheduler/extender/cluster-view.js';
import { PodEffects } from '../../../src/scheduler/extender/effects.js';
import { Extender } from '../../../src/scheduler/extender/extender.js';
import { createMetrics } from '../../../src/scheduler/extender/metrics.js';
import { buildServer, type ExtenderServer } from '../../../src/scheduler/extender/server.js';
import { DEFAULT_REQUEST_CONFIG } from '../../../src/request/index.js';

export interface Harness {
  key: KeyObject;
  view: ClusterView;
  extender: Extender;
  server: ExtenderServer;
}

export const silentLog = pino({ level: 'silent' });

/** A KubeConfig for an API server nobody runs: these tests never reach bind's writes. */
function unreachableKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: 'http://127.0.0.1:9', skipTLSVerify: true }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return kc;
}

/** `filterAnswers`: `all` by default here, so the wire tests see every fitting node and every reason. */
export function buildHarness(options: { filterAnswers?: 'best' | 'all' } = {}): Harness {
  const key = generateSigningKey();
  const view = new ClusterView({ keys: { scheduler: publicKeyOf(key), node: () => undefined }, log: silentLog, memoryScaling: 1, now: Date.now });
  const metrics = createMetrics();
  const extender = new Extender({
    view,
    effects: new PodEffects(unreachableKubeConfig(), key, silentLog),
    readiness: { notReadyReason: () => undefined, waitSynced: async () => true },
    policy: hamiPolicy,
    context: { nodePolicy: 'binpack', gpuPolicy: 'spread' },
    requestConfig: DEFAULT_REQUEST_CONFIG,
    key,
    log: silentLog,
    metrics,
    now: Date.now,
    syncWaitMs: 0,
    filterAnswers: options.filterAnswers ?? 'all',
  });
  const server = buildServer({ service: extender, webhook: { request: DEFAULT_REQUEST_CONFIG }, metrics: metrics.registry, requests: metrics.requests, log: silentLog });
  return { key, view, extender, server };
}
