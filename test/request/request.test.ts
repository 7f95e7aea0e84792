import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pod } from '../scheduler/core/builders.js';
import { DEFAULT_REQUEST_CONFIG, parsePodRequest, type GpuDemand, type Reason } from '../../src/request/index.js';

const GPU = 'nvidia.com/gpu';
const MEM = 'nvidia.com/gpumem';
const PCT = 'nvidia.com/gpumem-percentage';
const CORES = 'nvidia.com/gpucores';

const demandOf = (limits: Record<string, string | number>): GpuDemand | null => pod().container(limits).request().containers[0]?.gpu ?? null;

function reasonOf(json: unknown): Reason {
  const result = parsePodRequest(json);
  if (result.ok) throw new Error('expected the request to be refused');
  return result.error;
}

describe('parsePodRequest: GPU demands with HAMi semantics', () => {
  it.each<[string, Record<string, string | number>, GpuDemand | null]>([
    ['no GPU resource', { cpu: '1' }, null],
    ['gpu only: exclusive (cores 100), whole memory', { [GPU]: '1' }, { count: 1, memory: { percent: 100 }, cores: 100 }],
    ['gpu with memory: cores default 0', { [GPU]: '2', [MEM]: '8000' }, { count: 2, memory: { mib: 8000 }, cores: 0 }],
    ['memory only: defaultGPUNum 1', { [MEM]: '3000' }, { count: 1, memory: { mib: 3000 }, cores: 0 }],
    ['cores only: whole memory, 30 cores', { [CORES]: '30' }, { count: 1, memory: { percent: 100 }, cores: 30 }],
    ['percentage', { [GPU]: 1, [PCT]: 25, [CORES]: 50 }, { count: 1, memory: { percent: 25 }, cores: 50 }],
    ['gpumem 0 counts as unset', { [GPU]: '1', [MEM]: '0', [CORES]: '10' }, { count: 1, memory: { percent: 100 }, cores: 10 }],
    ['gpu 0: no GPU', { [GPU]: '0' }, null],
    ['quantity with exponent', { [GPU]: '1', [MEM]: '8e3' }, { count: 1, memory: { mib: 8000 }, cores: 0 }],
    // HAMi v2.10 GenerateResourceRequests: a percentage of 0 is "unset", so the default (the whole GPU) applies.
    ['percentage 0 counts as unset', { [GPU]: '1', [PCT]: '0' }, { count: 1, memory: { percent: 100 }, cores: 100 }],
    ['percentage 0 with cores', { [GPU]: '1', [PCT]: '0', [CORES]: '20' }, { count: 1, memory: { percent: 100 }, cores: 20 }],
    // HAMi Fit: the percentage applies only when gpumem is 0, so gpumem wins.
    ['gpumem wins over a percentage', { [GPU]: '1', [MEM]: '100', [PCT]: '10' }, { count: 1, memory: { mib: 100 }, cores: 0 }],
    ['gpumem 0 leaves the percentage', { [GPU]: '1', [MEM]: '0', [PCT]: '10' }, { count: 1, memory: { percent: 10 }, cores: 0 }],
    // HAMi Fit: "core limit can't exceed 100", taken as 100.
    ['cores over 100 taken as 100', { [GPU]: '1', [CORES]: '150' }, { count: 1, memory: { percent: 100 }, cores: 100 }],
  ])('%s', (_label, limits, expected) => {
    expect(demandOf(limits)).toEqual(expected);
  });

  it('uses defaultMemory and the resource names of the device config', () => {
    const config = { ...DEFAULT_REQUEST_CONFIG, resourceCountName: 'example.com/vgpu', defaultMemory: 2048, defaultCores: 5 };
    const result = parsePodRequest(
      pod()
        .container({ 'example.com/vgpu': '1', [CORES]: '0' })
        .json(),
      config,
    );
    expect(result.ok && result.value.containers[0]?.gpu).toEqual({ count: 1, memory: { mib: 2048 }, cores: 0 });
  });

  it('reads requests when limits are absent', () => {
    // gpumem is a number of MiB; a suffix scales it like any quantity (1k = 1000).
    expect(
      pod()
        .container({}, { [GPU]: '1', [MEM]: '1k' })
        .request().containers[0]?.gpu,
    ).toEqual({ count: 1, memory: { mib: 1000 }, cores: 0 });
  });

  it.each<[string, Record<string, string | number>, string]>([
    ['negative count', { [GPU]: '-1' }, `spec.containers[0].resources.limits.${GPU}`],
    ['fractional count', { [GPU]: '500m' }, `spec.containers[0].resources.limits.${GPU}`],
    ['not a quantity', { [MEM]: 'lots' }, `spec.containers[0].resources.limits.${MEM}`],
    ['percentage over 100', { [GPU]: '1', [PCT]: '101' }, `spec.containers[0].resources.limits.${PCT}`],
    ['priority 2', { [GPU]: '1', 'nvidia.com/priority': '2' }, 'spec.containers[0].resources.limits.nvidia.com/priority'],
    ['bad cpu', { cpu: '1x' }, 'spec.containers[0].resources.limits.cpu'],
  ])('refuses %s, naming the field', (_label, limits, field) => {
    const reason = reasonOf(pod().container(limits).json());
    expect(reason).toMatchObject({ kind: 'InvalidRequest', field });
  });

  it('words a percentage over 100 as HAMi does', () => {
    expect(
      reasonOf(
        pod()
          .container({ [GPU]: '1', [PCT]: '101' })
          .json(),
      ),
    ).toMatchObject({ message: `invalid ${PCT} value 101 in container c0: must be an integer between 0 and 100` });
  });

  it('takes every value HAMi v2.10 takes for vgpu-mode and gpu-scheduler-policy', () => {
    const read = (key: string, value: string) =>
      pod()
        .container({ [GPU]: 1 })
        .annotate(key, value)
        .request();
    expect(read('nvidia.com/vgpu-mode', 'mps').mode).toBe('mps');
    expect(read('hami.io/gpu-scheduler-policy', 'mutex')).toMatchObject({ gpuPolicy: null, gpuMutex: true });
    expect(read('hami.io/gpu-scheduler-policy', 'topology-aware').gpuPolicy).toBeNull();
    expect(read('hami.io/gpu-scheduler-policy', 'binpack')).toMatchObject({ gpuPolicy: 'binpack' });
    expect(read('hami.io/gpu-scheduler-policy', 'binpack').gpuMutex).toBeUndefined();
  });

  it.each([
    ['nvidia.com/vgpu-mode', 'time-slice'],
    ['hami.io/node-scheduler-policy', 'fastest'],
    ['hami.io/gpu-scheduler-policy', 'Binpack'],
  ])('refuses annotation %s=%s', (key, value) => {
    expect(
      reasonOf(
        pod()
          .container({ [GPU]: 1 })
          .annotate(key, value)
          .json(),
      ),
    ).toMatchObject({ kind: 'InvalidRequest', field: `metadata.annotations.${key}` });
  });

  it('lists init containers first, with their GPU demands, as HAMi does', () => {
    const request = pod()
      .container({ [GPU]: 1, 'nvidia.com/gpumem': 2048 })
      .init({ [GPU]: 1, 'nvidia.com/gpumem': 4096 })
      .init({})
      .request();
    expect(request.containers.map((c) => [c.gpu?.count ?? 0, c.gpu && 'mib' in c.gpu.memory ? c.gpu.memory.mib : null])).toEqual([
      [1, 4096],
      [0, null],
      [1, 2048],
    ]);
    expect(
      reasonOf(
        pod()
          .container()
          .init({ [GPU]: 1, 'nvidia.com/gpumem': '10Gi' })
          .json(),
      ),
    ).toMatchObject({ field: 'spec.initContainers[0].resources.limits.nvidia.com/gpumem' });
  });

  it('refuses pods without containers or uid', () => {
    expect(reasonOf({ metadata: { uid: 'u', name: 'n' }, spec: { containers: [] } })).toMatchObject({ field: 'spec.containers' });
    expect(reasonOf({ metadata: { name: 'n' }, spec: { containers: [{ name: 'a' }] } })).toMatchObject({ field: 'metadata.uid' });
  });
});

describe('parsePodRequest: annotations, CPU and memory', () => {
  it('reads the steering annotations', () => {
    const request = pod()
      .container({ [GPU]: 1 })
      .annotate('nvidia.com/vgpu-mode', 'mig')
      .annotate('nvidia.com/use-gputype', ' A100, h100 ,,')
      .annotate('nvidia.com/nouse-gputype', 'T4')
      .annotate('nvidia.com/use-gpuuuid', 'GPU-a,GPU-b')
      .annotate('nvidia.com/nouse-gpuuuid', 'GPU-c')
      .annotate('hami.io/node-scheduler-policy', 'spread')
      .annotate('hami.io/gpu-scheduler-policy', 'binpack')
      .request();
    expect(request).toMatchObject({
      mode: 'mig',
      useGpuTypes: ['a100', 'h100'],
      noUseGpuTypes: ['t4'],
      gpuTypeMatch: 'substring',
      useGpuUuids: ['GPU-a', 'GPU-b'],
      noUseGpuUuids: ['GPU-c'],
      nodePolicy: 'spread',
      gpuPolicy: 'binpack',
    });
  });

  it('takes the peak of init containers and the sum of app containers', () => {
    // apps: 500m + 1.5 = 2000m CPU, 1Gi + 512Mi = 1536 MiB; init: 3 CPU, 1Gi. Peak: 3000m and 1536 MiB.
    const request = pod().container({}, { cpu: '500m', memory: '1Gi' }).container({ cpu: '1.5', memory: '512Mi' }).init({}, { cpu: '3', memory: '1Gi' }).init({}, { cpu: '100m' }).request();
    expect(request.cpuMilli).toBe(3000);
    expect(request.memoryMiB).toBe(1536);
  });

  it('keeps the highest priority (lowest number) any container asks', () => {
    const request = pod()
      .container({ [GPU]: 1, 'nvidia.com/priority': 1 })
      .container({ 'nvidia.com/priority': '0' })
      .request();
    expect(request.priority).toBe(0);
  });
});

describe('parsePodRequest: fuzzed', () => {
  it('never throws on arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        parsePodRequest(value);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on pod-shaped JSON with arbitrary resources and annotations', () => {
    const quantity = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.double(), fc.constantFrom('1', '8Gi', '-1', '500m', '1e3', '101'));
    const names = fc.constantFrom(GPU, MEM, PCT, CORES, 'nvidia.com/priority', 'cpu', 'memory');
    const resources = fc.dictionary(names, fc.oneof(quantity, fc.jsonValue()), { maxKeys: 5 });
    const container = fc.record({ name: fc.string({ maxLength: 5 }), resources: fc.record({ limits: resources, requests: resources }) });
    const annotation = fc.constantFrom('nvidia.com/vgpu-mode', 'nvidia.com/use-gputype', 'hami.io/node-scheduler-policy', 'nvidia.com/use-gpuuuid');
    const podJson = fc.record({
      metadata: fc.record({ uid: fc.string(), name: fc.string(), annotations: fc.dictionary(annotation, fc.oneof(fc.string(), fc.jsonValue()), { maxKeys: 3 }) }),
      spec: fc.record({ containers: fc.array(container, { maxLength: 3 }), initContainers: fc.array(container, { maxLength: 2 }) }),
    });
    fc.assert(
      fc.property(podJson, (value) => {
        const result = parsePodRequest(value);
        if (!result.ok) {
          expect(result.error.kind).toBe('InvalidRequest');
          return;
        }
        for (const c of result.value.containers) {
          if (!c.gpu) continue;
          expect(Number.isInteger(c.gpu.count) && c.gpu.count > 0).toBe(true);
          expect(c.gpu.cores >= 0 && c.gpu.cores <= 100).toBe(true);
          if ('percent' in c.gpu.memory) expect(c.gpu.memory.percent >= 1 && c.gpu.memory.percent <= 100).toBe(true);
          else expect(c.gpu.memory.mib > 0).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
