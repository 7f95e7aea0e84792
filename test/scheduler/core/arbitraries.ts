/** fast-check generators for the allocator's property tests: node specs and requests as plain data. */
import fc from 'fast-check';
import type { NodeMode, NodeSpec } from '../../../src/scheduler/core/index.js';
import type { GpuDemand, PodRequest } from '../../../src/request/index.js';

export interface ModelShape {
  readonly model: string;
  readonly memoryMiB: number;
}

export function nodeSpecArb(name: string, mode: NodeMode, models: readonly ModelShape[]): fc.Arbitrary<NodeSpec> {
  return fc
    .record({
      gpus: fc.integer({ min: 0, max: 4 }),
      model: fc.constantFrom(...models),
      splitCount: fc.integer({ min: 1, max: 4 }),
      cpuMilli: fc.integer({ min: 1000, max: 64_000 }),
      memoryMiB: fc.integer({ min: 1024, max: 262_144 }),
      unhealthy: fc.nat(5),
    })
    .map(({ gpus, model, splitCount, cpuMilli, memoryMiB, unhealthy }) => ({
      name,
      mode,
      cpuMilli,
      memoryMiB,
      labels: {},
      splitCount,
      memoryScaling: 1,
      gpus: Array.from({ length: gpus }, (_, index) => ({
        uuid: `GPU-${name}-${index}`,
        index,
        model: model.model,
        memoryMiB: model.memoryMiB,
        coreUnits: 100,
        healthy: index !== unhealthy,
        numa: 0,
      })),
    }));
}

const demandArb: fc.Arbitrary<GpuDemand> = fc.record({
  count: fc.oneof({ weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: 3 }) }),
  memory: fc.oneof(fc.record({ mib: fc.integer({ min: 1, max: 20_000 }) }), fc.record({ percent: fc.integer({ min: 1, max: 100 }) })),
  cores: fc.oneof(fc.constant(0), fc.constant(100), fc.integer({ min: 0, max: 60 })),
});

export function requestArb(uid: string, modes: readonly (NodeMode | null)[] = [null, 'hami-core', 'mig']): fc.Arbitrary<PodRequest> {
  return fc.record({
    pod: fc.constant({ uid, namespace: 'ns', name: uid }),
    containers: fc.array(fc.record({ name: fc.constantFrom('a', 'b', 'c'), gpu: fc.option(demandArb, { nil: null }) }), { minLength: 1, maxLength: 2 }),
    cpuMilli: fc.integer({ min: 0, max: 2000 }),
    memoryMiB: fc.integer({ min: 0, max: 4096 }),
    priority: fc.constant(null),
    mode: fc.constantFrom(...modes),
    useGpuTypes: fc.constant([]),
    noUseGpuTypes: fc.constant([]),
    gpuTypeMatch: fc.constant('substring' as const),
    useGpuUuids: fc.constant([]),
    noUseGpuUuids: fc.constant([]),
    nodePolicy: fc.constantFrom('binpack' as const, 'spread' as const, null),
    gpuPolicy: fc.constantFrom('binpack' as const, 'spread' as const, null),
  });
}
