import { describe, expect, it } from 'vitest';
import { listGpuModels, placeGeometry, resolveGpuModel, validateLayout, type GpuModel, type MigInstance } from '../../src/geometry/index.js';

function model(name: string): GpuModel {
  const resolved = resolveGpuModel(name);
  if (!resolved.ok) throw resolved.error;
  return resolved.value;
}

/** `3g@4` style shorthand, on A100-40GB names: 7g.40gb 4g.20gb 3g.20gb 2g.10gb 1g.10gb 1g.5gb 1g.5gb+me. */
const A100_NAMES: Record<string, string> = { '7g': '7g.40gb', '4g': '4g.20gb', '3g': '3g.20gb', '2g': '2g.10gb', '1g2': '1g.10gb', '1g': '1g.5gb', '1gme': '1g.5gb+me' };
function a100(spec: string): MigInstance[] {
  return spec.split(' ').map((part) => {
    const [short, start] = part.split('@');
    return { profile: A100_NAMES[short ?? ''] ?? String(short), start: Number(start), inUse: true };
  });
}

describe('validateLayout on an 8-slice GPU (mig.md examples)', () => {
  const gpu = model('A100-SXM4-40GB');

  it.each(['4g@0 3g@4', '3g@0 2g@4 1g@6', '2g@0 2g@2 2g@4 1g@6', '3g@4 2g@0 1g@2 1g@3', '7g@0', '1g@0 1g@1 1g@2 1g@3 1g@4 1g@5 1g@6', '1g2@0 1g2@2 1g2@4 1g2@6', '1gme@3 1g@0'])(
    'accepts %s',
    (spec) => {
      expect(validateLayout(gpu, a100(spec))).toEqual({ ok: true, value: undefined });
    },
  );

  it.each([
    ['3g@2', 'instances.0', 'cannot start at 2'],
    ['2g@1', 'instances.0', 'cannot start at 1'],
    ['7g@0 1g@0', 'instances.1', 'overlaps'],
    ['4g@0 1g@3', 'instances.1', 'overlaps'],
    ['1gme@0 1gme@1', 'instances.1', 'at most one per GPU'],
    ['1g@7', 'instances.0', 'cannot start at 7'],
    ['2g@6', 'instances.0', 'cannot start at 6'],
    ['1g.10gb@0', 'instances.0', "profile '1g.10gb.10gb'"],
  ])('rejects %s at %s (%s)', (spec, field, message) => {
    const result = validateLayout(gpu, spec === '1g.10gb@0' ? [{ profile: '1g.10gb.10gb', start: 0, inUse: true }] : a100(spec));
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.code).toBe('INVALID_MIG_LAYOUT');
      expect(result.error.field).toBe(field);
      expect(result.error.message).toContain(message);
    }
  });

  it('rejects a profile of another model (1g.10gb+me on A100-40GB)', () => {
    const result = validateLayout(gpu, [{ profile: '1g.10gb+me', start: 0, inUse: false }]);
    expect(!result.ok && result.error.message).toContain("profile '1g.10gb+me' does not exist");
  });

  it('rejects any instance on a whole GPU', () => {
    expect(validateLayout(model('T4'), [{ profile: '1g.5gb', start: 0, inUse: true }]).ok).toBe(false);
    expect(validateLayout(model('T4'), []).ok).toBe(true);
  });
});

describe('validateLayout on A30 (4 slices)', () => {
  const a30 = model('A30');
  it.each([
    [
      [
        ['2g.12gb', 0],
        ['1g.6gb', 2],
        ['1g.6gb', 3],
      ],
      true,
    ],
    [[['4g.24gb', 0]], true],
    [
      [
        ['1g.6gb+me', 1],
        ['1g.6gb', 0],
        ['2g.12gb', 2],
      ],
      true,
    ],
    [[['2g.12gb', 1]], false],
    [
      [
        ['4g.24gb', 0],
        ['1g.6gb', 3],
      ],
      false,
    ],
    [[['1g.6gb', 4]], false],
  ] as const)('%j valid: %s', (instances, valid) => {
    expect(
      validateLayout(
        a30,
        instances.map(([profile, start]) => ({ profile, start, inUse: false })),
      ).ok,
    ).toBe(valid);
  });
});

describe('placeGeometry', () => {
  it('places the all-balanced geometry (2x1g + 1x2g + 1x3g) on every 7-slice model', () => {
    for (const gpu of listGpuModels().filter((m) => m.mig?.totalComputeSlices === 7)) {
      const [p1, p2, p3] = ['1g.', '2g.', '3g.'].map(
        (prefix) => gpu.mig?.profiles.find((p) => p.name.startsWith(prefix) && p.memorySlices === (prefix === '3g.' ? 4 : prefix === '2g.' ? 2 : 1))?.name ?? '',
      );
      const placed = placeGeometry(gpu, [
        { profile: p1 ?? '', count: 2 },
        { profile: p2 ?? '', count: 1 },
        { profile: p3 ?? '', count: 1 },
      ]);
      expect(placed.ok, gpu.name).toBe(true);
      if (placed.ok)
        expect(
          validateLayout(
            gpu,
            placed.value.map((x) => ({ ...x, inUse: false })),
          ).ok,
        ).toBe(true);
    }
  });

  it('names the model and the profile when a geometry cannot be placed', () => {
    const gpu = model('A100-SXM4-40GB');
    const tooMany = placeGeometry(gpu, [{ profile: '3g.20gb', count: 3 }]);
    expect(!tooMany.ok && tooMany.error.message).toMatch(/A100-SXM4-40GB .*3g\.20gb: at most 2/);
    const overfull = placeGeometry(gpu, [
      { profile: '4g.20gb', count: 1 },
      { profile: '3g.20gb', count: 1 },
      { profile: '1g.5gb', count: 1 },
    ]);
    expect(!overfull.ok && overfull.error.message).toContain('9 memory slices asked, the GPU has 8');
    // 3 x 2g take slices 0-5; two 1g.5gb need slices 6 and 7, but no 1g starts at 7.
    const noPlace = placeGeometry(gpu, [
      { profile: '2g.10gb', count: 3 },
      { profile: '1g.5gb', count: 2 },
    ]);
    expect(!noPlace.ok && noPlace.error.message).toContain('profile 1g.5gb has no free legal placement');
    const unknown = placeGeometry(gpu, [{ profile: '1g.10gb+me', count: 1 }]);
    expect(!unknown.ok && unknown.error.message).toBe("A100-SXM4-40GB has no MIG profile '1g.10gb+me'");
  });
});
