/**
 * How the store decodes what clients write, as kube-apiserver does: quantities canonical (or 400 at decode, 422 on
 * a patch), extended-resource and request/limit rules, pod defaults and QoS class, pod spec immutability and
 * Binding annotations. tests/k8s/conformance.k8s.test.ts checks the same behaviour against a real kube-apiserver.
 */
import { describe, expect, it } from 'vitest';
import { KubeStatusError } from '../../src/cluster/status.js';
import { Store, type KubeObject } from '../../src/cluster/store.js';

type Json = Record<string, unknown>;

function podWith(name: string, resources: Json, spec: Json = {}): Json {
  return { metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'main', image: 'busybox:1', resources }], ...spec } };
}

const containerOf = (pod: KubeObject): Json => ((pod.spec as { containers: Json[] }).containers[0] ?? {}) as Json;

function refusal(action: () => unknown): { code: number; reason: string; kind: string | undefined; fields: string[]; message: string } {
  try {
    action();
  } catch (error) {
    if (!(error instanceof KubeStatusError)) throw error;
    return { code: error.httpCode, reason: error.reason, kind: error.details?.kind, fields: (error.details?.causes ?? []).map((c) => c.field).sort(), message: error.message };
  }
  throw new Error('expected a refusal');
}

describe('quantities', () => {
  it('stores every quantity in its canonical form, as Quantity.String() writes it', () => {
    const store = new Store();
    const cases: Array<[unknown, string]> = [
      ['1024Mi', '1Gi'],
      [16384, '16384'],
      ['1000', '1k'],
      ['0.5', '500m'],
      [0.25, '250m'],
      ['1.5Gi', '1536Mi'],
      ['1.5Ki', '1536'],
      ['0.5Ki', '512'],
      ['2048Ki', '2Mi'],
      ['100Ki', '100Ki'],
      ['1023', '1023'],
      ['1e3', '1e3'],
      ['10E-3', '10e-3'],
      ['1.5e3', '1500'],
      ['2000m', '2'],
      ['0.0', '0'],
      ['+2', '2'],
      ['0.1n', '1n'],
      ['1.0001m', '1000100n'],
      ['12E', '12E'],
      [' 3 ', '3'],
    ];
    for (const [i, [value, canonical]] of cases.entries()) {
      const created = store.create('pods', podWith(`q-${i}`, { limits: { cpu: value } }));
      expect({ value, stored: (containerOf(created).resources as { limits: Json }).limits.cpu }).toEqual({ value, stored: canonical });
    }
  });

  it('writes resource lists with sorted keys, as kube-apiserver serializes a map', () => {
    const created = new Store().create('pods', podWith('sorted', { limits: { memory: '1Gi', cpu: '1', 'a.com/x': '1' } }));
    expect(Object.keys((containerOf(created).resources as { limits: Json }).limits)).toEqual(['a.com/x', 'cpu', 'memory']);
  });

  it('refuses what is not a quantity: 400 at decode on create and update, 422 naming the patch on a patch', () => {
    const store = new Store();
    expect(refusal(() => store.create('pods', podWith('bad', { limits: { cpu: 'abc' } })))).toMatchObject({
      code: 400,
      reason: 'BadRequest',
      message: expect.stringContaining('Pod in version "v1" cannot be handled as a Pod: quantities must match'),
    });
    const good = store.create('pods', podWith('good', { limits: { cpu: '1' } }));
    const spec = good.spec as { containers: Json[] };
    const broken = { ...good, spec: { ...spec, containers: [{ ...spec.containers[0], resources: { limits: { cpu: '1K' } } }] } };
    expect(refusal(() => store.update('pods', 'default', 'good', broken))).toMatchObject({ code: 400, message: expect.stringContaining("unable to parse quantity's suffix") });
    expect(refusal(() => store.mutate('pods', 'default', 'good', () => broken))).toMatchObject({ code: 422, reason: 'Invalid', fields: ['patch'] });
  });

  it('refuses negative values, fractions of extended resources, and requests that break their limits, naming each field', () => {
    const store = new Store();
    const limitsAndRequests = ['spec.containers[0].resources.limits[nvidia.com/gpu]', 'spec.containers[0].resources.requests[nvidia.com/gpu]'];
    expect(refusal(() => store.create('pods', podWith('negative', { limits: { 'nvidia.com/gpu': '-1' } })))).toMatchObject({ code: 422, kind: 'Pod', fields: limitsAndRequests });
    expect(refusal(() => store.create('pods', podWith('fraction', { limits: { 'nvidia.com/gpu': '0.5' } })))).toMatchObject({
      code: 422,
      fields: limitsAndRequests,
      message: expect.stringContaining('must be an integer'),
    });
    expect(refusal(() => store.create('pods', podWith('above', { limits: { cpu: '1' }, requests: { cpu: '1500m' } })))).toMatchObject({
      code: 422,
      fields: ['spec.containers[0].resources.requests'],
      message: expect.stringContaining('must be less than or equal to cpu limit of 1'),
    });
    expect(refusal(() => store.create('pods', podWith('unequal', { limits: { 'nvidia.com/gpu': '2' }, requests: { 'nvidia.com/gpu': '1' } })))).toMatchObject({
      fields: ['spec.containers[0].resources.requests'],
      message: expect.stringContaining('must be equal to nvidia.com/gpu limit of 2'),
    });
    expect(refusal(() => store.create('pods', podWith('unlimited', { requests: { 'nvidia.com/gpu': '1' } })))).toMatchObject({ fields: ['spec.containers[0].resources.limits'] });
    // Native resources may be requested below their limit, and kubernetes.io names are not extended resources.
    expect(store.create('pods', podWith('below', { limits: { cpu: '2', 'kubernetes.io/x': '0.5' }, requests: { cpu: '1' } })).metadata.name).toBe('below');
  });
});

describe('pod defaults', () => {
  it('fills in what kube-apiserver fills in, and keeps what the client set', () => {
    const store = new Store();
    const created = store.create('pods', { metadata: { name: 'bare', namespace: 'default' }, spec: { containers: [{ name: 'main', image: 'busybox', ports: [{ containerPort: 80 }] }] } });
    expect(created.spec).toMatchObject({
      restartPolicy: 'Always',
      dnsPolicy: 'ClusterFirst',
      schedulerName: 'default-scheduler',
      terminationGracePeriodSeconds: 30,
      enableServiceLinks: true,
      securityContext: {},
      priority: 0,
      preemptionPolicy: 'PreemptLowerPriority',
    });
    expect(containerOf(created)).toMatchObject({
      imagePullPolicy: 'Always',
      terminationMessagePath: '/dev/termination-log',
      terminationMessagePolicy: 'File',
      ports: [{ containerPort: 80, protocol: 'TCP' }],
    });
    expect(created.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
    const set = store.create('pods', {
      metadata: { name: 'set', namespace: 'default' },
      spec: {
        restartPolicy: 'Never',
        schedulerName: 'tessera-scheduler',
        terminationGracePeriodSeconds: 5,
        priorityClassName: 'system-node-critical',
        containers: [{ name: 'main', image: 'busybox', imagePullPolicy: 'Never' }],
      },
      status: { phase: 'Running' },
    });
    expect(set.spec).toMatchObject({ restartPolicy: 'Never', schedulerName: 'tessera-scheduler', terminationGracePeriodSeconds: 5, priority: 2_000_001_000 });
    expect(containerOf(set).imagePullPolicy).toBe('Never');
    expect((set.status as Json).phase).toBe('Pending');
  });

  it('pulls Always only for the latest tag, written or implied, and never for an image pinned by digest', () => {
    const store = new Store();
    const cases: Array<[string, string]> = [
      ['busybox', 'Always'],
      ['busybox:latest', 'Always'],
      ['busybox:1.36', 'IfNotPresent'],
      ['registry.local:5000/busybox', 'Always'],
      ['registry.local:5000/busybox:2', 'IfNotPresent'],
      ['busybox@sha256:0000000000000000000000000000000000000000000000000000000000000000', 'IfNotPresent'],
    ];
    for (const [i, [image, policy]] of cases.entries()) {
      const created = store.create('pods', { metadata: { name: `img-${i}`, namespace: 'default' }, spec: { containers: [{ name: 'main', image }] } });
      expect({ image, policy: containerOf(created).imagePullPolicy }).toEqual({ image, policy });
    }
  });

  it('requests what is only limited, and records the QoS class from cpu and memory', () => {
    const store = new Store();
    const guaranteed = store.create('pods', podWith('guaranteed', { limits: { cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '1' } }));
    expect((containerOf(guaranteed).resources as Json).requests).toEqual({ cpu: '1', memory: '1Gi', 'nvidia.com/gpu': '1' });
    expect((guaranteed.status as Json).qosClass).toBe('Guaranteed');
    const burstable = store.create('pods', podWith('burstable', { limits: { cpu: '1', memory: '1Gi' }, requests: { cpu: '500m' } }));
    expect((containerOf(burstable).resources as Json).requests).toEqual({ cpu: '500m', memory: '1Gi' });
    expect((burstable.status as Json).qosClass).toBe('Burstable');
    const gpuOnly = store.create('pods', podWith('gpu-only', { limits: { 'nvidia.com/gpu': '1' } }));
    expect((gpuOnly.status as Json).qosClass).toBe('BestEffort');
  });
});

describe('pod updates', () => {
  it('allows a new image but no other spec change, with 422 naming the field', () => {
    const store = new Store();
    const created = store.create('pods', podWith('fixed', {}));
    const spec = created.spec as { containers: Json[] };
    const withImage = store.update('pods', 'default', 'fixed', { ...created, spec: { ...spec, containers: [{ ...spec.containers[0], image: 'busybox:2' }] } });
    expect(containerOf(withImage).image).toBe('busybox:2');
    expect(refusal(() => store.update('pods', 'default', 'fixed', { ...withImage, spec: { ...spec, containers: [{ ...spec.containers[0], env: [{ name: 'A', value: '1' }] }] } }))).toMatchObject({
      code: 422,
      kind: 'Pod',
      fields: ['spec'],
    });
    expect(refusal(() => store.update('pods', 'default', 'fixed', { ...withImage, spec: { ...spec, containers: [] } }))).toMatchObject({ fields: ['spec.containers'] });
    expect(refusal(() => store.update('pods', 'default', 'fixed', { ...withImage, spec: { ...(withImage.spec as Json), nodeName: 'n1' } }))).toMatchObject({ fields: ['spec'] });
  });

  it('a Binding copies its annotations onto the pod; annotations that are not strings are refused', () => {
    const store = new Store();
    store.create('pods', podWith('bound', {}));
    expect(refusal(() => store.bind('default', 'bound', { metadata: { annotations: { a: 1 } as unknown as Record<string, string> }, target: { kind: 'Node', name: 'n1' } }))).toMatchObject({
      code: 400,
    });
    const bound = store.bind('default', 'bound', { metadata: { annotations: { 'example.com/decision': 'yes' } }, target: { kind: 'Node', name: 'n1' } });
    expect(bound.metadata.annotations).toEqual({ 'example.com/decision': 'yes' });
    expect(refusal(() => store.bind('default', 'bound', { target: { kind: 'Node', name: 'n2' } }))).toMatchObject({ code: 409, kind: 'pods/binding' });
  });
});
