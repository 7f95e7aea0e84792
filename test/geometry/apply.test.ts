import { describe, expect, it } from 'vitest';
import { applyOps, resolveGpuModel, type GpuModel, type MigInstance } from '../../src/geometry/index.js';

function model(name: string): GpuModel {
  const resolved = resolveGpuModel(name);
  if (!resolved.ok) throw resolved.error;
  return resolved.value;
}

const a100 = model('A100-SXM4-40GB');
const free = (profile: string, start: number): MigInstance => ({ profile, start, inUse: false });

describe('applyOps', () => {
  it('destroys, then creates, and returns the layout by start with untouched instances as given', () => {
    const held: MigInstance = { profile: '1g.5gb', start: 6, inUse: true, id: 'MIG-held' };
    const result = applyOps(
      a100,
      [free('3g.20gb', 0), held],
      [
        { action: 'destroy', profile: '3g.20gb', start: 0 },
        { action: 'create', profile: '2g.10gb', start: 2 },
        { action: 'create', profile: '2g.10gb', start: 0 },
      ],
    );
    expect(result).toEqual({ ok: true, value: [free('2g.10gb', 0), free('2g.10gb', 2), held] });
    expect(result.ok && result.value[2]).toBe(held);
  });

  it.each([
    ['a destroy of an instance that is not there', [], { action: 'destroy', profile: '1g.5gb', start: 0 }, /destroy 1g.5gb@0: no such instance/],
    ['a destroy of an instance in use', [{ profile: '1g.5gb', start: 0, inUse: true }], { action: 'destroy', profile: '1g.5gb', start: 0 }, /in use/],
    ['a create over another instance', [free('3g.20gb', 4)], { action: 'create', profile: '1g.5gb', start: 5 }, /create 1g.5gb@5: .*overlaps/],
    ['a create at a start its profile cannot take', [], { action: 'create', profile: '3g.20gb', start: 1 }, /cannot start at 1/],
    ['a create of a profile the model lacks', [], { action: 'create', profile: '1g.12gb', start: 0 }, /does not exist/],
  ] as const)('refuses %s, naming the op', (_, instances, op, message) => {
    const result = applyOps(a100, instances, [op]);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.error.message).toMatch(message);
      expect(result.error.field).toBe('plan.0');
    }
  });

  it('refuses any op on a GPU without MIG', () => {
    const result = applyOps(model('T4'), [], [{ action: 'create', profile: '1g.5gb', start: 0 }]);
    expect(result.ok).toBe(false);
  });
});
