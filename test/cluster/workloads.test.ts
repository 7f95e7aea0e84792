/**
 * The embedded API server serves apps/v1 Deployments and ReplicaSets (with status and the autoscaling/v1 scale
 * subresource) and PersistentVolumeClaims/Volumes, to real kubectl as kube-apiserver does. (Reconciling them is
 * local mode's workload controller: test/localmode/workloads.test.ts.)
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasKubectl, kubectlSession, rawRequest } from './helpers.js';

const MANIFESTS = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
    matchExpressions: [{key: tier, operator: In, values: [front, edge]}]
  template:
    metadata: {labels: {app: web, tier: front}}
    spec: {containers: [{name: main, image: nginx}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: cache}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 60Gi}}
---
apiVersion: v1
kind: PersistentVolume
metadata: {name: disk-1}
spec:
  capacity: {storage: 100Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /data}
`;

describe.skipIf(!hasKubectl)('workload and volume types on the embedded API server', () => {
  const session = kubectlSession('tessera-workloads-');
  const { kubectl } = session;

  it('lists the types in discovery, with their short names and the scale subresource', async () => {
    const names = await kubectl('api-resources', '-o', 'name');
    for (const name of ['deployments.apps', 'replicasets.apps', 'persistentvolumeclaims', 'persistentvolumes']) expect(names).toContain(name);
    const apps = JSON.parse(await kubectl('get', '--raw', '/apis/apps/v1')) as { resources: Array<{ name: string; kind: string; group?: string; version?: string; shortNames?: string[] }> };
    expect(apps.resources.find((r) => r.name === 'deployments/scale')).toMatchObject({ kind: 'Scale', group: 'autoscaling', version: 'v1' });
    expect(apps.resources.find((r) => r.name === 'deployments')?.shortNames).toEqual(['deploy']);
  });

  it('applies a Deployment, a PVC and a PV, and scales the Deployment with kubectl scale', async () => {
    const file = join(session.dir, 'manifests.yaml');
    writeFileSync(file, MANIFESTS);
    expect(await kubectl('apply', '-f', file)).toMatch(/deployment.apps\/web created[\s\S]*persistentvolumeclaim\/cache created[\s\S]*persistentvolume\/disk-1 created/);
    expect(await kubectl('get', 'pvc', 'cache', '-o', 'jsonpath={.spec.resources.requests.storage}')).toBe('60Gi');
    expect(await kubectl('get', 'pv', '-o', 'name')).toBe('persistentvolume/disk-1\n');

    expect(await kubectl('scale', 'deployment', 'web', '--replicas=7')).toContain('deployment.apps/web scaled');
    expect(await kubectl('get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}')).toBe('7');
    expect(await kubectl('get', 'deploy', 'web')).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+0\/7\s+0\s+0\s+\d+s\n$/);
    expect(await kubectl('get', 'pvc', 'cache')).toMatch(/^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+AGE\ncache\s+Pending\s+/);
    const scale = JSON.parse(await kubectl('get', '--raw', '/apis/apps/v1/namespaces/default/deployments/web/scale')) as Record<string, unknown>;
    expect(scale).toMatchObject({
      kind: 'Scale',
      apiVersion: 'autoscaling/v1',
      metadata: { name: 'web', namespace: 'default' },
      spec: { replicas: 7 },
      status: { replicas: 0, selector: 'app=web,tier in (edge,front)' },
    });
    // --current-replicas is a precondition kubectl checks against the scale subresource.
    await expect(kubectl('scale', 'deployment', 'web', '--current-replicas=3', '--replicas=1')).rejects.toThrow(/Expected replicas to be 3, was 7/);
  });

  it('refuses a Scale with a bad replica count or a stale resourceVersion, naming the field', async () => {
    const path = '/apis/apps/v1/namespaces/default/deployments/web/scale';
    const negative = await rawRequest(session.cluster, 'PATCH', path, { headers: { 'content-type': 'application/merge-patch+json' }, body: '{"spec":{"replicas":-1}}' });
    expect(negative.status).toBe(400);
    expect(negative.text).toContain('spec.replicas');
    const stale = await rawRequest(session.cluster, 'PUT', path, {
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'Scale', apiVersion: 'autoscaling/v1', metadata: { name: 'web', resourceVersion: '1' }, spec: { replicas: 2 } }),
    });
    expect(stale.status).toBe(409);
    expect(await kubectl('get', 'deploy', 'web', '-o', 'jsonpath={.spec.replicas}')).toBe('7');
    const rs = await rawRequest(session.cluster, 'GET', '/apis/apps/v1/namespaces/default/replicasets/none/scale');
    expect(rs.status).toBe(404);
  });
});
