import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { findProfile, listGpuModels, normaliseModelName, resolveGpuModel, wholeGpuModel } from '../../src/geometry/index.js';

const nameOf = (input: string): string => {
  const resolved = resolveGpuModel(input);
  if (!resolved.ok) throw resolved.error;
  return resolved.value.name;
};

describe('resolveGpuModel', () => {
  it.each([
    ['A100-SXM4-40GB', 'A100-SXM4-40GB'],
    ['NVIDIA-A100-SXM4-40GB', 'A100-SXM4-40GB'],
    ['NVIDIA A100-SXM4-40GB', 'A100-SXM4-40GB'],
    ['NVIDIA-A100-SXM4-40GB-MIG-1g.5gb', 'A100-SXM4-40GB'],
    ['NVIDIA-A100-SXM4-40GB-MIG-1g.5gb+me', 'A100-SXM4-40GB'],
    ['NVIDIA A100-PCIE-40GB', 'A100-PCIE-40GB'],
    ['nvidia a100 80gb pcie', 'A100-PCIE-80GB'],
    ['NVIDIA-A100-SXM4-80GB-SHARED', 'A100-SXM4-80GB'],
    ['NVIDIA H100 80GB HBM3', 'H100-SXM5-80GB'],
    ['NVIDIA-H100-80GB-HBM3-MIG-3g.40gb', 'H100-SXM5-80GB'],
    ['NVIDIA H100 PCIe', 'H100-PCIE-80GB'],
    ['NVIDIA H200', 'H200-141GB'],
    ['NVIDIA B200', 'B200-180GB'],
    ['NVIDIA A30', 'A30-24GB'],
    ['Tesla T4', 'T4'],
    ['Tesla V100-SXM2-32GB', 'V100-32GB'],
    ['NVIDIA L40S', 'L40S'],
  ])('%s -> %s', (input, expected) => {
    expect(nameOf(input)).toBe(expected);
  });

  it('resolves every openb trace model to a whole GPU with its memory', () => {
    const expected = { G2: 16384, G3: 16384, T4: 15360, P100: 16384, V100M16: 16384, V100M32: 32768, A10: 23028 };
    for (const [name, memoryMiB] of Object.entries(expected)) {
      const resolved = resolveGpuModel(name);
      expect(resolved.ok && resolved.value.mig === null && resolved.value.memoryMiB).toBe(memoryMiB);
    }
  });

  it('refuses a name it does not know, naming the input, instead of guessing', () => {
    for (const input of ['A100', 'V100', 'H800', 'RTX 4090', '']) {
      const resolved = resolveGpuModel(input);
      expect(resolved.ok).toBe(false);
      if (!resolved.ok) {
        expect(resolved.error.code).toBe('UNKNOWN_GPU_MODEL');
        expect(resolved.error.field).toBe('model');
        if (input) expect(resolved.error.message).toContain(input);
      }
    }
  });

  it('never throws and answers only catalog models, whatever the input', () => {
    const catalog = new Set(listGpuModels());
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.constantFrom('A100', 'NVIDIA-', '-MIG-1g.5gb', 'H100 80GB HBM3', ' ', '_')), (input) => {
        const resolved = resolveGpuModel(input);
        if (resolved.ok) expect(catalog.has(resolved.value)).toBe(true);
        else expect(resolved.error.field).toBe('model');
      }),
      { numRuns: 300 },
    );
  });

  it('resolves each canonical name to itself, and its lower-case NVIDIA-prefixed spelling too', () => {
    for (const model of listGpuModels()) {
      expect(nameOf(model.name)).toBe(model.name);
      expect(nameOf(`nvidia ${model.name.toLowerCase()}`)).toBe(model.name);
      expect(normaliseModelName(model.name)).toBe(model.name.toUpperCase());
    }
  });
});

describe('catalog', () => {
  it('states the mig.md facts for A100-40GB exactly', () => {
    const a100 = resolveGpuModel('A100-SXM4-40GB');
    if (!a100.ok) throw a100.error;
    const rows = a100.value.mig?.profiles.map((p) => [p.id, p.name, p.computeSlices, p.memorySlices, p.memoryMiB, p.starts.join(','), p.maxCount]);
    expect(rows).toEqual([
      [0, '7g.40gb', 7, 8, 40192, '0', 1],
      [5, '4g.20gb', 4, 4, 19968, '0', 1],
      [9, '3g.20gb', 3, 4, 19968, '0,4', 2],
      [14, '2g.10gb', 2, 2, 9856, '0,2,4', 3],
      [15, '1g.10gb', 1, 2, 9856, '0,2,4,6', 4],
      [19, '1g.5gb', 1, 1, 4864, '0,1,2,3,4,5,6', 7],
      [20, '1g.5gb+me', 1, 1, 4864, '0,1,2,3,4,5,6', 1],
    ]);
  });

  it('keeps every MIG model consistent: starts inside the GPU, memory within the GPU, bigger profiles not smaller', () => {
    for (const model of listGpuModels()) {
      for (const p of model.mig?.profiles ?? []) {
        expect(p.memoryMiB).toBeLessThanOrEqual(model.memoryMiB);
        for (const s of p.starts) expect(s + p.memorySlices).toBeLessThanOrEqual(model.mig?.totalMemorySlices ?? 0);
        for (const q of model.mig?.profiles ?? []) if (q.memorySlices > p.memorySlices) expect(q.memoryMiB).toBeGreaterThanOrEqual(p.memoryMiB);
        expect(p.mediaExtensions).toBe(p.name.endsWith('+me'));
      }
    }
  });

  it('finds profiles by name on a model, and none on a whole GPU', () => {
    const h100 = resolveGpuModel('H100-SXM5-80GB');
    const t4 = resolveGpuModel('T4');
    if (!h100.ok || !t4.ok) throw new Error('catalog');
    expect(findProfile(h100.value, '1g.20gb')?.id).toBe(15);
    expect(findProfile(h100.value, '1G.10GB+ME')?.id).toBe(20);
    expect(findProfile(h100.value, '1g.5gb')).toBeUndefined();
    expect(findProfile(t4.value, '1g.5gb')).toBeUndefined();
  });

  it('builds whole-GPU models for unknown cards from the memory the node reports, and rejects bad input', () => {
    expect(wholeGpuModel('RTX 4090', 24564)).toEqual({ ok: true, value: { name: 'RTX 4090', memoryMiB: 24564, mig: null } });
    const bad = wholeGpuModel('RTX 4090', -1);
    expect(!bad.ok && bad.error.field).toBe('memoryMiB');
    const unnamed = wholeGpuModel(' ', 1024);
    expect(!unnamed.ok && unnamed.error.field).toBe('model');
  });
});
