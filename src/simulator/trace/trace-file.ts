/**
 * The simulator's timed trace (JSON lines): `{"at": <s>, "pod": <Pod JSON>}` adds a pod, `{"at": <s>, "delete":
 * "<namespace>/<name>"}` removes one. Pods are parsed with the allocator's own request parser; every error names
 * the file, the line and the field. Events are replayed in `at` order (stable for equal times).
 */
import { ajv, fieldOf } from '../../api/index.js';
import { TesseraError } from '../../errors.js';
import { parsePodRequest, reasonText, type PodRequest } from '../../request/index.js';

export type TraceEvent = { at: number; line: number; kind: 'pod'; key: string; request: PodRequest } | { at: number; line: number; kind: 'delete'; key: string };

const validate = ajv.compile<{ at: number; pod?: Record<string, unknown>; delete?: string }>({
  type: 'object',
  additionalProperties: false,
  required: ['at'],
  properties: {
    at: { type: 'number', minimum: 0 },
    pod: { type: 'object' },
    delete: { type: 'string', pattern: '^[^/]+/[^/]+$' },
  },
});

interface PodMeta {
  metadata?: { name?: unknown; namespace?: unknown; uid?: unknown };
}

export function parseTraceFile(file: string, text: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const fail = (field: string, message: string): TesseraError => new TesseraError('INVALID_INPUT', message, { field: `${file}:${line}: ${field}` });
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (cause) {
      throw fail('(line)', `is not valid JSON (${(cause as Error).message})`);
    }
    if (!validate(value)) {
      const error = validate.errors?.[0];
      throw fail(error ? fieldOf(error, '') || '(event)' : '(event)', error?.message ?? 'is invalid');
    }
    if ((value.pod === undefined) === (value.delete === undefined)) throw fail('(event)', 'needs exactly one of pod, delete');
    if (value.delete !== undefined) {
      events.push({ at: value.at, line, kind: 'delete', key: value.delete });
      return;
    }
    const pod = value.pod as PodMeta;
    const name = pod.metadata?.name;
    const namespace = pod.metadata?.namespace ?? 'default';
    if (typeof name !== 'string' || name === '') throw fail('pod.metadata.name', 'is required');
    if (typeof namespace !== 'string') throw fail('pod.metadata.namespace', 'must be a string');
    const key = `${namespace}/${name}`;
    // Trace pods rarely carry a uid; the namespaced name identifies them within one replay.
    const withUid = { ...pod, metadata: { ...pod.metadata, namespace, uid: typeof pod.metadata?.uid === 'string' ? pod.metadata.uid : key } };
    const parsed = parsePodRequest(withUid);
    if (!parsed.ok) {
      const reason = parsed.error;
      throw fail(reason.kind === 'InvalidRequest' ? `pod.${reason.field}` : 'pod', reason.kind === 'InvalidRequest' ? reason.message : reasonText(reason));
    }
    events.push({ at: value.at, line, kind: 'pod', key, request: parsed.value });
  });
  return events
    .map((e, i) => ({ e, i }))
    .sort((a, b) => a.e.at - b.e.at || a.i - b.i)
    .map(({ e }) => e);
}
