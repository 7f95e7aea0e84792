import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { MIG_FAMILIES, generateMigFamily, replayTrace, type MigFamily } from '../../src/simulator/trace/index.js';
import { simulatorPolicy } from '../../src/simulator/policy.js';

const REFERENCE = fileURLToPath(new URL('../../../shared/reference/mig.md', import.meta.url));

interface Row {
  compute: number;
  memory: number;
  starts: number[];
  max: number;
}

/** NVIDIA's 8-memory-slice placement table (../shared/reference/mig.md), per column (model), profile name -> row. */
function nvidiaTable(): Map<string, Map<string, Row>> {
  if (!existsSync(REFERENCE)) throw new Error(`${REFERENCE} is missing: check out the project's shared folder at ../shared (see ../shared/README.md)`);
  const lines = readFileSync(REFERENCE, 'utf8').split('\n');
  const cells = (line: string): string[] =>
    line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const at = lines.findIndex((l) => l.startsWith('| ID | compute/memory slices'));
  const header = cells(lines[at] ?? '');
  const table = new Map<string, Map<string, Row>>();
  for (const line of lines.slice(at + 2)) {
    if (!line.startsWith('|')) break;
    const row = cells(line);
    const [compute, memory] = (row[1] ?? '').split(' ')[0]?.split('/').map(Number) ?? [];
    const range = /^(\d+)\.\.(\d+)$/.exec(row[2] ?? '');
    const starts = range ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i) : (row[2] ?? '').split(',').map(Number);
    for (let c = 4; c < header.length; c++) {
      const name = (row[c] ?? '').split(' ')[0] ?? '';
      if (!name || compute === undefined || memory === undefined) continue;
      const column = table.get(header[c] ?? '') ?? new Map<string, Row>();
      column.set(name, { compute, memory, starts, max: Number(row[3]) });
      table.set(header[c] ?? '', column);
    }
  }
  return table;
}

const COLUMN: Record<string, string> = { 'A100-SXM4-40GB': 'A100-40GB', 'A100-SXM4-80GB': 'A100-80GB', 'H100-SXM5-80GB': 'H100-80GB', 'H200-141GB': 'H200-141GB' };

/** Why a layout breaks NVIDIA's table (a start it does not list, overlapping slices, too many of a profile or of compute), or null. */
function illegal(table: Map<string, Map<string, Row>>, model: string, instances: readonly { profile: string; start: number }[]): string | null {
  const rows = table.get(COLUMN[model] ?? '');
  if (!rows) return `no reference column for ${model}`;
  let used = 0;
  let compute = 0;
  const counts = new Map<string, number>();
  for (const i of instances) {
    const row = rows.get(i.profile);
    if (!row) return `${i.profile} is not a ${model} profile`;
    if (!row.starts.includes(i.start)) return `${i.profile} may not start at ${i.start}`;
    const mask = ((1 << row.memory) - 1) << i.start;
    if (used & mask) return `${i.profile}@${i.start} overlaps another instance`;
    used |= mask;
    compute += row.compute;
    counts.set(i.profile, (counts.get(i.profile) ?? 0) + 1);
    if ((counts.get(i.profile) ?? 0) > row.max) return `more than ${row.max} ${i.profile}`;
  }
  return compute > 7 ? `${compute} compute slices` : null;
}

describe('MIG trace families', () => {
  it('fixes a tuned-on and a held-back split with distinct names, and generates deterministically', () => {
    expect(new Set(MIG_FAMILIES.map((f) => f.name)).size).toBe(MIG_FAMILIES.length);
    expect(MIG_FAMILIES.filter((f) => f.split === 'tuned').length).toBeGreaterThan(0);
    expect(MIG_FAMILIES.filter((f) => f.split === 'held-back').length).toBeGreaterThan(0);
    const family = MIG_FAMILIES[0] as MigFamily;
    const a = generateMigFamily(family, 3, 50);
    const b = generateMigFamily(family, 3, 50);
    expect(a.events).toEqual(b.events);
    expect(generateMigFamily(family, 4, 50).events).not.toEqual(a.events);
    expect(a.events.filter((e) => e.kind === 'pod')).toHaveLength(50);
  });

  // Held-back families on models NVIDIA's 8-slice table covers, cut short so the test stays quick.
  const checked = MIG_FAMILIES.filter((f) => f.split === 'held-back' && f.nodes.every((n) => COLUMN[n.model]));
  it.each(checked.map((f) => [f.name, f] as const))(
    '%s: every final layout of every policy is legal by NVIDIA’s table',
    (_, family) => {
      const table = nvidiaTable();
      expect(illegal(table, 'A100-SXM4-40GB', [{ profile: '3g.20gb', start: 2 }])).toBe('3g.20gb may not start at 2');
      const trace = generateMigFamily(family, 0, 400);
      // Stop before the departures of the last pods, so the layouts still hold instances.
      const events = trace.events.slice(0, Math.floor(trace.events.length * 0.6));
      for (const name of ['tessera', 'hami-v2.10-mig', 'hami-v2.9-mig', 'zambianco']) {
        const outcome = replayTrace(trace.nodes, events, simulatorPolicy(name), { idleMigInstances: trace.idle });
        expect(outcome.placed).toBeGreaterThan(0);
        for (const gpu of outcome.layouts) expect([name, gpu.node, gpu.gpu, illegal(table, gpu.model, gpu.instances ?? [])]).toEqual([name, gpu.node, gpu.gpu, null]);
      }
    },
    60_000,
  );
});
