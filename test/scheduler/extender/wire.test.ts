import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/errors.js';
import { filterReply, offeredNodeNames, parseBindArgs, parseFilterArgs, parsePreemptArgs } from '../../../src/scheduler/extender/wire.js';
import { fieldOf } from '../../tessera-error.js';

const pod = { metadata: { name: 'p', namespace: 'default', uid: 'u-1' }, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': '1' } } }] } };

describe('extender wire format', () => {
  it('accepts PascalCase and camelCase alike, as Go decodes case-insensitively', () => {
    const pascal = parseFilterArgs({ Pod: pod, Nodes: null, NodeNames: ['a', 'b'] });
    const camel = parseFilterArgs({ pod, nodes: null, nodeNames: ['a', 'b'] });
    expect(camel).toEqual(pascal);
    expect(offeredNodeNames(pascal)).toEqual(['a', 'b']);
    expect(parseBindArgs({ podName: 'p', podNamespace: 'default', podUID: 'u-1', node: 'a' })).toEqual(parseBindArgs({ PodName: 'p', PodNamespace: 'default', PodUID: 'u-1', Node: 'a' }));
  });

  it('answers nodeCacheCapable requests with names and full requests with the Node objects, arrays never null', () => {
    const names = parseFilterArgs({ Pod: pod, Nodes: null, NodeNames: ['a', 'b', 'c'] });
    expect(filterReply(names, ['b'], { a: 'full' }, {})).toEqual({ Nodes: null, NodeNames: ['b'], FailedNodes: { a: 'full' }, FailedAndUnresolvableNodes: {}, Error: '' });
    const objects = parseFilterArgs({ Pod: pod, Nodes: { items: [{ metadata: { name: 'a', labels: { x: '1' } } }, { metadata: { name: 'b' } }] }, NodeNames: null });
    expect(offeredNodeNames(objects)).toEqual(['a', 'b']);
    const reply = filterReply(objects, ['a'], {}, { b: 'no GPU' });
    expect(reply.Nodes?.items).toEqual([{ metadata: { name: 'a', labels: { x: '1' } } }]);
    expect(reply.NodeNames).toBeNull();
    expect(filterReply(names, [], {}, {}).NodeNames).toEqual([]);
  });

  it.each([
    [{ Nodes: null, NodeNames: [] }, 'ExtenderArgs.Pod'],
    [{ Pod: { metadata: { name: 'p' }, spec: { containers: [] } }, NodeNames: [] }, 'ExtenderArgs.Pod.metadata.uid'],
    [{ Pod: pod, NodeNames: 'a' }, 'ExtenderArgs.NodeNames'],
    [{ Pod: { ...pod, spec: { containers: [{ name: 'c', resources: { limits: { 'nvidia.com/gpu': [] } } }] } }, NodeNames: [] }, 'ExtenderArgs.Pod.spec.containers.0.resources.limits.nvidia.com/gpu'],
    [[], 'ExtenderArgs'],
  ])('names the bad field', (body, field) => {
    expect(fieldOf(() => parseFilterArgs(body))).toBe(field);
  });

  it("names the missing bind field in the caller's vocabulary", () => {
    expect(fieldOf(() => parseBindArgs({ PodName: 'p', PodNamespace: 'd', Node: 'n' }))).toBe('ExtenderBindingArgs.PodUID');
  });

  it('answers any JSON with parsed args or a TesseraError, never anything else', () => {
    const body = fc.oneof(
      fc.json().map((t) => JSON.parse(t) as unknown),
      fc.record({ Pod: fc.oneof(fc.constant(pod as unknown), fc.anything()), NodeNames: fc.oneof(fc.array(fc.string()), fc.anything()), Nodes: fc.anything() }, { requiredKeys: [] }),
      fc.record({ Pod: fc.constant(pod as unknown), NodeNameToMetaVictims: fc.dictionary(fc.string(), fc.oneof(fc.anything(), fc.record({ Pods: fc.array(fc.anything()) }))) }),
    );
    fc.assert(
      fc.property(body, (value) => {
        for (const parse of [parseFilterArgs, parseBindArgs, parsePreemptArgs]) {
          try {
            parse(value);
          } catch (error) {
            expect(error).toBeInstanceOf(TesseraError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
