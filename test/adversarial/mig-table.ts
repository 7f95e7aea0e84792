/**
 * NVIDIA's MIG placement table for one GPU model, read from ../shared/reference/mig.md (not from src/geometry), so
 * that a liveness check can say independently whether a pending MIG pod would fit the free slices of a GPU.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface ReferenceProfile {
  profile: string;
  computeSlices: number;
  memorySlices: number;
  starts: number[];
  memoryMiB: number;
}

const REFERENCE = fileURLToPath(new URL('../../../shared/reference/mig.md', import.meta.url));

/** The 8-memory-slice table's profiles for `model` (a column heading, e.g. `A100-40GB`) that state their MiB. */
export function referenceProfiles(model: string): ReferenceProfile[] {
  if (!existsSync(REFERENCE)) throw new Error(`${REFERENCE} is missing: this test reads NVIDIA's MIG table from the shared checkout at ../shared (see ../shared/README.md)`);
  const rows = readFileSync(REFERENCE, 'utf8').split('\n');
  const header = rows.findIndex((line) => line.startsWith('| ID | compute/memory slices'));
  const cells = (line: string): string[] =>
    line
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
  const column = cells(rows[header] ?? '').indexOf(model);
  if (header < 0 || column < 0) throw new Error(`no column ${model} in the 8-slice table of ${REFERENCE}`);
  const out: ReferenceProfile[] = [];
  for (const line of rows.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    const row = cells(line);
    const [compute, memory] = (row[1] ?? '').split(' ')[0]?.split('/').map(Number) ?? [];
    const match = /^(\S+) (\d+) MiB$/.exec(row[column] ?? '');
    if (!match || (row[1] ?? '').includes('+me') || compute === undefined || memory === undefined) continue;
    const startsText = row[2] ?? '';
    const range = /^(\d+)\.\.(\d+)$/.exec(startsText);
    const starts = range ? Array.from({ length: Number(range[2]) - Number(range[1]) + 1 }, (_, i) => Number(range[1]) + i) : startsText.split(',').map(Number);
    out.push({ profile: match[1] ?? '', computeSlices: compute, memorySlices: memory, starts, memoryMiB: Number(match[2]) });
  }
  return out;
}

/**
 * A placement where a request of `memoryMiB` fits a GPU whose memory slices are `held` (a non-empty entry: in use)
 * with `computeUsed` of its 7 compute slices taken, or undefined when none does.
 */
export function freePlacement(profiles: readonly ReferenceProfile[], memoryMiB: number, held: readonly string[], computeUsed: number): string | undefined {
  for (const p of profiles) {
    if (p.memoryMiB < memoryMiB || computeUsed + p.computeSlices > 7) continue;
    const start = p.starts.find((s) => s + p.memorySlices <= 8 && held.slice(s, s + p.memorySlices).every((h) => !h));
    if (start !== undefined) return `${p.profile}@${start}`;
  }
  return undefined;
}
