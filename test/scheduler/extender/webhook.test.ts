import { describe, expect, it } from 'vitest';
import { reviewAdmission, type WebhookOptions } from '../../../src/scheduler/extender/webhook.js';
import { DEFAULT_REQUEST_CONFIG } from '../../../src/request/index.js';

const options: WebhookOptions = {
  request: DEFAULT_REQUEST_CONFIG,
  schedulerName: 'tessera-scheduler',
};

function review(object: unknown, operation = 'CREATE'): ReturnType<typeof reviewAdmission>['response'] {
  return reviewAdmission({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'r-1', operation, object } }, options).response;
}

const gpuPod = (limits: Record<string, string>, annotations: Record<string, string> = {}): unknown => ({
  metadata: { name: 'p', uid: 'u', annotations },
  spec: { containers: [{ name: 'main', resources: { limits } }, { name: 'side' }] },
});

const patchOf = (response: { patch?: string }): unknown => JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8'));

describe('admission webhook', () => {
  it('refuses gpumem with a unit suffix, saying it is in MiB and what to write', () => {
    const binary = review(gpuPod({ 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '10Gi' }));
    expect(binary.allowed).toBe(false);
    expect(binary.status?.message).toMatch(/nvidia\.com\/gpumem: is in MiB, as in HAMi: write 10240 for 10Gi \(as given, '10Gi' asks for 10,737,418,240 MiB\)/);
    expect(review(gpuPod({ 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '2G' })).status?.message).toMatch(/write 2000 for 2G/);
    expect(review(gpuPod({ 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '10240' })).allowed).toBe(true);
  });

  it('refuses a GPU pod placed by hand with spec.nodeName, naming the field', () => {
    const placed = review({ metadata: { name: 'p' }, spec: { nodeName: 'gpu-1', containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } });
    expect(placed.allowed).toBe(false);
    expect(placed.status?.message).toMatch(/spec\.nodeName/);
    // Pods without GPUs may still be placed by hand.
    expect(review({ metadata: { name: 'p' }, spec: { nodeName: 'gpu-1', containers: [{ name: 'c' }] } }).allowed).toBe(true);
  });

  it('leaves pods without GPU resources alone', () => {
    expect(review({ metadata: { name: 'p', uid: 'u', annotations: { 'hami.io/vgpu-node': 'x' } }, spec: { containers: [{ name: 'c' }] } })).toEqual({ uid: 'r-1', allowed: true });
  });

  it('adds the default GPU count when only memory or cores are asked, and routes the pod to our scheduler', () => {
    const response = review(gpuPod({ 'nvidia.com/gpumem': '4096' }));
    expect(response.allowed).toBe(true);
    expect(response.patchType).toBe('JSONPatch');
    expect(patchOf(response)).toEqual([
      { op: 'add', path: '/spec/containers/0/resources/limits/nvidia.com~1gpu', value: '1' },
      { op: 'add', path: '/spec/schedulerName', value: 'tessera-scheduler' },
    ]);
  });

  it('strips every decision annotation a user wrote on their own pod', () => {
    const response = review(
      gpuPod({ 'nvidia.com/gpu': '1' }, { 'tessera.io/decision': '{}', 'hami.io/vgpu-devices-to-allocate': 'GPU-x,NVIDIA,1,1:;', 'hami.io/vgpu-mig-allocations': '[]', team: 'ml' }),
    );
    expect(patchOf(response)).toEqual([
      { op: 'remove', path: '/metadata/annotations/hami.io~1vgpu-devices-to-allocate' },
      // HAMi v2.10's device plugin creates MIG instances from it: a forged one would take slices.
      { op: 'remove', path: '/metadata/annotations/hami.io~1vgpu-mig-allocations' },
      { op: 'remove', path: '/metadata/annotations/tessera.io~1decision' },
      { op: 'add', path: '/spec/schedulerName', value: 'tessera-scheduler' },
    ]);
  });

  it.each([
    [{ 'nvidia.com/gpu': '-1' }, {}, 'spec.containers[0].resources.limits.nvidia.com/gpu'],
    [{ 'nvidia.com/gpu': '1', 'nvidia.com/gpumem-percentage': '150' }, {}, 'invalid nvidia.com/gpumem-percentage value 150 in container main: must be an integer between 0 and 100'],
    [{ 'nvidia.com/gpumem-percentage': '1.5' }, {}, "nvidia.com/gpumem-percentage: must be a whole number, got '1.5'"],
    [{ 'nvidia.com/gpu': '1' }, { 'nvidia.com/vgpu-mode': 'time-slice' }, 'metadata.annotations.nvidia.com/vgpu-mode: must be one of'],
    [{ 'nvidia.com/gpu': '1' }, { 'hami.io/node-scheduler-policy': 'random' }, 'metadata.annotations.hami.io/node-scheduler-policy: must be one of binpack, spread'],
  ])('rejects %j %j with a message naming the field', (limits, annotations, message) => {
    const response = review(gpuPod(limits, annotations));
    expect(response.allowed).toBe(false);
    expect(response.status?.code).toBe(400);
    expect(response.status?.message).toContain(message);
  });

  it('lets updates through untouched unless they change scheduler-owned annotations, which only trusted users may', () => {
    const update = (oldObject: unknown, object: unknown, username: string): ReturnType<typeof reviewAdmission>['response'] =>
      reviewAdmission(
        { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'r-1', operation: 'UPDATE', object, oldObject, userInfo: { username } } },
        { ...options, trustedUsers: ['system:serviceaccount:gpu:tessera-scheduler'] },
      ).response;
    const granted = gpuPod({ 'nvidia.com/gpu': '1' }, { 'tessera.io/decision': '{}', 'hami.io/bind-phase': 'success' });
    expect(update(granted, gpuPod({ 'nvidia.com/gpu': '1' }, { 'tessera.io/decision': '{}', 'hami.io/bind-phase': 'success', team: 'ml' }), 'alice')).toEqual({ uid: 'r-1', allowed: true });
    for (const edited of [
      { 'tessera.io/decision': '{}', 'hami.io/bind-phase': 'failed' },
      { 'hami.io/bind-phase': 'success' },
      { 'tessera.io/decision': '{}', 'hami.io/bind-phase': 'success', 'tessera.io/release': 'scheduler:x' },
    ] as Record<string, string>[]) {
      const refused = update(granted, gpuPod({ 'nvidia.com/gpu': '1' }, edited), 'alice');
      expect(refused.allowed).toBe(false);
      expect(refused.status?.message).toMatch(/may be changed only by the Tessera scheduler and device plugins, not by alice/);
      expect(update(granted, gpuPod({ 'nvidia.com/gpu': '1' }, edited), 'system:serviceaccount:gpu:tessera-scheduler').allowed).toBe(true);
    }
  });

  it.each([
    [{ 'nvidia.com/gpu': '1', 'nvidia.com/gpucores': '150' }, {}],
    [{ 'nvidia.com/gpu': '1', 'nvidia.com/gpumem-percentage': '0' }, {}],
    [{ 'nvidia.com/gpu': '1', 'nvidia.com/gpumem': '1000', 'nvidia.com/gpumem-percentage': '50' }, {}],
    [{ 'nvidia.com/gpu': '1' }, { 'nvidia.com/vgpu-mode': 'mps' }],
    [{ 'nvidia.com/gpu': '1' }, { 'hami.io/gpu-scheduler-policy': 'topology-aware' }],
    [{ 'nvidia.com/gpu': '1' }, { 'hami.io/gpu-scheduler-policy': 'mutex' }],
  ])('admits %j %j as HAMi v2.10 does', (limits, annotations) => {
    const response = review(gpuPod(limits, annotations));
    expect(response.allowed).toBe(true);
    expect(patchOf(response)).toContainEqual({ op: 'add', path: '/spec/schedulerName', value: 'tessera-scheduler' });
  });

  it('admits GPUs in init containers as HAMi does, defaulting their count', () => {
    const pod = { metadata: { name: 'p' }, spec: { initContainers: [{ name: 'warmup', resources: { limits: { 'nvidia.com/gpumem': '3000' } } }], containers: [{ name: 'c' }] } };
    const response = review(pod);
    expect(response.allowed).toBe(true);
    expect(patchOf(response)).toContainEqual({ op: 'add', path: '/spec/initContainers/0/resources/limits/nvidia.com~1gpu', value: '1' });
  });

  it('leaves pods for another scheduler alone, and takes over the default scheduler', () => {
    const forVolcano = { metadata: { name: 'p' }, spec: { schedulerName: 'volcano', nodeName: 'n', containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpumem': '10Gi' } } }] } };
    expect(review(forVolcano)).toEqual({ uid: 'r-1', allowed: true });
    const forDefault = { metadata: { name: 'p' }, spec: { schedulerName: 'default-scheduler', containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } };
    expect(patchOf(review(forDefault))).toEqual([{ op: 'replace', path: '/spec/schedulerName', value: 'tessera-scheduler' }]);
  });

  it("refuses a GPU pod with a privileged container in HAMi's words, and admits a privileged pod without GPUs", () => {
    const pod = (limits: Record<string, string>) => ({
      metadata: { name: 'p' },
      spec: { initContainers: [{ name: 'setup', securityContext: { privileged: true } }], containers: [{ name: 'c', resources: { limits } }] },
    });
    const refused = review(pod({ 'nvidia.com/gpu': '1' }));
    expect(refused.allowed).toBe(false);
    expect(refused.status?.message).toMatch(/^spec\.initContainers\[0\]\.securityContext\.privileged: container setup is privileged/);
    expect(review(pod({ cpu: '1' }))).toEqual({ uid: 'r-1', allowed: true });
  });

  it("sets CUDA_TASK_PRIORITY from nvidia.com/priority, keeping the container's own variables", () => {
    const pod = {
      metadata: { name: 'p' },
      spec: {
        containers: [
          { name: 'a', resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/priority': '1' } } },
          { name: 'b', env: [{ name: 'X', value: '1' }], resources: { limits: { 'nvidia.com/gpu': '1', 'nvidia.com/priority': '0' } } },
        ],
      },
    };
    expect(patchOf(review(pod))).toEqual([
      { op: 'add', path: '/spec/containers/0/env', value: [{ name: 'CUDA_TASK_PRIORITY', value: '1' }] },
      { op: 'add', path: '/spec/containers/1/env/-', value: { name: 'CUDA_TASK_PRIORITY', value: '0' } },
      { op: 'add', path: '/spec/schedulerName', value: 'tessera-scheduler' },
    ]);
  });

  it('refuses a body that is not an AdmissionReview, naming the field', () => {
    expect(() => reviewAdmission({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE', object: {} } }, options)).toThrow(
      'AdmissionReview.request.uid: is required',
    );
  });
});
