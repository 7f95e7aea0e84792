import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import { allowedGeometriesFor, DEFAULT_DEVICE_CONFIG, loadDeviceConfig, parseDeviceConfig } from '../../src/config/device-config.js';
import { isTesseraError } from '../../src/errors.js';
import { placeGeometry, resolveGpuModel } from '../../src/geometry/index.js';

const shipped = readFileSync(new URL('../../config/device-config-hami-geometries.yaml', import.meta.url), 'utf8');

function fieldOf(text: string): string | undefined {
  const result = loadDeviceConfig(text);
  return result.ok ? undefined : result.error.field;
}

describe('device config', () => {
  it('loads the shipped config, and every geometry in it places on its models', () => {
    const result = loadDeviceConfig(shipped);
    if (!result.ok) throw result.error;
    const models = result.value.nvidia.knownMigGeometries.flatMap((k) => k.models);
    expect(models).toEqual(expect.arrayContaining(['A30', 'A100-SXM4-40GB', 'A100-SXM4-80GB', 'H100-SXM5-80GB']));
    for (const name of ['A30', 'NVIDIA A100-SXM4-40GB', 'NVIDIA A100-PCIE-40GB', 'A100-SXM4-80GB', 'NVIDIA H100 80GB HBM3']) {
      const model = resolveGpuModel(name);
      if (!model.ok) throw model.error;
      const geometries = allowedGeometriesFor(result.value, model.value);
      expect(geometries?.length, name).toBeGreaterThan(0);
      for (const g of geometries ?? []) expect(placeGeometry(model.value, g).ok).toBe(true);
    }
    const h200 = resolveGpuModel('H200');
    expect(h200.ok && allowedGeometriesFor(result.value, h200.value)).toBeUndefined();
  });

  it('fills every default in an empty document (HAMi values)', () => {
    const result = loadDeviceConfig('');
    expect(result).toEqual({ ok: true, value: DEFAULT_DEVICE_CONFIG });
    expect(DEFAULT_DEVICE_CONFIG.nvidia).toMatchObject({ defaultMemory: 0, defaultCores: 0, defaultGPUNum: 1, deviceSplitCount: 10, deviceMemoryScaling: 1, deviceCoreScaling: 1 });
  });

  it('keeps given values and defaults the rest', () => {
    const result = loadDeviceConfig('nvidia:\n  deviceSplitCount: 4\n  resourceMemoryName: example.com/mem\nnodeconfig:\n  - {name: n1, operatingmode: mig}\n');
    expect(result.ok && result.value.nvidia.deviceSplitCount).toBe(4);
    expect(result.ok && result.value.nvidia.resourceMemoryName).toBe('example.com/mem');
    expect(result.ok && result.value.nvidia.resourceCountName).toBe('nvidia.com/gpu');
    expect(result.ok && result.value.nodeconfig).toEqual([{ name: 'n1', operatingmode: 'mig' }]);
  });

  it.each([
    ['nvidia: {deviceSplitCount: 0}', 'nvidia.deviceSplitCount'],
    ['nvidia: {defaultCores: 101}', 'nvidia.defaultCores'],
    ['nvidia: {deviceMemoryScaling: 0}', 'nvidia.deviceMemoryScaling'],
    ['nvidia: {unknownKnob: 1}', 'nvidia.unknownKnob'],
    ['other: 1', 'other'],
    ['nodeconfig: [{name: n1, operatingmode: turbo}]', 'nodeconfig.0.operatingmode'],
    ['nodeconfig: [{operatingmode: mig}]', 'nodeconfig.0.name'],
    ['nodeconfig: [{name: n1, operatingmode: mig}, {name: n1, operatingmode: mig}]', 'nodeconfig.1.name'],
    ['nvidia: {knownMigGeometries: [{models: [A100-40GB]}]}', 'nvidia.knownMigGeometries.0.allowedGeometries'],
    ['nvidia: {knownMigGeometries: [{models: [A100-40GB], allowedGeometries: [[{name: 1g.5gb, memory: 5120}]]}]}', 'nvidia.knownMigGeometries.0.allowedGeometries.0.0.count'],
    ['nvidia: {knownMigGeometries: [{models: [A100-40GB, Nope], allowedGeometries: [[{name: 1g.5gb, memory: 5120, count: 1}]]}]}', 'nvidia.knownMigGeometries.0.models.1'],
    ['nvidia: {knownMigGeometries: [{models: [T4], allowedGeometries: [[{name: 1g.5gb, memory: 5120, count: 1}]]}]}', 'nvidia.knownMigGeometries.0.models.0'],
    [': [', 'device-config'],
    ['a: 1\na: 2', 'device-config'],
  ])('%s -> error at %s', (text, field) => {
    expect(fieldOf(text)).toBe(field);
  });

  it('rejects a geometry the GPU cannot hold, naming the model, the geometry index and the profile', () => {
    const text = stringify({
      nvidia: {
        knownMigGeometries: [
          {
            models: ['A100-SXM4-40GB'],
            allowedGeometries: [
              [{ name: '1g.5gb', memory: 5120, count: 7 }],
              [
                { name: '4g.20gb', memory: 20480, count: 1 },
                { name: '3g.20gb', memory: 20480, count: 1 },
                { name: '1g.5gb', memory: 5120, count: 1 },
              ],
            ],
          },
        ],
      },
    });
    const result = loadDeviceConfig(text);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('INVALID_CONFIG');
      expect(result.error.field).toBe('nvidia.knownMigGeometries.0.allowedGeometries.1');
      expect(result.error.message).toContain('model A100-SXM4-40GB, geometry 1');
      expect(result.error.message).toContain('1x1g.5gb');
    }
    const lacking = loadDeviceConfig('nvidia: {knownMigGeometries: [{models: [H100-80GB], allowedGeometries: [[{name: 1g.5gb, memory: 5120, count: 1}]]}]}');
    expect(!lacking.ok && lacking.error.message).toContain("H100-SXM5-80GB has no MIG profile '1g.5gb'");
  });

  it('never throws on arbitrary YAML text, and any error names a field', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const result = loadDeviceConfig(text);
        if (!result.ok) expect(result.error.field).toBeTruthy();
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary structured input shaped like a config', () => {
    const value = fc.oneof(fc.integer(), fc.string({ maxLength: 12 }), fc.boolean(), fc.constant(null), fc.double());
    const entry = fc.record(
      { name: fc.oneof(fc.constantFrom('1g.5gb', '3g.20gb', '7g.40gb', '1g.10gb'), fc.string()), memory: value, count: fc.oneof(fc.nat({ max: 9 }), value) },
      { requiredKeys: [] },
    );
    const arb = fc.record(
      {
        nvidia: fc.record(
          {
            deviceSplitCount: value,
            defaultMemory: value,
            resourceCountName: value,
            knownMigGeometries: fc.array(
              fc.record(
                {
                  models: fc.array(fc.oneof(fc.constantFrom('A100-40GB', 'A30', 'H100-80GB', 'T4'), fc.string()), { maxLength: 3 }),
                  allowedGeometries: fc.array(fc.array(entry, { maxLength: 4 }), { maxLength: 3 }),
                },
                { requiredKeys: [] },
              ),
              { maxLength: 3 },
            ),
          },
          { requiredKeys: [] },
        ),
        nodeconfig: fc.array(fc.record({ name: value, operatingmode: fc.oneof(fc.constantFrom('mig', 'hami-core'), value) }, { requiredKeys: [] }), { maxLength: 3 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(arb, (input) => {
        let result;
        try {
          result = parseDeviceConfig(input);
        } catch (error) {
          throw new Error(`threw ${isTesseraError(error) ? error.message : String(error)}`, { cause: error });
        }
        if (!result.ok) expect(result.error.field).toBeTruthy();
      }),
      { numRuns: 300 },
    );
  });
});
