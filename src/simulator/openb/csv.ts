/**
 * Loading the openb trace files (`openb_node_list_*.csv`, `openb_pod_list_*.csv`). Parsing is pure (text in,
 * records out) so it can be fuzzed; every error names the file, the line and the column.
 */
import { TesseraError } from '../../errors.js';

export interface OpenbNode {
  name: string;
  cpuMilli: number;
  memoryMib: number;
  gpus: number;
  model: string;
}

export interface OpenbPod {
  name: string;
  cpuMilli: number;
  memoryMib: number;
  /** Number of GPUs; 0 for CPU-only pods. */
  gpus: number;
  /** Share of each GPU in thousandths (1000 = whole GPU); 0 for CPU-only pods. */
  gpuMilli: number;
  /** Allowed GPU models as written (order and repeats kept: they distinguish typical shapes); empty means any. */
  gpuSpec: readonly string[];
}

interface CsvRow {
  line: number;
  cell(column: string): string;
}

function rowsOf(file: string, text: string, required: readonly string[]): CsvRow[] {
  const lines = text.split(/\r?\n/);
  const header = (lines[0] ?? '').split(',').map((h) => h.trim());
  for (const column of required) {
    if (!header.includes(column)) throw invalid(file, 1, column, `missing column (header is '${lines[0] ?? ''}')`);
  }
  const index = new Map(header.map((h, i) => [h, i]));
  const rows: CsvRow[] = [];
  for (let i = 1; i < lines.length; i++) {
    const raw = lines[i] ?? '';
    if (raw.trim() === '') continue;
    const cells = raw.split(',');
    const line = i + 1;
    rows.push({
      line,
      cell(column) {
        const value = cells[index.get(column) ?? -1];
        if (value === undefined) throw invalid(file, line, column, `missing value (row has ${cells.length} of ${header.length} columns)`);
        return value.trim();
      },
    });
  }
  return rows;
}

function invalid(file: string, line: number, column: string, message: string): TesseraError {
  return new TesseraError('INVALID_INPUT', message, { field: `${file}:${line}: ${column}` });
}

function nonNegativeInt(file: string, row: CsvRow, column: string): number {
  const text = row.cell(column);
  const value = Number(text);
  if (text === '' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(file, row.line, column, `must be a non-negative integer, got '${text}'`);
  }
  return value;
}

function nonEmpty(file: string, row: CsvRow, column: string): string {
  const text = row.cell(column);
  if (text === '') throw invalid(file, row.line, column, 'must not be empty');
  return text;
}

function rejectDuplicates(file: string, rows: readonly { name: string }[], lines: readonly number[], column: string): void {
  const seen = new Set<string>();
  rows.forEach((row, i) => {
    if (seen.has(row.name)) throw invalid(file, lines[i] ?? 0, column, `duplicate name '${row.name}'`);
    seen.add(row.name);
  });
}

/** Parses `sn,cpu_milli,memory_mib,gpu,model`. */
export function parseOpenbNodes(file: string, text: string): OpenbNode[] {
  const rows = rowsOf(file, text, ['sn', 'cpu_milli', 'memory_mib', 'gpu', 'model']);
  const nodes = rows.map((row) => ({
    name: nonEmpty(file, row, 'sn'),
    cpuMilli: nonNegativeInt(file, row, 'cpu_milli'),
    memoryMib: nonNegativeInt(file, row, 'memory_mib'),
    gpus: nonNegativeInt(file, row, 'gpu'),
    model: row.cell('model'),
  }));
  rejectDuplicates(
    file,
    nodes,
    rows.map((r) => r.line),
    'sn',
  );
  if (nodes.length === 0) throw invalid(file, 1, 'sn', 'no nodes in file');
  return nodes;
}

/**
 * Parses `name,cpu_milli,memory_mib,num_gpu,gpu_milli[,gpu_spec,...]`. As the published pod_csv_to_yaml.py does,
 * GPU fields only count when num_gpu > 0, and gpu_milli must then be in (0, 1000].
 */
export function parseOpenbPods(file: string, text: string): OpenbPod[] {
  const rows = rowsOf(file, text, ['name', 'cpu_milli', 'memory_mib', 'num_gpu', 'gpu_milli']);
  const hasSpec = (text.split(/\r?\n/, 1)[0] ?? '')
    .split(',')
    .map((h) => h.trim())
    .includes('gpu_spec');
  const pods = rows.map((row): OpenbPod => {
    const gpus = nonNegativeInt(file, row, 'num_gpu');
    const milli = nonNegativeInt(file, row, 'gpu_milli');
    if (gpus > 0 && (milli === 0 || milli > 1000)) throw invalid(file, row.line, 'gpu_milli', `must be in 1..1000 when num_gpu > 0, got ${milli}`);
    if (gpus > 1 && milli !== 1000) throw invalid(file, row.line, 'gpu_milli', `a pod with num_gpu > 1 takes whole GPUs (1000), got ${milli}`);
    const spec = hasSpec && gpus > 0 ? row.cell('gpu_spec') : '';
    return {
      name: nonEmpty(file, row, 'name'),
      cpuMilli: nonNegativeInt(file, row, 'cpu_milli'),
      memoryMib: nonNegativeInt(file, row, 'memory_mib'),
      gpus,
      gpuMilli: gpus > 0 ? milli : 0,
      gpuSpec: spec === '' ? [] : spec.split('|'),
    };
  });
  rejectDuplicates(
    file,
    pods,
    rows.map((r) => r.line),
    'name',
  );
  return pods;
}
