/**
 * HAMi's node protocol, in HAMi's own encodings (Project-HAMi/HAMi v2.9/v2.10, pkg/device/devices.go and
 * pkg/device/nvidia):
 * - `hami.io/node-nvidia-register`: the node's GPUs. v2.9 and v2.10 write JSON (`MarshalNodeDevices`: a list of
 *   `DeviceInfo` with Go's field order and `omitempty`, so a zero index or NUMA node and an unhealthy GPU's
 *   `health` are left out); older device plugins wrote `id,count,devmem,devcore,type,numa,health[,index,mode]:`
 *   per GPU (`EncodeNodeDevices`). Both are read; JSON is written.
 * - `hami.io/node-handshake`: `Reported <time>` from the device plugin, `Requesting_<time>` from HAMi's scheduler.
 * - `hami.io/vgpu-mig-allocations` (v2.10): per MIG device granted, the container and device index, the physical
 *   GPU, the profile and its placement (`start`, `size` in memory slices), JSON.
 */
import { TesseraError } from '../errors.js';

export const HAMI_NODE = {
  register: 'hami.io/node-nvidia-register',
  handshake: 'hami.io/node-handshake',
} as const;

export const HAMI_MIG_ALLOCATIONS = 'hami.io/vgpu-mig-allocations';

export const HAMI_MODES = ['hami-core', 'mig', 'mps'] as const;
export type HamiMode = (typeof HAMI_MODES)[number];

export interface HamiMigPlacement {
  start: number;
  size: number;
}

/** One MIG profile a v2.10 device plugin offers on a GPU, with every placement it may take. */
export interface HamiMigProfile {
  name: string;
  memoryMB: number;
  core: number;
  sliceCount: number;
  placements: HamiMigPlacement[];
}

/** One GPU as HAMi registers it. */
export interface HamiNodeDevice {
  id: string;
  index: number;
  /** vGPUs the GPU is split into (deviceSplitCount). */
  count: number;
  /** MiB, after deviceMemoryScaling. */
  devmem: number;
  /** 100 x deviceCoreScaling. */
  devcore: number;
  /** The name NVML reports, `NVIDIA`-prefixed. */
  type: string;
  numa: number;
  mode: HamiMode;
  health: boolean;
  migProfiles?: HamiMigProfile[];
}

const MAX_LENGTH = 1024 * 1024;
const FORBIDDEN = /[,:;\s]/;

/** HAMi's JSON register text (`MarshalNodeDevices`): Go's field order, zero values left out. */
export function encodeHamiRegister(devices: readonly HamiNodeDevice[]): string {
  return JSON.stringify(
    devices.map((d) => ({
      id: d.id,
      ...(d.index !== 0 ? { index: d.index } : {}),
      ...(d.count !== 0 ? { count: d.count } : {}),
      ...(d.devmem !== 0 ? { devmem: d.devmem } : {}),
      ...(d.devcore !== 0 ? { devcore: d.devcore } : {}),
      ...(d.type !== '' ? { type: d.type } : {}),
      ...(d.numa !== 0 ? { numa: d.numa } : {}),
      mode: d.mode,
      ...(d.migProfiles && d.migProfiles.length > 0 ? { migProfiles: d.migProfiles } : {}),
      ...(d.health ? { health: true } : {}),
    })),
  );
}

function integer(value: unknown, field: string, min = 0): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) throw new TesseraError('INVALID_INPUT', `must be an integer >= ${min}, got ${JSON.stringify(value)}`, { field });
  return value;
}

function modeOf(value: unknown, field: string): HamiMode {
  if (value === undefined || value === '') return 'hami-core';
  if (typeof value === 'string' && (HAMI_MODES as readonly string[]).includes(value)) return value as HamiMode;
  throw new TesseraError('INVALID_INPUT', `must be one of ${HAMI_MODES.join(', ')}, got ${JSON.stringify(value)}`, { field });
}

function idOf(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '' || value.length > 256 || FORBIDDEN.test(value)) throw new TesseraError('INVALID_INPUT', `is not a GPU UUID: ${JSON.stringify(value)}`, { field });
  return value;
}

function migProfilesOf(value: unknown, field: string): HamiMigProfile[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw new TesseraError('INVALID_INPUT', 'must be a list', { field });
  return value.map((raw: unknown, i) => {
    const at = `${field}.${i}`;
    if (typeof raw !== 'object' || raw === null) throw new TesseraError('INVALID_INPUT', 'must be an object', { field: at });
    const p = raw as Record<string, unknown>;
    if (typeof p.name !== 'string' || !/^\d+g\./.test(p.name)) throw new TesseraError('INVALID_INPUT', `is not a MIG profile name: ${JSON.stringify(p.name)}`, { field: `${at}.name` });
    const placements = p.placements === undefined || p.placements === null ? [] : p.placements;
    if (!Array.isArray(placements)) throw new TesseraError('INVALID_INPUT', 'must be a list', { field: `${at}.placements` });
    return {
      name: p.name,
      memoryMB: integer(p.memoryMB, `${at}.memoryMB`),
      core: integer(p.core, `${at}.core`),
      sliceCount: integer(p.sliceCount, `${at}.sliceCount`),
      placements: placements.map((pl: unknown, k) => {
        const q = (typeof pl === 'object' && pl !== null ? pl : {}) as Record<string, unknown>;
        return { start: integer(q.start, `${at}.placements.${k}.start`), size: integer(q.size, `${at}.placements.${k}.size`, 1) };
      }),
    };
  });
}

function decodeJson(text: string, field: string): HamiNodeDevice[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', `is not valid JSON (${(cause as Error).message})`, { field, cause });
  }
  if (!Array.isArray(parsed)) throw new TesseraError('INVALID_INPUT', 'must be a JSON list of devices', { field });
  return parsed.map((raw: unknown, i) => {
    const at = `${field}.${i}`;
    if (typeof raw !== 'object' || raw === null) throw new TesseraError('INVALID_INPUT', 'must be an object', { field: at });
    const d = raw as Record<string, unknown>;
    if (d.health !== undefined && typeof d.health !== 'boolean') throw new TesseraError('INVALID_INPUT', 'must be true or false', { field: `${at}.health` });
    if (d.type !== undefined && typeof d.type !== 'string') throw new TesseraError('INVALID_INPUT', 'must be a string', { field: `${at}.type` });
    const migProfiles = migProfilesOf(d.migProfiles, `${at}.migProfiles`);
    return {
      id: idOf(d.id, `${at}.id`),
      index: integer(d.index, `${at}.index`),
      count: integer(d.count, `${at}.count`),
      devmem: integer(d.devmem, `${at}.devmem`),
      devcore: integer(d.devcore, `${at}.devcore`),
      type: d.type ?? '',
      numa: integer(d.numa, `${at}.numa`, -1),
      mode: modeOf(d.mode, `${at}.mode`),
      health: d.health === true,
      ...(migProfiles ? { migProfiles } : {}),
    };
  });
}

/** HAMi's `DecodeNodeDevices`: 7 fields per GPU, or 9 with the index and mode. */
function decodeColons(text: string, field: string): HamiNodeDevice[] {
  return text
    .split(':')
    .filter((entry) => entry !== '')
    .map((entry, i) => {
      const at = `${field}.${i}`;
      const items = entry.split(',');
      if (items.length !== 7 && items.length !== 9) throw new TesseraError('INVALID_INPUT', `must have 7 or 9 comma-separated fields, got ${items.length}`, { field: at });
      const [id = '', count = '', devmem = '', devcore = '', type = '', numa = '', health = '', index = '0', mode = 'hami-core'] = items;
      const num = (value: string, name: string, min = 0): number => {
        if (!/^-?\d{1,10}$/.test(value) || Number(value) < min) throw new TesseraError('INVALID_INPUT', `must be an integer >= ${min}, got '${value}'`, { field: `${at}.${name}` });
        return Number(value);
      };
      if (health !== 'true' && health !== 'false') throw new TesseraError('INVALID_INPUT', `must be true or false, got '${health}'`, { field: `${at}.health` });
      return {
        id: idOf(id, `${at}.id`),
        count: num(count, 'count'),
        devmem: num(devmem, 'devmem'),
        devcore: num(devcore, 'devcore'),
        type,
        numa: num(numa, 'numa', -1),
        health: health === 'true',
        index: num(index, 'index'),
        mode: modeOf(mode, `${at}.mode`),
      };
    });
}

/** The GPUs a register annotation names; an error names the annotation, the device and the field. */
export function decodeHamiRegister(text: string): HamiNodeDevice[] {
  const field = HAMI_NODE.register;
  if (typeof text !== 'string' || text.length > MAX_LENGTH) throw new TesseraError('INVALID_INPUT', `must be text of at most ${MAX_LENGTH} characters`, { field });
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) return decodeJson(trimmed, field);
  if (!trimmed.includes(':')) throw new TesseraError('INVALID_INPUT', "is neither a JSON list nor HAMi's 'id,count,mem,core,type,numa,health:' list", { field });
  return decodeColons(trimmed, field);
}

/** What HAMi's device plugin writes to the handshake annotation, with Go's `time.Now().String()` layout. */
export function reportedHandshake(ms: number): string {
  const iso = new Date(ms).toISOString();
  return `Reported ${iso.slice(0, 10)} ${iso.slice(11, 19)}.${iso.slice(20, 23)}000000 +0000 UTC`;
}

/** One MIG device granted, as HAMi v2.10's scheduler writes it and its device plugin reads it. */
export interface HamiMigAllocation {
  containerIndex: number;
  deviceIndex: number;
  gpuUUID: string;
  profile: string;
  placement: HamiMigPlacement;
}

export function encodeHamiMigAllocations(allocations: readonly HamiMigAllocation[]): string {
  return JSON.stringify(
    allocations.map((a) => ({ containerIndex: a.containerIndex, deviceIndex: a.deviceIndex, gpuUUID: a.gpuUUID, profile: a.profile, placement: { start: a.placement.start, size: a.placement.size } })),
  );
}

/** HAMi's `DecodeMigAllocations` rules: complete entries, one per container and device. */
export function decodeHamiMigAllocations(text: string): HamiMigAllocation[] {
  const field = HAMI_MIG_ALLOCATIONS;
  if (text === '') return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', `is not valid JSON (${(cause as Error).message})`, { field, cause });
  }
  if (!Array.isArray(parsed) || parsed.length > 4096) throw new TesseraError('INVALID_INPUT', 'must be a JSON list', { field });
  const seen = new Set<string>();
  return parsed.map((raw: unknown, i) => {
    const at = `${field}.${i}`;
    const a = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const placement = (typeof a.placement === 'object' && a.placement !== null ? a.placement : {}) as Record<string, unknown>;
    if (typeof a.profile !== 'string' || a.profile === '') throw new TesseraError('INVALID_INPUT', 'is incomplete: no profile', { field: `${at}.profile` });
    const out = {
      containerIndex: integer(a.containerIndex, `${at}.containerIndex`),
      deviceIndex: integer(a.deviceIndex, `${at}.deviceIndex`),
      gpuUUID: idOf(a.gpuUUID, `${at}.gpuUUID`),
      profile: a.profile,
      placement: { start: integer(placement.start, `${at}.placement.start`), size: integer(placement.size, `${at}.placement.size`, 1) },
    };
    const key = `${out.containerIndex}/${out.deviceIndex}`;
    if (seen.has(key)) throw new TesseraError('INVALID_INPUT', `container ${out.containerIndex} device ${out.deviceIndex} is allocated twice`, { field: at });
    seen.add(key);
    return out;
  });
}
