import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HAMI_POD } from '../../src/api/annotations.js';
import { decodeHamiDevices, encodeHamiDevices, hamiDevicesOf, type HamiDevice } from '../../src/api/hami.js';
import { TesseraError } from '../../src/errors.js';
import { decisionArb } from './arbitraries.js';

const device: fc.Arbitrary<HamiDevice> = fc.record({
  uuid: fc.uuid().map((u) => `GPU-${u}`),
  type: fc.constant('NVIDIA'),
  memoryMiB: fc.nat(200_000),
  cores: fc.nat(100),
});

describe('HAMi device list format', () => {
  it('writes HAMi\'s exact format: entries end with ":", containers with ";", GPU-less containers keep ";"', () => {
    const text = encodeHamiDevices([
      [
        { uuid: 'GPU-a', type: 'NVIDIA', memoryMiB: 1024, cores: 30 },
        { uuid: 'GPU-b', type: 'NVIDIA', memoryMiB: 2048, cores: 0 },
      ],
      [],
    ]);
    expect(text).toBe('GPU-a,NVIDIA,1024,30:GPU-b,NVIDIA,2048,0:;;');
  });

  it('round-trips any container list', () => {
    fc.assert(
      fc.property(fc.array(fc.array(device, { maxLength: 4 }), { maxLength: 5 }), (containers) => {
        expect(decodeHamiDevices(encodeHamiDevices(containers), HAMI_POD.devicesToAllocate)).toEqual(containers);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps one list per decision container, in order', () => {
    fc.assert(
      fc.property(decisionArb, (decision) => {
        const decoded = decodeHamiDevices(encodeHamiDevices(hamiDevicesOf(decision)), HAMI_POD.devicesAllocated);
        expect(decoded.map((c) => c.map((d) => d.uuid))).toEqual(decision.containers.map((c) => c.devices.map((d) => d.uuid)));
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    ['GPU-a,NVIDIA,1024,30:', 'hami.io/vgpu-devices-to-allocate'],
    ['GPU-a,NVIDIA,1024,30;', 'hami.io/vgpu-devices-to-allocate.containers.0'],
    ['GPU-a,NVIDIA,10x,30:;', 'hami.io/vgpu-devices-to-allocate.containers.0.devices.0.memoryMiB'],
    [';GPU-a,NVIDIA,1,101:;', 'hami.io/vgpu-devices-to-allocate.containers.1.devices.0.cores'],
    [',NVIDIA,1,1:;', 'hami.io/vgpu-devices-to-allocate.containers.0.devices.0.uuid'],
    ['GPU-a,NVIDIA,1:;', 'hami.io/vgpu-devices-to-allocate.containers.0.devices.0'],
  ])('names the field in %s', (text, field) => {
    let caught: unknown;
    try {
      decodeHamiDevices(text, HAMI_POD.devicesToAllocate);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TesseraError);
    expect((caught as TesseraError).field).toBe(field);
  });

  it('answers arbitrary text with lists or a TesseraError, never anything else', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('G', '-', 'a', ',', ':', ';', '1', '0', 'N', ' ') }), (text) => {
        try {
          const decoded = decodeHamiDevices(text, HAMI_POD.devicesToAllocate);
          expect(decodeHamiDevices(encodeHamiDevices(decoded), HAMI_POD.devicesToAllocate)).toEqual(decoded);
        } catch (error) {
          expect(error).toBeInstanceOf(TesseraError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
