/**
 * The simulator's cluster file (YAML): node groups with a mode and a GPU model from the catalog.
 *
 *   nodes:
 *     - name: a100          # with count > 1: a100-0, a100-1, ...
 *       count: 2
 *       mode: mig           # or hami-core
 *       gpu: { model: A100-SXM4-40GB, count: 8 }
 *       cpuMilli: 96000     # optional, default 64000
 *       memoryMiB: 524288   # optional, default 262144
 *       splitCount: 10      # optional, HAMi's deviceSplitCount
 *
 * Errors name the file, the line and the field.
 */
import { LineCounter, parseDocument } from 'yaml';
import { ajv, fieldOf } from '../../api/index.js';
import { TesseraError } from '../../errors.js';
import { resolveGpuModel } from '../../geometry/index.js';
import type { NodeSpec } from '../../scheduler/core/index.js';

interface NodeGroup {
  name: string;
  count?: number;
  mode: 'mig' | 'hami-core';
  gpu: { model: string; count: number };
  cpuMilli?: number;
  memoryMiB?: number;
  splitCount?: number;
}

const DEFAULTS = { cpuMilli: 64_000, memoryMiB: 262_144, splitCount: 10 };

const validate = ajv.compile<{ nodes: NodeGroup[] }>({
  type: 'object',
  additionalProperties: false,
  required: ['nodes'],
  properties: {
    nodes: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'mode', 'gpu'],
        properties: {
          name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$', maxLength: 200 },
          count: { type: 'integer', minimum: 1, maximum: 10_000 },
          mode: { enum: ['mig', 'hami-core'] },
          gpu: {
            type: 'object',
            additionalProperties: false,
            required: ['model', 'count'],
            properties: { model: { type: 'string', minLength: 1 }, count: { type: 'integer', minimum: 1, maximum: 64 } },
          },
          cpuMilli: { type: 'integer', minimum: 0 },
          memoryMiB: { type: 'integer', minimum: 0 },
          splitCount: { type: 'integer', minimum: 1, maximum: 1000 },
        },
      },
    },
  },
});

export function parseClusterFile(file: string, text: string): NodeSpec[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const lineAt = (path: (string | number)[]): number => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return lineCounter.linePos(node.range[0]).line;
    }
    return 1;
  };
  const fail = (path: (string | number)[], message: string, code: 'INVALID_INPUT' | 'UNKNOWN_GPU_MODEL' = 'INVALID_INPUT'): TesseraError =>
    new TesseraError(code, message, { field: `${file}:${lineAt(path)}: ${path.join('.')}` });
  const first = doc.errors[0];
  if (first) {
    const line = first.linePos?.[0]?.line ?? 1;
    throw new TesseraError('INVALID_INPUT', `is not valid YAML (${first.message.split('\n')[0]})`, { field: `${file}:${line}` });
  }
  const value: unknown = doc.toJS();
  if (!validate(value)) {
    const error = validate.errors?.[0];
    const path = error
      ? error.instancePath
          .split('/')
          .slice(1)
          .map((p) => (/^\d+$/.test(p) ? Number(p) : p))
      : [];
    const field = error ? fieldOf(error, '') : '';
    throw new TesseraError('INVALID_INPUT', error?.message ?? 'is invalid', { field: `${file}:${lineAt(path)}: ${field}` });
  }
  const specs: NodeSpec[] = [];
  const names = new Set<string>();
  value.nodes.forEach((group, g) => {
    const model = resolveGpuModel(group.gpu.model);
    if (!model.ok) throw fail(['nodes', g, 'gpu', 'model'], model.error.message, 'UNKNOWN_GPU_MODEL');
    if (group.mode === 'mig' && !model.value.mig) throw fail(['nodes', g, 'gpu', 'model'], `${model.value.name} has no MIG; use mode hami-core`);
    const count = group.count ?? 1;
    for (let i = 0; i < count; i++) {
      const name = count > 1 ? `${group.name}-${i}` : group.name;
      if (names.has(name)) throw fail(['nodes', g, 'name'], `duplicate node name '${name}'`);
      names.add(name);
      specs.push({
        name,
        mode: group.mode,
        cpuMilli: group.cpuMilli ?? DEFAULTS.cpuMilli,
        memoryMiB: group.memoryMiB ?? DEFAULTS.memoryMiB,
        labels: {},
        splitCount: group.splitCount ?? DEFAULTS.splitCount,
        memoryScaling: 1,
        gpus: Array.from({ length: group.gpu.count }, (_, index) => ({
          uuid: `GPU-${name}-${index}`,
          index,
          model: model.value.name,
          memoryMiB: model.value.memoryMiB,
          coreUnits: 100,
          healthy: true,
          numa: null,
          ...(group.mode === 'mig' ? { migInstances: [] } : {}),
        })),
      });
    }
  });
  return specs;
}
