/** fast-check generators of valid topologies (the model), for round-trip and consumer properties. */
import fc from 'fast-check';
import type { ContainerRef, DeviceStatus, GpuTopology, MigDeviceTopology, NodeTopology, Topology } from '../../src/topology/topology.js';

const dnsLabel = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/);
const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));
const uuid = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((parts) => parts.join('-'));
const containerRef: fc.Arbitrary<ContainerRef> = fc.record({ namespace: dnsLabel, pod: dnsLabel, container: dnsLabel });
const health = fc.constantFrom('Healthy' as const, 'Unhealthy' as const);

/** A status whose usage stays within `budgetMiB`. */
const status = (budgetMiB: number): fc.Arbitrary<DeviceStatus> =>
  fc.record({
    allocatedBy: fc.option(containerRef, { nil: null }),
    usage: fc.dictionary(
      uuid,
      fc.record({
        utilization: fc.tuple(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 })).map(([a, b]) => ({ min: Math.min(a, b), max: Math.max(a, b) })),
        fbUsedMiB: fc.integer({ min: 0, max: Math.floor(budgetMiB / 8) }),
        isInferencePod: fc.boolean(),
        allocatedBy: fc.option(containerRef, { nil: null }),
      }),
      { maxKeys: 2 },
    ),
  });

const migDevices = (memoryMiB: number): fc.Arbitrary<MigDeviceTopology[]> =>
  fc.uniqueArray(fc.integer({ min: 0, max: 6 }), { maxLength: 3 }).chain((positions) =>
    fc.tuple(
      ...positions.map((position, i) =>
        fc.record({
          id: fc.option(
            uuid.map((u) => `MIG-${u}`),
            { nil: null },
          ),
          profile: fc.constantFrom('1g.10gb', '2g.20gb', '3g.40gb', '1g.10gb+me'),
          position: fc.option(fc.constant(position), { nil: null }),
          gpuInstanceId: fc.option(fc.constant(7 + i), { nil: null }),
          status: status(memoryMiB),
        }),
      ),
    ),
  );

const gpu = (memoryMiB: number, mig: boolean): fc.Arbitrary<GpuTopology> =>
  fc.record({
    id: uuid.map((u) => `GPU-${u}`),
    health,
    failMigOperations: fc.boolean(),
    status: status(memoryMiB),
    migDevices: mig ? migDevices(memoryMiB) : fc.constant([]),
  });

export const nodeTopology: fc.Arbitrary<NodeTopology> = fc
  .record({
    gpuProduct: fc.constantFrom('NVIDIA-A100-SXM4-40GB', 'NVIDIA-H100-80GB-HBM3', 'Tesla-T4'),
    gpuMemoryMiB: fc.integer({ min: 1024, max: 200_000 }),
    driverVersion: fc.constantFrom('520.56.06', '550.54.15'),
    migStrategy: fc.constantFrom('none' as const, 'single' as const, 'mixed' as const),
    dynamicMig: fc.boolean(),
    health,
    failMigOperations: fc.boolean(),
  })
  .chain((node) =>
    fc
      .uniqueArray(gpu(node.gpuMemoryMiB, node.migStrategy !== 'none'), { maxLength: 4, selector: (g) => g.id })
      // MIG device IDs must be unique across the node.
      .filter((gpus) => {
        const ids = gpus.flatMap((g) => g.migDevices.map((m) => m.id)).filter((id) => id !== null);
        return new Set(ids).size === ids.length;
      })
      .map((gpus) => ({ ...node, gpus })),
  );

export const topology: fc.Arbitrary<Topology> = fc.record({
  migStrategy: fc.constantFrom('none' as const, 'single' as const, 'mixed' as const),
  nodePoolLabelKey: fc.constantFrom('run.ai/simulated-gpu-node-pool', 'example.com/pool'),
  nodePools: fc.dictionary(
    dnsLabel,
    fc.record({
      gpuProduct: fc.constantFrom('NVIDIA-A100-SXM4-40GB', 'Tesla-T4'),
      gpuCount: fc.integer({ min: 0, max: 8 }),
      gpuMemoryMiB: fc.integer({ min: 1024, max: 100_000 }),
      driverVersion: fc.constant('550.54.15'),
      migStrategy: fc.constantFrom('none' as const, 'mixed' as const),
      dynamicMig: fc.boolean(),
    }),
    { maxKeys: 2 },
  ),
  nodes: fc.dictionary(dnsLabel, nodeTopology, { maxKeys: 3 }),
});
