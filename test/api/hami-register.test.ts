/**
 * HAMi's node protocol. Every fixture string below is written by hand from HAMi's encoders as its source reads
 * (Project-HAMi/HAMi, pkg/device/devices.go `MarshalNodeDevices` / `EncodeNodeDevices`, pkg/device/nvidia
 * `EncodeMigAllocations`): Go's json.Marshal of `DeviceInfo` keeps field order and drops zero values
 * (`omitempty`); the colon form is `id,count,devmem,devcore,type,numa,health[,index,mode]:` per GPU.
 */
import { describe, expect, it } from 'vitest';
import { decodeHamiMigAllocations, decodeHamiRegister, encodeHamiMigAllocations, encodeHamiRegister, reportedHandshake } from '../../src/api/hami-register.js';
import { DEFAULT_DEVICE_CONFIG, loadDeviceConfig } from '../../src/config/device-config.js';
import { hamiNodeSettings } from '../../src/deviceplugin/hami-node-config.js';
import { hamiRegisterDevices } from '../../src/deviceplugin/hami-register.js';
import { isTesseraError } from '../../src/errors.js';

// Two A100s as HAMi v2.10's device plugin registers them: GPU 0 has index 0 and NUMA 0 (both left out), GPU 1 is
// unhealthy (health left out).
const V210_JSON =
  '[{"id":"GPU-0a1b2c3d-0000-1111-2222-333344445555","count":10,"devmem":81920,"devcore":100,"type":"NVIDIA A100-SXM4-80GB","mode":"hami-core","health":true},' +
  '{"id":"GPU-0a1b2c3d-0000-1111-2222-666677778888","index":1,"count":10,"devmem":81920,"devcore":100,"type":"NVIDIA A100-SXM4-80GB","numa":1,"mode":"hami-core"}]';

describe("HAMi's register annotation", () => {
  it('reads the JSON v2.9 and v2.10 write', () => {
    expect(decodeHamiRegister(V210_JSON)).toEqual([
      { id: 'GPU-0a1b2c3d-0000-1111-2222-333344445555', index: 0, count: 10, devmem: 81920, devcore: 100, type: 'NVIDIA A100-SXM4-80GB', numa: 0, mode: 'hami-core', health: true },
      { id: 'GPU-0a1b2c3d-0000-1111-2222-666677778888', index: 1, count: 10, devmem: 81920, devcore: 100, type: 'NVIDIA A100-SXM4-80GB', numa: 1, mode: 'hami-core', health: false },
    ]);
  });

  it("reads v2.10's MIG registration with its profiles and placements", () => {
    const text =
      '[{"id":"GPU-m","count":7,"devmem":40960,"devcore":100,"type":"NVIDIA A100-SXM4-40GB","mode":"mig","migProfiles":[{"name":"1g.5gb","memoryMB":4864,"core":14,"sliceCount":1,"placements":[{"start":0,"size":1},{"start":1,"size":1}]}],"health":true}]';
    const [gpu] = decodeHamiRegister(text);
    expect(gpu?.mode).toBe('mig');
    expect(gpu?.migProfiles?.[0]).toEqual({
      name: '1g.5gb',
      memoryMB: 4864,
      core: 14,
      sliceCount: 1,
      placements: [
        { start: 0, size: 1 },
        { start: 1, size: 1 },
      ],
    });
  });

  it('reads the colon form, 7 fields and 9', () => {
    const text = 'GPU-a,10,32768,100,NVIDIA-Tesla V100-PCIE-32GB,0,true:GPU-b,4,32768,200,NVIDIA-Tesla V100-PCIE-32GB,1,false,1,mig:';
    expect(decodeHamiRegister(text)).toEqual([
      { id: 'GPU-a', count: 10, devmem: 32768, devcore: 100, type: 'NVIDIA-Tesla V100-PCIE-32GB', numa: 0, health: true, index: 0, mode: 'hami-core' },
      { id: 'GPU-b', count: 4, devmem: 32768, devcore: 200, type: 'NVIDIA-Tesla V100-PCIE-32GB', numa: 1, health: false, index: 1, mode: 'mig' },
    ]);
  });

  it.each([
    ['[{"id":"GPU-a","count":"ten"}]', 'hami.io/node-nvidia-register.0.count'],
    ['[{"id":"GPU a"}]', 'hami.io/node-nvidia-register.0.id'],
    ['[{"id":"GPU-a","mode":"turbo"}]', 'hami.io/node-nvidia-register.0.mode'],
    ['[{"id":"GPU-a","health":"yes"}]', 'hami.io/node-nvidia-register.0.health'],
    ['{"id":"GPU-a"}', 'hami.io/node-nvidia-register'],
    ['[{"id":', 'hami.io/node-nvidia-register'],
    ['GPU-a,10,32768,100,NVIDIA,0:', 'hami.io/node-nvidia-register.0'],
    ['GPU-a,x,32768,100,NVIDIA,0,true:', 'hami.io/node-nvidia-register.0.count'],
    ['GPU-a,10,32768,100,NVIDIA,0,maybe:', 'hami.io/node-nvidia-register.0.health'],
    ['nothing', 'hami.io/node-nvidia-register'],
  ])('rejects %s naming %s', (text, field) => {
    try {
      decodeHamiRegister(text);
      throw new Error('expected an error');
    } catch (error) {
      expect(isTesseraError(error) && error.field).toBe(field);
    }
  });

  it("writes exactly what HAMi's device plugin writes for the same GPUs", () => {
    const gpus = [
      { uuid: 'GPU-0a1b2c3d-0000-1111-2222-333344445555', index: 0, model: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81920, numa: 0, healthy: true, migEnabled: false, migInstances: [] },
      { uuid: 'GPU-0a1b2c3d-0000-1111-2222-666677778888', index: 1, model: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81920, numa: 1, healthy: false, migEnabled: false, migInstances: [] },
    ];
    const settings = hamiNodeSettings(DEFAULT_DEVICE_CONFIG, 'n');
    expect(encodeHamiRegister(hamiRegisterDevices(gpus, settings, DEFAULT_DEVICE_CONFIG))).toBe(V210_JSON);
    // deviceMemoryScaling and deviceCoreScaling as HAMi applies them: devmem x scaling, devcore 100 x scaling.
    const scaled = loadDeviceConfig('nvidia: {deviceMemoryScaling: 1.5, deviceCoreScaling: 2, deviceSplitCount: 4}');
    if (!scaled.ok) throw scaled.error;
    const gpu = gpus[0];
    if (!gpu) throw new Error('no fixture');
    expect(encodeHamiRegister(hamiRegisterDevices([gpu], hamiNodeSettings(scaled.value, 'n'), scaled.value))).toBe(
      '[{"id":"GPU-0a1b2c3d-0000-1111-2222-333344445555","count":4,"devmem":122880,"devcore":200,"type":"NVIDIA A100-SXM4-80GB","mode":"hami-core","health":true}]',
    );
  });

  it("registers a MIG node's allowlisted profiles with their placements, memory unscaled", () => {
    const config = loadDeviceConfig('nvidia: {deviceMemoryScaling: 2, migProfileAllowlist: [{models: [A30], profiles: [2g.12gb, 4g.24gb]}]}\nnodeconfig: [{name: n, operatingmode: mig}]');
    if (!config.ok) throw config.error;
    const gpu = { uuid: 'GPU-a30', index: 0, model: 'NVIDIA A30', memoryMiB: 24576, numa: null, healthy: true, migEnabled: true, migInstances: [] };
    expect(encodeHamiRegister(hamiRegisterDevices([gpu], hamiNodeSettings(config.value, 'n'), config.value))).toBe(
      '[{"id":"GPU-a30","count":2,"devmem":24576,"devcore":100,"type":"NVIDIA A30","mode":"mig","migProfiles":[' +
        '{"name":"4g.24gb","memoryMB":24064,"core":100,"sliceCount":4,"placements":[{"start":0,"size":4}]},' +
        '{"name":"2g.12gb","memoryMB":11966,"core":50,"sliceCount":2,"placements":[{"start":0,"size":2},{"start":2,"size":2}]}],"health":true}]',
    );
  });

  it("answers the handshake in Go's time.Now().String() layout", () => {
    expect(reportedHandshake(Date.UTC(2026, 11, 6, 1, 2, 3, 45))).toBe('Reported 2026-12-06 01:02:03.045000000 +0000 UTC');
  });
});

describe("HAMi v2.10's MIG allocations", () => {
  const TEXT =
    '[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"3g.40gb","placement":{"start":4,"size":4}},{"containerIndex":1,"deviceIndex":0,"gpuUUID":"GPU-b","profile":"1g.10gb","placement":{"start":6,"size":1}}]';

  it('writes and reads the JSON HAMi writes', () => {
    const allocations = [
      { containerIndex: 0, deviceIndex: 0, gpuUUID: 'GPU-a', profile: '3g.40gb', placement: { start: 4, size: 4 } },
      { containerIndex: 1, deviceIndex: 0, gpuUUID: 'GPU-b', profile: '1g.10gb', placement: { start: 6, size: 1 } },
    ];
    expect(encodeHamiMigAllocations(allocations)).toBe(TEXT);
    expect(decodeHamiMigAllocations(TEXT)).toEqual(allocations);
  });

  it("refuses what HAMi's DecodeMigAllocations refuses", () => {
    expect(() => decodeHamiMigAllocations('[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g.10gb","placement":{"start":0,"size":0}}]')).toThrow('placement.size');
    expect(() => decodeHamiMigAllocations('[{"containerIndex":0,"deviceIndex":0,"gpuUUID":"","profile":"1g.10gb","placement":{"start":0,"size":1}}]')).toThrow('gpuUUID');
    const twice = '{"containerIndex":0,"deviceIndex":0,"gpuUUID":"GPU-a","profile":"1g.10gb","placement":{"start":0,"size":1}}';
    expect(() => decodeHamiMigAllocations(`[${twice},${twice}]`)).toThrow('allocated twice');
  });
});
