import { describe, expect, it } from 'vitest';
import { resolveType } from '../../src/cluster/store.js';
import { shortAge, toTable, wantsTable } from '../../src/cluster/table.js';

describe('server-side printing', () => {
  it("recognises kubectl's Accept header and nothing looser", () => {
    expect(wantsTable('application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json')).toBe(true);
    expect(wantsTable('application/json')).toBe(false);
    expect(wantsTable('application/json;as=Table;v=v1beta1;g=meta.k8s.io')).toBe(false);
    expect(wantsTable(undefined)).toBe(false);
  });

  it.each([
    [0, '0s'],
    [119, '119s'],
    [120, '2m'],
    [3 * 3600 - 1, '179m'],
    [3 * 3600, '3h'],
    [48 * 3600, '2d'],
    [2 * 365 * 86400, '2y'],
  ])('ages %d seconds as %s', (seconds, text) => {
    expect(shortAge(seconds)).toBe(text);
  });

  it('builds pod rows: ready containers, status, restarts, age, IP, node', () => {
    const pod = {
      metadata: { name: 'p', creationTimestamp: '2026-01-01T00:00:00Z' },
      spec: { nodeName: 'n1', containers: [{ name: 'a' }, { name: 'b' }] },
      status: {
        phase: 'Running',
        podIP: '10.244.1.2',
        containerStatuses: [
          { name: 'a', ready: true, restartCount: 2 },
          { name: 'b', ready: false, restartCount: 1 },
        ],
      },
    };
    const table = toTable(resolveType('pods'), [pod], new Date('2026-01-01T00:05:00Z')) as { columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] };
    expect(table.columnDefinitions.map((c) => c.name)).toEqual(['Name', 'Ready', 'Status', 'Restarts', 'Age', 'IP', 'Node']);
    expect(table.rows[0]?.cells).toEqual(['p', '1/2', 'Running', 3, '5m', '10.244.1.2', 'n1']);
  });
});
