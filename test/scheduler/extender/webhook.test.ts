import { describe, expect, it } from 'vitest';
import { DEFAULT_REQUEST_CONFIG } from '../../../src/scheduler/core/index.js';
import { reviewAdmission, type WebhookOptions } from '../../../src/scheduler/extender/webhook.js';

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
    const response = review(gpuPod({ 'nvidia.com/gpu': '1' }, { 'tessera.io/decision': '{}', 'hami.io/vgpu-devices-to-allocate': 'GPU-x,NVIDIA,1,1:;', 'team': 'ml' }));
    expect(patchOf(response)).toEqual([
      { op: 'remove', path: '/metadata/annotations/hami.io~1vgpu-devices-to-allocate' },
      { op: 'remove', path: '/metadata/annotations/tessera.io~1decision' },
      { op: 'add', path: '/spec/schedulerName', value: 'tessera-scheduler' },
    ]);
  });

  it.each([
    [{ 'nvidia.com/gpu': '-1' }, {}, 'spec.containers[0].resources.limits.nvidia.com/gpu'],
    [{ 'nvidia.com/gpu': '1', 'nvidia.com/gpucores': '150' }, {}, 'spec.containers[0].resources.limits.nvidia.com/gpucores: must be at most 100'],
    [{ 'nvidia.com/gpumem-percentage': '1.5' }, {}, "nvidia.com/gpumem-percentage: must be a whole number, got '1.5'"],
    [{ 'nvidia.com/gpu': '1' }, { 'nvidia.com/vgpu-mode': 'time-slice' }, 'metadata.annotations.nvidia.com/vgpu-mode: must be one of'],
    [{ 'nvidia.com/gpu': '1' }, { 'hami.io/node-scheduler-policy': 'random' }, 'metadata.annotations.hami.io/node-scheduler-policy: must be one of binpack, spread'],
  ])('rejects %j %j with a message naming the field', (limits, annotations, message) => {
    const response = review(gpuPod(limits, annotations));
    expect(response.allowed).toBe(false);
    expect(response.status?.code).toBe(400);
    expect(response.status?.message).toContain(message);
  });

  it('lets updates through untouched: the scheduler itself writes the decision afterwards', () => {
    expect(review(gpuPod({ 'nvidia.com/gpu': '1' }, { 'tessera.io/decision': '{}' }), 'UPDATE')).toEqual({ uid: 'r-1', allowed: true });
  });

  it('refuses a body that is not an AdmissionReview, naming the field', () => {
    expect(() => reviewAdmission({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { operation: 'CREATE', object: {} } }, options)).toThrow('AdmissionReview.request.uid: is required');
  });
});
