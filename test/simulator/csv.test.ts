import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/errors.js';
import { parseOpenbNodes, parseOpenbPods } from '../../src/simulator/openb/csv.js';

const POD_HEADER = 'name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec';

function errorOf(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (e) {
    if (e instanceof TesseraError) return e;
    throw e;
  }
  throw new Error('expected a TesseraError');
}

describe('openb CSV', () => {
  it('parses pods, ignoring GPU fields of CPU-only pods and keeping the spec list', () => {
    const pods = parseOpenbPods('p.csv', `${POD_HEADER}\np1,1000,2048,1,500,T4|V100M16\np2,2000,0,0,0,\n`);
    expect(pods).toEqual([
      { name: 'p1', cpuMilli: 1000, memoryMib: 2048, gpus: 1, gpuMilli: 500, gpuSpec: ['T4', 'V100M16'] },
      { name: 'p2', cpuMilli: 2000, memoryMib: 0, gpus: 0, gpuMilli: 0, gpuSpec: [] },
    ]);
  });

  it('parses the multigpu50 layout (five columns, no gpu_spec)', () => {
    expect(parseOpenbPods('p.csv', 'name,cpu_milli,memory_mib,num_gpu,gpu_milli\np,1,1,8,1000')[0]?.gpus).toBe(8);
  });

  it.each([
    [`${POD_HEADER}\np1,1000,2048,1,500,\np2,x,1,1,1,`, 'p.csv:3: cpu_milli'],
    [`${POD_HEADER}\np1,1000,2048,1,0,`, 'p.csv:2: gpu_milli'],
    [`${POD_HEADER}\np1,1000,2048,2,500,`, 'p.csv:2: gpu_milli'],
    [`${POD_HEADER}\np1,1000,2048,-1,500,`, 'p.csv:2: num_gpu'],
    [`${POD_HEADER}\np1,1000,2048`, 'p.csv:2: num_gpu'],
    [`${POD_HEADER}\np1,1,1,0,0,\np1,1,1,0,0,`, 'p.csv:3: name'],
    ['name,cpu_milli,num_gpu,gpu_milli\np,1,1,1', 'p.csv:1: memory_mib'],
  ])('rejects %j naming %s', (text, field) => {
    const error = errorOf(() => parseOpenbPods('p.csv', text));
    expect(error.code).toBe('INVALID_INPUT');
    expect(error.field).toBe(field);
  });

  it('rejects bad node rows with file, line and column', () => {
    const error = errorOf(() => parseOpenbNodes('n.csv', 'sn,cpu_milli,memory_mib,gpu,model\nn1,64000,1024,2,T4\nn2,64000,1024,two,T4'));
    expect(error.field).toBe('n.csv:3: gpu');
    expect(error.message).toContain("got 'two'");
  });

  it('either parses or throws a TesseraError naming a line and column, for any text', () => {
    const cell = fc.oneof(fc.nat({ max: 2000 }).map(String), fc.string({ maxLength: 4 }), fc.constantFrom('', '-1', '1.5', 'T4|G2'));
    const row = fc.array(cell, { minLength: 0, maxLength: 7 }).map((cells) => cells.join(','));
    fc.assert(
      fc.property(fc.array(row, { maxLength: 6 }), (rows) => {
        const text = [POD_HEADER, ...rows].join('\n');
        try {
          for (const pod of parseOpenbPods('f.csv', text)) {
            expect(pod.gpus === 0 || (pod.gpuMilli > 0 && pod.gpuMilli <= 1000)).toBe(true);
          }
        } catch (e) {
          expect(e).toBeInstanceOf(TesseraError);
          expect((e as TesseraError).field).toMatch(/^f\.csv:\d+: [a-z_]+$/);
        }
      }),
      { numRuns: 300 },
    );
  });
});
