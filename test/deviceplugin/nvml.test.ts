import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { commandError, NvmlBackend, type CommandOutput, type Executor } from '../../src/deviceplugin/nvml/backend.js';
import { parseDeviceList, parseGpuInstances, parseQueryXml } from '../../src/deviceplugin/nvml/parse.js';
import { TesseraError } from '../../src/errors.js';

const fixture = (name: string): string => readFileSync(new URL(`../fixtures/nvidia-smi/${name}`, import.meta.url), 'utf8');

/**
 * The OS boundary replayed: each command line answers its recorded outputs in turn (the last one repeats), or
 * fails with its recorded output as nvidia-smi does. Every call is logged.
 */
class RecordedExecutor implements Executor {
  readonly calls: string[] = [];
  constructor(
    private readonly script: Record<string, (CommandOutput | { fail: string })[]>,
    private readonly files: Record<string, string> = { '/sys/bus/pci/devices/0000:07:00.0/numa_node': '1\n', '/sys/bus/pci/devices/0000:0f:00.0/numa_node': '-1\n' },
  ) {}

  readFile(path: string): Promise<string | undefined> {
    return Promise.resolve(this.files[path]);
  }

  run(command: string, args: readonly string[]): Promise<CommandOutput> {
    const line = [command, ...args].join(' ');
    this.calls.push(line);
    const queue = this.script[line];
    if (!queue || queue.length === 0) return Promise.reject(new Error(`unexpected command: ${line}`));
    const next = (queue.length > 1 ? queue.shift() : queue[0]) as CommandOutput | { fail: string };
    if ('fail' in next) return Promise.reject(commandError(command, args, 'failed (exit 1)', { stdout: next.fail, stderr: '' }));
    return Promise.resolve(next);
  }
}

const out = (stdout: string): CommandOutput => ({ stdout, stderr: '' });
const baseScript = (): Record<string, (CommandOutput | { fail: string })[]> => ({
  'nvidia-smi -q -x': [out(fixture('a100x2-q.xml'))],
  'nvidia-smi mig -lgi': [out(fixture('a100x2-mig-lgi.txt'))],
  'nvidia-smi -L': [out(fixture('a100x2-L.txt'))],
});

describe('nvml backend', () => {
  it('discovers GPUs, MIG mode, health and each instance with its placement, GI ID and MIG UUID', async () => {
    const gpus = await new NvmlBackend(new RecordedExecutor(baseScript())).discover();
    expect(gpus).toEqual([
      {
        uuid: 'GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f',
        index: 0,
        model: 'NVIDIA A100-SXM4-80GB',
        memoryMiB: 81920,
        numa: 1,
        healthy: true,
        migEnabled: true,
        migInstances: [
          { profile: '3g.40gb', start: 4, gpuInstanceId: 2, migDeviceUuid: 'MIG-c6d4f1ef-42e4-5de3-91c7-45d71c87eb3f' },
          { profile: '1g.10gb', start: 0, gpuInstanceId: 9, migDeviceUuid: 'MIG-8a3c5e21-0f4b-5d0e-9a0b-2a7f0c9e61d4' },
        ],
      },
      { uuid: 'GPU-1d2e36b5-8f7d-8d61-7a5e-0f0ab5a3c1b2', index: 1, model: 'NVIDIA A100-SXM4-80GB', memoryMiB: 81920, numa: null, healthy: false, migEnabled: false, migInstances: [] },
    ]);
  });

  it('creates an instance at an explicit placement with its compute instance, and reads it back', async () => {
    const script = baseScript();
    const after = fixture('a100x2-q.xml').replace(
      '</mig_devices>',
      '<mig_device><index>2</index><gpu_instance_id>3</gpu_instance_id><compute_instance_id>0</compute_instance_id></mig_device></mig_devices>',
    );
    script['nvidia-smi -q -x'] = [out(fixture('a100x2-q.xml')), out(after)];
    script['nvidia-smi mig -lgi'] = [out(fixture('a100x2-mig-lgi.txt')), out(`${fixture('a100x2-mig-lgi.txt')}|   0  MIG 2g.20gb         14        3          2:2     |\n`)];
    script['nvidia-smi -L'] = [out(fixture('a100x2-L.txt')), out(fixture('a100x2-L.txt').replace('GPU 1:', '  MIG 2g.20gb     Device  2: (UUID: MIG-0b6e2d4c-6a1f-5c3e-8d2b-7e9f1a2b3c4d)\nGPU 1:'))];
    script['nvidia-smi mig -i 0 -cgi 2g.20gb:2 -C'] = [out(fixture('mig-cgi-ok.txt').replace('instance ID  1 on', 'instance ID  3 on'))];
    const exec = new RecordedExecutor(script);
    const created = await new NvmlBackend(exec).createMigInstance('GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f', '2g.20gb', 2);
    expect(created).toEqual({ profile: '2g.20gb', start: 2, gpuInstanceId: 3, migDeviceUuid: 'MIG-0b6e2d4c-6a1f-5c3e-8d2b-7e9f1a2b3c4d' });
    expect(exec.calls).toContain('nvidia-smi mig -i 0 -cgi 2g.20gb:2 -C');
  });

  it("turns a refused creation into an error carrying the driver's words", async () => {
    const script = baseScript();
    script['nvidia-smi mig -i 0 -cgi 3g.40gb:0 -C'] = [{ fail: fixture('mig-cgi-insufficient.txt') }];
    await expect(new NvmlBackend(new RecordedExecutor(script)).createMigInstance('GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f', '3g.40gb', 0)).rejects.toThrow(/Insufficient Resources/);
  });

  it('destroys compute instances first, then the GPU instance', async () => {
    const script = baseScript();
    script['nvidia-smi mig -i 0 -gi 9 -dci'] = [out('Successfully destroyed compute instance ID  0 from GPU  0 GPU instance ID  9\n')];
    script['nvidia-smi mig -i 0 -gi 9 -dgi'] = [out('Successfully destroyed GPU instance ID  9 from GPU  0\n')];
    const exec = new RecordedExecutor(script);
    await new NvmlBackend(exec).destroyMigInstance('GPU-5c89852c-d268-c3f3-1b07-005d5ae1dc3f', 9);
    expect(exec.calls.filter((c) => c.includes(' -d'))).toEqual(['nvidia-smi mig -i 0 -gi 9 -dci', 'nvidia-smi mig -i 0 -gi 9 -dgi']);
  });

  it('reads "no GPU instances" as none, whether printed or exited with', async () => {
    expect(parseGpuInstances(fixture('mig-lgi-none.txt'))).toEqual([]);
    const script = baseScript();
    script['nvidia-smi mig -lgi'] = [{ fail: fixture('mig-lgi-none.txt') }];
    const gpus = await new NvmlBackend(new RecordedExecutor(script)).discover();
    expect(gpus[0]?.migInstances).toEqual([]);
  });

  it('names what is wrong in malformed output', () => {
    expect(() => parseQueryXml('<nvidia_smi_log><gpu><uuid>GPU-1</uuid></gpu></nvidia_smi_log>')).toThrow(/product_name/);
    expect(() => parseQueryXml('<nvidia_smi_log><gpu><uuid>GPU-1</uuid><product_name>X</product_name><fb_memory_usage><total>lots</total></fb_memory_usage></gpu></nvidia_smi_log>')).toThrow(
      /fb_memory_usage\.total/,
    );
    expect(() => parseDeviceList('  MIG 1g.10gb Device 0: (UUID: MIG-1)')).toThrow(/before any GPU/);
  });

  it('never crashes on arbitrary output: a value or a TesseraError (fuzz)', () => {
    const parsers = [parseQueryXml, parseGpuInstances, parseDeviceList];
    const xmlish = fc
      .array(
        fc.constantFrom(
          '<nvidia_smi_log>',
          '</nvidia_smi_log>',
          '<gpu>',
          '</gpu>',
          '<uuid>GPU-1</uuid>',
          '<mig_devices>',
          '<mig_device>',
          '</mig_device>',
          '</mig_devices>',
          'None',
          '<gpu_instance_id>x</gpu_instance_id>',
          '|   0  MIG 1g.10gb  19  9  0:1  |',
          'GPU 0: A (UUID: GPU-1)',
          '\n',
          '<',
        ),
        { maxLength: 20 },
      )
      .map((parts) => parts.join(''));
    fc.assert(
      fc.property(fc.oneof(fc.string(), xmlish), (text) => {
        for (const parse of parsers) {
          try {
            parse(text);
          } catch (error) {
            expect(error).toBeInstanceOf(TesseraError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
