/**
 * Parsers for nvidia-smi's outputs, the only place their formats are known: `-q -x` (GPUs, MIG mode, MIG devices
 * with their GPU-instance IDs), `-L` (MIG device UUIDs in the same device order), `mig -lgi` (GPU instances with
 * profile and placement) and `mig -cgi ... -C` (the new instance's ID). Pure; malformed output is an error naming
 * what is wrong, never a crash.
 */
import { XMLParser } from 'fast-xml-parser';
import { TesseraError } from '../../errors.js';

export interface QueriedGpu {
  uuid: string;
  index: number;
  model: string;
  memoryMiB: number;
  /** PCI bus ID as nvidia-smi prints it (`00000000:07:00.0`). */
  busId: string | null;
  healthy: boolean;
  migEnabled: boolean;
  /** MIG devices in nvidia-smi's device order: their GPU-instance IDs. */
  migDeviceGis: number[];
}

export interface ListedGpuInstance {
  gpuIndex: number;
  profile: string;
  profileId: number;
  gpuInstanceId: number;
  start: number;
  size: number;
}

type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  processEntities: false,
  parseTagValue: false,
  trimValues: true,
  isArray: (name) => name === 'gpu' || name === 'mig_device',
});

function bad(what: string, field: string): TesseraError {
  return new TesseraError('INVALID_INPUT', what, { field: `nvidia-smi ${field}` });
}

const isNode = (value: unknown): value is XmlNode => typeof value === 'object' && value !== null && !Array.isArray(value);

function text(node: XmlNode, key: string): string | undefined {
  const value = node[key];
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (isNode(value) && typeof value['#text'] === 'string') return value['#text'];
  return undefined;
}

function child(node: XmlNode, key: string): XmlNode {
  const value = node[key];
  return isNode(value) ? value : {};
}

function mib(value: string | undefined, field: string): number {
  const match = /^(\d+)\s*MiB$/.exec(value ?? '');
  if (!match?.[1]) throw bad(`expected '<n> MiB', got ${JSON.stringify(value)}`, field);
  return Number(match[1]);
}

/** A unified-memory GPU (GB10) reports no framebuffer total: 0, which HAMi's preConfiguredDeviceMemory fills in. */
function totalMiB(value: string | undefined, field: string): number {
  return value === '[N/A]' || value === '[Not Supported]' ? 0 : mib(value, field);
}

/** `nvidia-smi -q -x`. */
export function parseQueryXml(xml: string): QueriedGpu[] {
  let document: unknown;
  try {
    document = parser.parse(xml, true);
  } catch (error) {
    throw bad(`is not XML: ${(error as Error).message}`, '-q -x');
  }
  const log = isNode(document) ? document.nvidia_smi_log : undefined;
  if (!isNode(log)) throw bad('has no <nvidia_smi_log>', '-q -x');
  const gpus = Array.isArray(log.gpu) ? log.gpu : [];
  return gpus.map((raw: unknown, index) => {
    const field = `-q -x gpu[${index}]`;
    if (!isNode(raw)) throw bad('is not an element', field);
    const uuid = text(raw, 'uuid');
    const model = text(raw, 'product_name');
    if (!uuid || !/^GPU-[0-9a-fA-F-]+$/.test(uuid)) throw bad(`has no GPU uuid (got ${JSON.stringify(uuid)})`, `${field}.uuid`);
    if (!model) throw bad('has no product_name', `${field}.product_name`);
    const remap = child(raw, 'remapped_rows');
    const retired = child(raw, 'retired_pages');
    const devices = child(raw, 'mig_devices').mig_device;
    return {
      uuid,
      index,
      model,
      memoryMiB: totalMiB(text(child(raw, 'fb_memory_usage'), 'total'), `${field}.fb_memory_usage.total`),
      busId: text(raw, '@id') ?? text(child(raw, 'pci'), 'pci_bus_id') ?? null,
      // A GPU waiting for a reset to remap rows or retire pages should take no new work.
      healthy: text(remap, 'remapped_row_pending') !== 'Yes' && text(retired, 'pending_retirement') !== 'Yes',
      migEnabled: text(child(raw, 'mig_mode'), 'current_mig') === 'Enabled',
      migDeviceGis: (Array.isArray(devices) ? devices : []).map((d: unknown, i) => {
        const gi = isNode(d) ? text(d, 'gpu_instance_id') : undefined;
        if (gi === undefined || !/^\d+$/.test(gi)) throw bad(`has no gpu_instance_id (got ${JSON.stringify(gi)})`, `${field}.mig_devices[${i}]`);
        return Number(gi);
      }),
    };
  });
}

/** The sysfs directory of a PCI bus ID as nvidia-smi prints it (`00000000:07:00.0` -> `0000:07:00.0`). */
export function sysfsPciPath(busId: string): string | undefined {
  const match = /^[0-9A-Fa-f]{4}([0-9A-Fa-f]{4}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])$/.exec(busId);
  return match?.[1] ? `/sys/bus/pci/devices/${match[1].toLowerCase()}` : undefined;
}

/** A sysfs `numa_node` file: the node, or null for `-1` (no NUMA) and anything unreadable. */
export function parseNumaNode(text: string | undefined): number | null {
  const value = text?.trim();
  return value !== undefined && /^\d{1,4}$/.test(value) ? Number(value) : null;
}

/** `nvidia-smi -L`: per GPU UUID, its MIG device UUIDs in device order. */
export function parseDeviceList(output: string): Map<string, string[]> {
  const byGpu = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const [n, line] of output.split('\n').entries()) {
    const gpu = /^GPU \d+: .*\(UUID: (GPU-[0-9a-fA-F-]+)\)\s*$/.exec(line);
    if (gpu?.[1]) {
      current = [];
      byGpu.set(gpu[1], current);
      continue;
    }
    const mig = /^\s+MIG \S+\s+Device\s+(\d+): \(UUID: (MIG-[0-9a-fA-F/-]+)\)\s*$/.exec(line);
    if (mig?.[2]) {
      if (!current) throw bad('lists a MIG device before any GPU', `-L line ${n + 1}`);
      current[Number(mig[1])] = mig[2];
      continue;
    }
    if (line.trim() !== '') throw bad(`has an unexpected line: ${JSON.stringify(line)}`, `-L line ${n + 1}`);
  }
  return byGpu;
}

/** `nvidia-smi mig -lgi`. */
export function parseGpuInstances(output: string): ListedGpuInstance[] {
  if (/No GPU instances found/i.test(output)) return [];
  const rows: ListedGpuInstance[] = [];
  for (const line of output.split('\n')) {
    const row = /^\|\s+(\d+)\s+MIG\s+(\S+)\s+(\d+)\s+(\d+)\s+(\d+):(\d+)\s+\|\s*$/.exec(line);
    if (!row) continue;
    const [, gpu, profile, profileId, gi, start, size] = row;
    rows.push({ gpuIndex: Number(gpu), profile: profile ?? '', profileId: Number(profileId), gpuInstanceId: Number(gi), start: Number(start), size: Number(size) });
  }
  if (rows.length === 0 && !/GPU instances:/.test(output)) throw bad('is neither a GPU-instance table nor "No GPU instances found"', 'mig -lgi');
  return rows;
}

/** The GPU-instance ID `nvidia-smi mig -cgi ... -C` reports creating. */
export function parseCreatedInstance(output: string): number {
  const match = /Successfully created GPU instance ID\s+(\d+)/.exec(output);
  if (!match?.[1]) throw bad(`did not report a created GPU instance: ${output.trim().slice(0, 500)}`, 'mig -cgi');
  return Number(match[1]);
}
