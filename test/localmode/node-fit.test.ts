import type { V1Node, V1Pod } from '@kubernetes/client-node';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addUsage, nodeMisfit, pickNode, podRequests, unschedulableMessage } from '../../src/localmode/node-fit.js';

const node = (overrides: Partial<V1Node['spec']> = {}, allocatable: Record<string, string> = { cpu: '4', memory: '8Gi', pods: '110' }): V1Node => ({
  metadata: { name: 'n1', labels: { zone: 'a' } },
  spec: overrides,
  status: { allocatable },
});

const pod = (requests: Record<string, string>, spec: Partial<V1Pod['spec']> = {}): V1Pod => ({
  metadata: { name: 'p', namespace: 'default' },
  spec: { containers: [{ name: 'c', resources: { requests } }], ...spec },
});

const none = new Set<string>();

describe('kube-scheduler filters the driver runs itself', () => {
  it('sums app containers and takes the peak against init containers', () => {
    const p: V1Pod = {
      spec: {
        initContainers: [{ name: 'i', resources: { requests: { cpu: '3' } } }],
        containers: [
          { name: 'a', resources: { requests: { cpu: '500m', memory: '1Gi' } } },
          { name: 'b', resources: { limits: { cpu: '1', memory: '512Mi' } } },
        ],
      },
    };
    // cpu: max(3000, 500 + 1000) = 3000 milli; memory: 1 GiB + 0.5 GiB in milli-bytes.
    expect(podRequests(p).get('cpu')).toBe(3000);
    expect(podRequests(p).get('memory')).toBe((1024 + 512) * 1024 * 1024 * 1000);
  });

  it('fits until the used requests plus the pod exceed allocatable', () => {
    const used = new Map<string, number>();
    expect(nodeMisfit(pod({ cpu: '3' }), node(), used, none)).toBeNull();
    addUsage(used, pod({ cpu: '3' }));
    // 3 cpu used + 2 asked > 4 allocatable.
    expect(nodeMisfit(pod({ cpu: '2' }), node(), used, none)).toBe('Insufficient cpu');
    expect(nodeMisfit(pod({ cpu: '1' }), node(), used, none)).toBeNull();
  });

  it('leaves resources the extender manages alone only when they are ignoredByScheduler', () => {
    const gpuPod = pod({ 'nvidia.com/gpu': '1' });
    expect(nodeMisfit(gpuPod, node(), new Map(), none)).toBe('Insufficient nvidia.com/gpu');
    expect(nodeMisfit(gpuPod, node(), new Map(), new Set(['nvidia.com/gpu']))).toBeNull();
  });

  it('honours unschedulable, nodeSelector, nodeName and taints', () => {
    expect(nodeMisfit(pod({}), node({ unschedulable: true }), new Map(), none)).toBe('node(s) were unschedulable');
    expect(nodeMisfit(pod({}, { nodeSelector: { zone: 'b' } }), node(), new Map(), none)).toBe("node(s) didn't match Pod's node affinity/selector");
    expect(nodeMisfit(pod({}, { nodeSelector: { zone: 'a' } }), node(), new Map(), none)).toBeNull();
    const tainted = node({ taints: [{ key: 'gpu', value: 'yes', effect: 'NoSchedule' }] });
    expect(nodeMisfit(pod({}), tainted, new Map(), none)).toBe('node(s) had untolerated taint {gpu: yes}');
    expect(nodeMisfit(pod({}, { tolerations: [{ key: 'gpu', operator: 'Exists' }] }), tainted, new Map(), none)).toBeNull();
    expect(nodeMisfit(pod({}, { tolerations: [{ key: 'gpu', operator: 'Equal', value: 'no' }] }), tainted, new Map(), none)).not.toBeNull();
  });

  it("summarises a failed attempt in kube-scheduler's words", () => {
    const reasons = new Map([
      ['a', 'Insufficient cpu'],
      ['b', 'node(s) had untolerated taint {gpu: yes}'],
      ['c', 'Insufficient cpu'],
    ]);
    expect(unschedulableMessage(3, reasons)).toBe('0/3 nodes are available: 1 node(s) had untolerated taint {gpu: yes}, 2 Insufficient cpu.');
    expect(unschedulableMessage(0, new Map())).toBe('0/0 nodes are available: no nodes.');
  });

  it('picks the highest score, ties to the first name, whatever the order offered', () => {
    expect(
      pickNode(
        ['b', 'a', 'c'],
        new Map([
          ['a', 50],
          ['b', 50],
          ['c', 10],
        ]),
      ),
    ).toBe('a');
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 8 }),
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 8, maxLength: 8 }),
        (names, values) => {
          const scores = new Map(names.map((n, i) => [n, values[i] ?? 0]));
          const chosen = pickNode(names, scores);
          const best = Math.max(...names.map((n) => scores.get(n) ?? 0));
          expect(scores.get(chosen)).toBe(best);
          expect(chosen).toBe(names.filter((n) => scores.get(n) === best).sort()[0]);
          expect(pickNode([...names].reverse(), scores)).toBe(chosen);
        },
      ),
      { numRuns: 200 },
    );
  });
});
