import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RUNAI, parseMigConfig, parseMigMapping, parsePodMigDevice } from '../../src/fakeoperator/runai.js';
import { TesseraError } from '../../src/errors.js';

const config = `version: v1
mig-configs:
  selected:
  - devices: [1]
    mig-enabled: true
    mig-devices:
    - {name: 3g.20gb, position: 4, size: 4}
    - {name: 1g.5gb, position: 0, size: 1}
  - devices: ["0"]
    mig-enabled: false
`;

describe("run:ai's MIG annotations", () => {
  it('reads the geometry asked for, by GPU and position', () => {
    expect(parseMigConfig(config, 2)).toEqual([
      { gpuIndex: 1, profile: '1g.5gb', position: 0 },
      { gpuIndex: 1, profile: '3g.20gb', position: 4 },
    ]);
    expect(parseMigConfig('mig-configs: {selected: [{devices: all, mig-enabled: true, mig-devices: [{name: 7g.40gb, position: 0}]}]}', 2)).toHaveLength(2);
  });

  it('refuses a GPU the node lacks', () => {
    expect(() => parseMigConfig(config, 1)).toThrow(/selected\.0\.devices\.0: names GPU 1/);
  });

  it('reads the mapping as JSON or base64 JSON', () => {
    const json = JSON.stringify({
      '1': [
        { position: 4, device_uuid: 'MIG-a', gpu_instance_id: 2 },
        { position: 0, device_uuid: 'MIG-b' },
      ],
    });
    const expected = [
      { gpuIndex: 1, position: 4, deviceUuid: 'MIG-a', gpuInstanceId: 2 },
      { gpuIndex: 1, position: 0, deviceUuid: 'MIG-b', gpuInstanceId: null },
    ];
    expect(parseMigMapping(json)).toEqual(expected);
    expect(parseMigMapping(Buffer.from(json).toString('base64'))).toEqual(expected);
  });

  it("reads a pod's runai-mig-device as run:ai writes it", () => {
    const text = '{"name":"nvidia.com/mig-7g.40gb","position":0,"gpuamount":7,"deviceUUID":"MIG-6d9be9db","gpuinstanceid":0,"gpuindex":"0","gputype":"A100-40GB"}';
    expect(parsePodMigDevice(text)).toEqual({ gpuIndex: 0, position: 0, profile: '7g.40gb', deviceUuid: 'MIG-6d9be9db' });
  });

  it('rejects any malformed annotation with an error naming it', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        for (const [parse, field] of [
          [() => parseMigConfig(text, 8), RUNAI.migConfig],
          [() => parseMigMapping(text), RUNAI.migMapping],
          [() => parsePodMigDevice(text), RUNAI.podMigDevice],
        ] as const) {
          try {
            parse();
          } catch (error) {
            expect(error).toBeInstanceOf(TesseraError);
            expect((error as TesseraError).field?.startsWith(field)).toBe(true);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
