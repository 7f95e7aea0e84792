import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyPatch } from '../../src/cluster/patch.js';
import { KubeStatusError } from '../../src/cluster/status.js';

const base = {
  metadata: { name: 'p', labels: { a: '1', b: '2' }, finalizers: ['x'] },
  spec: {
    containers: [
      { name: 'main', image: 'img:1', env: [{ name: 'A', value: '1' }], ports: [{ containerPort: 80, name: 'http' }] },
      { name: 'side', image: 'side:1' },
    ],
    tolerations: [{ key: 'gpu', operator: 'Exists' }],
  },
  status: {
    conditions: [
      { type: 'Ready', status: 'False' },
      { type: 'PodScheduled', status: 'True' },
    ],
  },
};

describe('strategic merge patch', () => {
  it('merges keyed lists by their merge key and replaces unkeyed ones', () => {
    const out = applyPatch(base, 'strategic', {
      spec: {
        containers: [{ name: 'main', image: 'img:2', env: [{ name: 'B', value: '2' }] }],
        tolerations: [{ key: 'other', operator: 'Exists' }],
      },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
    expect(out.spec.containers.map((c) => [c.name, c.image])).toEqual([
      ['main', 'img:2'],
      ['side', 'side:1'],
    ]);
    expect(out.spec.containers[0]?.env).toEqual([
      { name: 'A', value: '1' },
      { name: 'B', value: '2' },
    ]);
    expect(out.spec.containers[0]?.ports).toEqual([{ containerPort: 80, name: 'http' }]);
    expect(out.spec.tolerations).toEqual([{ key: 'other', operator: 'Exists' }]);
    expect(out.status.conditions).toEqual([
      { type: 'Ready', status: 'True' },
      { type: 'PodScheduled', status: 'True' },
    ]);
    expect(base.spec.containers[0]?.image).toBe('img:1');
  });

  it('honours $patch delete and replace in maps and keyed lists', () => {
    const out = applyPatch(base, 'strategic', {
      metadata: { labels: { $patch: 'replace', c: '3' } },
      spec: { containers: [{ name: 'side', $patch: 'delete' }] },
    });
    expect(out.metadata.labels).toEqual({ c: '3' });
    expect(out.spec.containers.map((c) => c.name)).toEqual(['main']);
    const replacedList = applyPatch(base, 'strategic', { spec: { containers: [{ $patch: 'replace' }, { name: 'only', image: 'o:1' }] } });
    expect(replacedList.spec.containers).toEqual([{ name: 'only', image: 'o:1' }]);
    const deletedMap = applyPatch(base, 'strategic', { status: { $patch: 'delete' } });
    expect(deletedMap).not.toHaveProperty('status');
  });

  it('unions finalizers, deletes from primitive lists and follows $setElementOrder', () => {
    const out = applyPatch(base, 'strategic', {
      metadata: { finalizers: ['y'], '$deleteFromPrimitiveList/finalizers': ['x'] },
      spec: { '$setElementOrder/containers': [{ name: 'side' }, { name: 'main' }], containers: [{ name: 'main', image: 'img:3' }] },
    });
    expect(out.metadata.finalizers).toEqual(['y']);
    expect(out.spec.containers.map((c) => c.name)).toEqual(['side', 'main']);
  });
});

describe('merge patch (RFC 7396)', () => {
  it('replaces lists whole and deletes keys set to null', () => {
    const out = applyPatch(base, 'merge', { metadata: { labels: { a: null, z: '9' } }, spec: { containers: [{ name: 'new' }] } });
    expect(out.metadata.labels).toEqual({ b: '2', z: '9' });
    expect(out.spec.containers).toEqual([{ name: 'new' }]);
  });

  it('is idempotent and leaves keys it does not name untouched', () => {
    const json = fc.dictionary(fc.string({ maxLength: 4 }), fc.oneof(fc.string(), fc.integer(), fc.constant(null), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer())));
    fc.assert(
      fc.property(json, json, (target, patch) => {
        const once = applyPatch(target, 'merge', patch);
        expect(applyPatch(once, 'merge', patch)).toEqual(once);
        for (const key of Object.keys(target)) if (!(key in patch)) expect(once[key]).toEqual(target[key]);
        for (const [key, value] of Object.entries(patch)) if (value === null) expect(Object.hasOwn(once, key)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('json patch (RFC 6902)', () => {
  it('applies operations without touching the target, and reports failed tests as 422', () => {
    const out = applyPatch(base, 'json', [{ op: 'replace', path: '/spec/containers/0/image', value: 'img:9' }]);
    expect(out.spec.containers[0]?.image).toBe('img:9');
    expect(base.spec.containers[0]?.image).toBe('img:1');
    try {
      applyPatch(base, 'json', [{ op: 'test', path: '/metadata/name', value: 'other' }]);
      expect.unreachable();
    } catch (error) {
      expect((error as KubeStatusError).httpCode).toBe(422);
    }
    expect(() => applyPatch(base, 'json', { op: 'add' })).toThrow(KubeStatusError);
    expect(() => applyPatch(base, 'json', [{ op: 'bogus', path: '/a' }])).toThrow(/invalid json patch/);
  });

  it('answers a Status error when an operation follows one that removed the whole document (found by fuzzing)', () => {
    const patch = [
      { op: 'remove', path: '' },
      { op: 'add', path: '/metadata', value: [] },
    ];
    expect(() => applyPatch(base, 'json', patch)).toThrow(KubeStatusError);
    expect(base.metadata.name).toBe('p');
  });
});
