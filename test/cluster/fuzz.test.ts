import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pod, rawRequest, startHarness, type Harness } from './helpers.js';

let h: Harness;
let guardJson: string;
beforeAll(async () => {
  h = await startHarness();
  await h.core.createNamespacedPod({ namespace: 'default', body: pod('sentinel') });
  // No fuzzed request can reach the guard's namespace, so it must come through byte for byte.
  await h.core.createNamespace({ body: { metadata: { name: 'guarded' } } });
  await h.core.createNamespacedPod({ namespace: 'guarded', body: pod('guard') });
  guardJson = JSON.stringify(await h.core.readNamespacedPod({ name: 'guard', namespace: 'guarded' }));
});
afterAll(async () => {
  await h.cluster.stop();
});

const CONTENT_TYPES = [
  'application/json',
  'application/merge-patch+json',
  'application/json-patch+json',
  'application/strategic-merge-patch+json',
  'application/yaml',
  'text/plain',
  'application/apply-patch+yaml',
];

const QUERY_KEYS = ['labelSelector', 'fieldSelector', 'limit', 'continue', 'resourceVersion', 'timeoutSeconds', 'gracePeriodSeconds', 'dryRun', 'allowWatchBookmarks'];

const PATHS = [
  '/api/v1/namespaces/default/pods',
  '/api/v1/namespaces/default/pods/sentinel',
  '/api/v1/namespaces/default/pods/fuzzed',
  '/api/v1/namespaces/default/pods/sentinel/status',
  '/api/v1/namespaces/default/pods/fuzzed/binding',
  '/api/v1/namespaces/default/bindings',
  '/api/v1/nodes',
  '/api/v1/pods',
  '/apis/coordination.k8s.io/v1/namespaces/default/leases',
  '/api/v1/namespaces/%E0%A4%A/pods',
  '/api/v1/namespaces/default/pods/a/b/c',
];

/** A pod-like object with random holes and wrong types where a client could send them. */
const objectish = fc.record(
  {
    apiVersion: fc.constantFrom('v1', 'v2', 'apps/v1', 7),
    kind: fc.constantFrom('Pod', 'Binding', 'Node', 'Status', null),
    metadata: fc.oneof(
      fc.record({ name: fc.constantFrom('fuzzed', 'sentinel', 'Bad_Name', '', 'x'.repeat(300)), labels: fc.dictionary(fc.string(), fc.oneof(fc.string(), fc.integer())) }, { requiredKeys: [] }),
      fc.jsonValue(),
    ),
    spec: fc.jsonValue(),
    target: fc.record({ kind: fc.constantFrom('Node', 'Pod'), name: fc.string() }, { requiredKeys: [] }),
    $patch: fc.constantFrom('delete', 'replace', 'merge'),
  },
  { requiredKeys: [] },
);

const body = fc.oneof(
  fc.string(),
  fc.json(),
  objectish.map((o) => JSON.stringify(o)),
  fc
    .array(
      fc.record(
        { op: fc.constantFrom('add', 'remove', 'replace', 'test', 'move', 'bogus'), path: fc.constantFrom('/metadata', '/metadata/name', '/spec', '/x/y', ''), value: fc.jsonValue() },
        { requiredKeys: [] },
      ),
    )
    .map((a) => JSON.stringify(a)),
);

const query = fc.dictionary(fc.constantFrom(...QUERY_KEYS), fc.oneof(fc.string(), fc.constantFrom('0', '1', 'true', 'a in (', 'x=y', 'spec.nodeName=', '!', '99999999999')), { maxKeys: 3 });

describe('fuzzed requests', () => {
  it('always answer a Status error or a valid object, never a 500, and never corrupt the store', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE'),
        fc.constantFrom(...PATHS),
        query,
        fc.constantFrom(...CONTENT_TYPES),
        body,
        async (method, path, params, contentType, payload) => {
          const watching = method === 'GET' && params.watch !== undefined;
          const response = await rawRequest(h.cluster, method, `${path}?${new URLSearchParams(params).toString()}`, {
            headers: { 'content-type': contentType },
            ...(method === 'GET' ? {} : { body: payload }),
            stopAt: (status) => watching && status === 200,
          });
          if (watching && response.status === 200) return;
          const parsed: unknown = JSON.parse(response.text);
          expect(response.status).not.toBe(500);
          if (response.status >= 400) {
            expect(parsed).toMatchObject({ kind: 'Status', status: 'Failure', code: response.status });
            expect(typeof (parsed as { message: unknown }).message).toBe('string');
          }
        },
      ),
      { numRuns: 250 },
    );
    expect(JSON.stringify(await h.core.readNamespacedPod({ name: 'guard', namespace: 'guarded' }))).toBe(guardJson);
    const all = await h.core.listPodForAllNamespaces();
    for (const item of all.items) {
      expect(item.metadata?.name).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
      expect(Number(item.metadata?.resourceVersion)).toBeLessThanOrEqual(Number(all.metadata?.resourceVersion));
    }
  });
});
