/**
 * HAMi's device list format for `hami.io/vgpu-devices-to-allocate` and `hami.io/vgpu-devices-allocated`:
 * per container a run of `UUID,NVIDIA,<memMiB>,<cores>:` entries closed by `;`. A container without GPUs keeps
 * its empty `;`, so the container order survives: `GPU-a,NVIDIA,1024,30:GPU-b,NVIDIA,1024,30:;;` is two
 * containers, the second without GPUs.
 */
import { TesseraError } from '../errors.js';
import type { Decision } from './decision.js';

export const HAMI_DEVICE_TYPE = 'NVIDIA';

export interface HamiDevice {
  uuid: string;
  /** Device vendor type as HAMi writes it (`NVIDIA`). */
  type: string;
  memoryMiB: number;
  cores: number;
}

/** One list per container, in pod spec order. */
export type HamiContainerDevices = HamiDevice[][];

const MAX_LENGTH = 64 * 1024;
const FORBIDDEN = /[,:;\s]/;

export function encodeHamiDevices(containers: HamiContainerDevices): string {
  return containers.map((devices) => `${devices.map((d) => `${d.uuid},${d.type},${d.memoryMiB},${d.cores}:`).join('')};`).join('');
}

/** The HAMi device lists a decision stands for (GPU UUIDs: MIG instances are named in the Tessera annotation). */
export function hamiDevicesOf(decision: Decision): HamiContainerDevices {
  return decision.containers.map((c) => c.devices.map((d) => ({ uuid: d.uuid, type: HAMI_DEVICE_TYPE, memoryMiB: d.memoryMiB, cores: d.cores })));
}

function parseCount(text: string, field: string, max?: number): number {
  if (!/^\d{1,10}$/.test(text)) throw new TesseraError('INVALID_INPUT', `must be a non-negative integer, got '${text}'`, { field });
  const value = Number(text);
  if (max !== undefined && value > max) throw new TesseraError('INVALID_INPUT', `must be at most ${max}, got ${value}`, { field });
  return value;
}

/**
 * Parses HAMi's device list. `annotation` names the annotation in errors, which point at the container and entry:
 * `hami.io/vgpu-devices-to-allocate.containers.1.devices.0.memoryMiB: must be a non-negative integer, got 'x'`.
 */
export function decodeHamiDevices(text: string, annotation: string): HamiContainerDevices {
  if (text.length > MAX_LENGTH) throw new TesseraError('INVALID_INPUT', `is longer than ${MAX_LENGTH} characters`, { field: annotation });
  if (text === '') return [];
  if (!text.endsWith(';')) throw new TesseraError('INVALID_INPUT', "must end with ';' (one ';' closes each container)", { field: annotation });
  return text
    .slice(0, -1)
    .split(';')
    .map((containerText, c) => {
      const containerField = `${annotation}.containers.${c}`;
      if (containerText === '') return [];
      if (!containerText.endsWith(':')) throw new TesseraError('INVALID_INPUT', "each device entry must end with ':'", { field: containerField });
      return containerText
        .slice(0, -1)
        .split(':')
        .map((entry, d) => {
          const field = `${containerField}.devices.${d}`;
          const parts = entry.split(',');
          if (parts.length !== 4) throw new TesseraError('INVALID_INPUT', `must be 'UUID,TYPE,MEMMIB,CORES', got '${entry}'`, { field });
          const [uuid = '', type = '', memory = '', cores = ''] = parts;
          if (uuid === '' || FORBIDDEN.test(uuid)) throw new TesseraError('INVALID_INPUT', `is not a device UUID: '${uuid}'`, { field: `${field}.uuid` });
          if (type === '' || FORBIDDEN.test(type)) throw new TesseraError('INVALID_INPUT', `is not a device type: '${type}'`, { field: `${field}.type` });
          return {
            uuid,
            type,
            memoryMiB: parseCount(memory, `${field}.memoryMiB`),
            cores: parseCount(cores, `${field}.cores`, 100),
          };
        });
    });
}
