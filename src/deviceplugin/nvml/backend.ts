/**
 * A real node through nvidia-smi: GPUs from `-q -x`, MIG placements from `mig -lgi`, MIG device UUIDs from `-L`
 * (its device order is `-q -x`'s, which names each device's GPU instance). Instances are created at an explicit
 * placement with their default compute instance (`mig -cgi <profile>:<start> -C`) and destroyed compute instances
 * first (`-dci`, then `-dgi`). NUMA nodes come from sysfs. Every command and file read goes through the Executor,
 * the narrow OS boundary (tests give their own): run one command with arguments, get its output, or read one small
 * file. The real one uses execFile (no shell) with a timeout; a command that fails becomes an error carrying its
 * output, never a crash.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { TesseraError } from '../../errors.js';
import type { InventoryMigInstance } from '../../api/index.js';
import type { GpuBackend, GpuInfo } from '../backend.js';
import { parseCreatedInstance, parseDeviceList, parseGpuInstances, parseNumaNode, parseQueryXml, sysfsPciPath } from './parse.js';

export interface CommandOutput {
  stdout: string;
  stderr: string;
}

export interface Executor {
  run(command: string, args: readonly string[]): Promise<CommandOutput>;
  /** The file's text, or undefined when it cannot be read. */
  readFile(path: string): Promise<string | undefined>;
}

/** The error for a command that failed, with what it printed (the driver's reason is in there). */
export function commandError(command: string, args: readonly string[], detail: string, output: CommandOutput): TesseraError {
  const printed = `${output.stdout}\n${output.stderr}`.trim().slice(0, 2000);
  return new TesseraError('UNAVAILABLE', `${[command, ...args].join(' ')} ${detail}${printed ? `: ${printed}` : ''}`);
}

export function execFileExecutor(timeoutMs = 30_000): Executor {
  return {
    run(command, args) {
      return new Promise((resolve, reject) => {
        execFile(command, [...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
          if (error) {
            const how = error.killed ? `timed out after ${timeoutMs} ms` : `failed (${error.code ?? error.message})`;
            reject(commandError(command, args, how, { stdout, stderr }));
          } else resolve({ stdout, stderr });
        });
      });
    },
    readFile(path) {
      return readFile(path, 'utf8').catch(() => undefined);
    },
  };
}

export const NVIDIA_SMI = 'nvidia-smi';

export class NvmlBackend implements GpuBackend {
  readonly name = 'nvml';

  constructor(private readonly exec: Executor) {}

  async discover(): Promise<GpuInfo[]> {
    const queried = parseQueryXml((await this.exec.run(NVIDIA_SMI, ['-q', '-x'])).stdout);
    const anyMig = queried.some((g) => g.migEnabled);
    const instances = anyMig ? await this.listInstances() : [];
    const migUuids = anyMig ? parseDeviceList((await this.exec.run(NVIDIA_SMI, ['-L'])).stdout) : new Map<string, string[]>();
    const numa = await Promise.all(queried.map((gpu) => this.numaOf(gpu.busId)));
    return queried.map((gpu, i) => {
      const uuids = migUuids.get(gpu.uuid) ?? [];
      const migInstances: InventoryMigInstance[] = gpu.migDeviceGis.flatMap((gi, device) => {
        const listed = instances.find((i) => i.gpuIndex === gpu.index && i.gpuInstanceId === gi);
        const uuid = uuids[device];
        return listed && uuid ? [{ profile: listed.profile, start: listed.start, gpuInstanceId: gi, migDeviceUuid: uuid }] : [];
      });
      return { uuid: gpu.uuid, index: gpu.index, model: gpu.model, memoryMiB: gpu.memoryMiB, numa: numa[i] ?? null, healthy: gpu.healthy, migEnabled: gpu.migEnabled, migInstances };
    });
  }

  private async numaOf(busId: string | null): Promise<number | null> {
    const path = busId ? sysfsPciPath(busId) : undefined;
    return path ? parseNumaNode(await this.exec.readFile(`${path}/numa_node`)) : null;
  }

  private async listInstances() {
    try {
      return parseGpuInstances((await this.exec.run(NVIDIA_SMI, ['mig', '-lgi'])).stdout);
    } catch (error) {
      // nvidia-smi exits non-zero when no GPU instance exists yet; its message says so.
      if (error instanceof TesseraError && /No GPU instances found/i.test(error.message)) return [];
      throw error;
    }
  }

  private async indexOf(gpuUuid: string): Promise<number> {
    const gpu = (await this.discover()).find((g) => g.uuid === gpuUuid);
    if (!gpu) throw new TesseraError('NOT_FOUND', `no GPU ${gpuUuid} on this node`, { field: 'gpu' });
    return gpu.index;
  }

  async createMigInstance(gpuUuid: string, profile: string, start: number): Promise<InventoryMigInstance> {
    const index = String(await this.indexOf(gpuUuid));
    const args = ['mig', '-i', index, '-cgi', `${profile}:${start}`, '-C'];
    const output = await this.exec.run(NVIDIA_SMI, args);
    let gi: number;
    try {
      gi = parseCreatedInstance(output.stdout);
    } catch {
      throw commandError(NVIDIA_SMI, args, 'did not create the instance', output);
    }
    const created = (await this.discover()).find((g) => g.uuid === gpuUuid)?.migInstances.find((m) => m.gpuInstanceId === gi);
    if (!created) throw commandError(NVIDIA_SMI, args, `reported GPU instance ${gi}, which nvidia-smi then does not list`, output);
    return created;
  }

  async destroyMigInstance(gpuUuid: string, gpuInstanceId: number): Promise<void> {
    const index = String(await this.indexOf(gpuUuid));
    await this.exec.run(NVIDIA_SMI, ['mig', '-i', index, '-gi', String(gpuInstanceId), '-dci']);
    await this.exec.run(NVIDIA_SMI, ['mig', '-i', index, '-gi', String(gpuInstanceId), '-dgi']);
  }
}
