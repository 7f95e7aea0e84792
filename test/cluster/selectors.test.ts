import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from '../../src/cluster/selectors.js';
import { KubeStatusError } from '../../src/cluster/status.js';

describe('label selectors', () => {
  const labels = { app: 'web', tier: 'gpu', replicas: '3' };
  it.each([
    ['app=web', true],
    ['app==web,tier=gpu', true],
    ['app!=web', false],
    ['app in (web, api)', true],
    ['tier notin (gpu)', false],
    ['missing', false],
    ['!missing', true],
    ['replicas>2', true],
    ['replicas<3', false],
    ['app in (web),!zone', true],
    ['', true],
  ])('%s matches %s', (selector, expected) => {
    expect(matchesLabels(parseLabelSelector(selector), labels)).toBe(expected);
  });

  it('rejects malformed selectors with a 400 Status, never another error', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseLabelSelector(text);
        } catch (error) {
          expect(error).toBeInstanceOf(KubeStatusError);
          expect((error as KubeStatusError).httpCode).toBe(400);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('key=value matches exactly the objects whose label equals value', () => {
    const token = fc.stringMatching(/^[a-z][a-z0-9]{0,5}$/);
    fc.assert(
      fc.property(token, token, fc.dictionary(token, token), (key, value, objectLabels) => {
        expect(matchesLabels(parseLabelSelector(`${key}=${value}`), objectLabels)).toBe(objectLabels[key] === value);
        expect(matchesLabels(parseLabelSelector(`${key}!=${value}`), objectLabels)).toBe(objectLabels[key] !== value);
      }),
      { numRuns: 200 },
    );
  });
});

describe('field selectors', () => {
  const pod = { metadata: { name: 'p', namespace: 'ns' }, spec: { nodeName: 'n1' }, status: { phase: 'Running' } };
  it('reads dotted paths, and a missing field reads as empty', () => {
    expect(matchesFields(parseFieldSelector('spec.nodeName=n1,status.phase!=Pending'), pod)).toBe(true);
    expect(matchesFields(parseFieldSelector('spec.nodeName='), { spec: {} })).toBe(true);
    expect(matchesFields(parseFieldSelector('metadata.namespace==other'), pod)).toBe(false);
    expect(() => parseFieldSelector('spec.nodeName')).toThrow(KubeStatusError);
  });
});
