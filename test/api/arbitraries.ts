/** fast-check generators for the wire contracts, shared by the api and extender tests. */
import fc from 'fast-check';
import { TESSERA_API_VERSION } from '../../src/api/annotations.js';
import { DECISION_KIND, type Decision, type DecisionDevice } from '../../src/api/decision.js';
import { INVENTORY_KIND, type NodeInventory } from '../../src/api/inventory.js';

const uuid = fc.uuid().map((u) => `GPU-${u}`);
const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
const profile = fc.constantFrom('1g.10gb', '2g.20gb', '3g.40gb', '4g.40gb', '7g.80gb', '1g.20gb');
const time = fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2030-01-01T00:00:00Z'), noInvalidDate: true }).map((d) => d.toISOString());

const device: fc.Arbitrary<DecisionDevice> = fc.record(
  {
    uuid,
    index: fc.nat(15),
    memoryMiB: fc.nat(200_000),
    cores: fc.nat(100),
    mig: fc.record(
      {
        profile,
        start: fc.nat(7),
        plan: fc.array(fc.record({ action: fc.constantFrom('create' as const, 'destroy' as const), profile, start: fc.nat(7) }), { maxLength: 4 }),
        migDeviceUuid: fc.uuid().map((u) => `MIG-${u}`),
        gpuInstanceId: fc.nat(14),
      },
      { requiredKeys: ['profile', 'start', 'plan'] },
    ),
  },
  { requiredKeys: ['uuid', 'index', 'memoryMiB', 'cores'] },
);

export const decisionArb: fc.Arbitrary<Decision> = fc.record(
  {
    apiVersion: fc.constant(TESSERA_API_VERSION),
    kind: fc.constant(DECISION_KIND),
    pod: fc.record({ uid: fc.uuid(), namespace: name, name }),
    node: name,
    mode: fc.constantFrom('hami-core' as const, 'mig' as const),
    containers: fc.array(fc.record({ name, devices: fc.array(device, { maxLength: 4 }) }), { maxLength: 4 }),
    resources: fc.record({ cpuMilli: fc.nat(64_000), memoryMiB: fc.nat(512_000) }),
    decidedAt: time,
  },
  { requiredKeys: ['apiVersion', 'kind', 'pod', 'node', 'mode', 'containers', 'decidedAt'] },
);

export const inventoryArb: fc.Arbitrary<NodeInventory> = fc.record({
  apiVersion: fc.constant(TESSERA_API_VERSION),
  kind: fc.constant(INVENTORY_KIND),
  node: name,
  mode: fc.constantFrom('hami-core' as const, 'mig' as const),
  splitCount: fc.integer({ min: 1, max: 64 }),
  gpus: fc.uniqueArray(
    fc.record({
      uuid,
      index: fc.nat(15),
      model: fc.constantFrom('NVIDIA A100-SXM4-80GB', 'NVIDIA H100 80GB HBM3', 'Tesla T4'),
      memoryMiB: fc.integer({ min: 1, max: 200_000 }),
      coreUnits: fc.constant(100),
      numa: fc.option(fc.nat(3), { nil: null }),
      health: fc.constantFrom('Healthy' as const, 'Unhealthy' as const),
      mig: fc.record({
        enabled: fc.boolean(),
        instances: fc.array(fc.record({ profile, start: fc.nat(7), gpuInstanceId: fc.nat(14), migDeviceUuid: fc.uuid().map((u) => `MIG-${u}`) }), { maxLength: 3 }),
      }),
    }),
    { maxLength: 8, selector: (g) => g.uuid },
  ),
  observedAt: time,
});
