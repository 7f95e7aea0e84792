/**
 * Request and response encoding: body decoding by content type, query parameters, DeleteOptions, and the JSON
 * of objects, lists and watch events. Stored objects are immutable, so each one is serialized once and reused by
 * every list and watcher that sends it.
 */
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { objectJson } from './objects.js';
import { PATCH_CONTENT_TYPES, type PatchKind } from './patch.js';
import { apiVersionOf, type ResourceType } from './resources.js';
import type { DeleteOptions, ListResult, WatchEventType } from './store.js';
import { KubeStatusError, badRequest, type StatusCause } from './status.js';

export function listJson(type: ResourceType, list: ListResult): string {
  const metadata = {
    resourceVersion: list.resourceVersion,
    ...(list.continue !== undefined ? { continue: list.continue, remainingItemCount: list.remainingItemCount } : {}),
  };
  const head = JSON.stringify({ kind: `${type.kind}List`, apiVersion: apiVersionOf(type), metadata });
  return `${head.slice(0, -1)},"items":[${list.items.map(objectJson).join(',')}]}`;
}

/** One watch event line; `objectJson` is the event's object already serialized. */
export const watchLine = (type: WatchEventType | 'ERROR', objectJson: string): string => `{"type":"${type}","object":${objectJson}}\n`;

const mediaType = (contentType: string | undefined): string => (contentType ?? '').split(';')[0]!.trim().toLowerCase();

function unsupported(contentType: string | undefined, accepted: string[]): KubeStatusError {
  return new KubeStatusError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format (${mediaType(contentType) || 'none'}) - accepted media types include: ${accepted.join(', ')}`,
  );
}

/** Nesting allowed in a request body unless the server is given another bound; real objects nest a few dozen deep. */
export const DEFAULT_MAX_JSON_DEPTH = 1000;

const tooDeep = (maxDepth: number): KubeStatusError => badRequest(`the request body nests objects and arrays more than ${maxDepth} levels deep (maxJsonDepth)`);

/**
 * Whether JSON text nests deeper than `maxDepth`, by counting brackets outside strings, before anything parses
 * it: the code that later walks a parsed body (validation, patches, cloning) recurses once per level.
 */
function jsonNestsDeeper(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/** The same bound on a parsed value (YAML's block style nests without brackets), walked without recursion. */
function nestsDeeper(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth + 1 > maxDepth) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

function decode(body: Buffer | undefined, yaml: boolean, maxDepth: number): unknown {
  const text = body?.toString('utf8') ?? '';
  if (text.trim() === '') throw badRequest('the request body is empty; an object is required');
  if (jsonNestsDeeper(text, maxDepth)) throw tooDeep(maxDepth);
  let value: unknown;
  try {
    value = yaml ? parseYaml(text) : JSON.parse(text);
  } catch (cause) {
    if (cause instanceof RangeError) throw tooDeep(maxDepth);
    throw badRequest(`the request body is not valid ${yaml ? 'YAML' : 'JSON'}: ${(cause as Error).message.split('\n')[0]}`);
  }
  if (yaml && nestsDeeper(value, maxDepth)) throw tooDeep(maxDepth);
  return value;
}

/** Body of a create or update: JSON, or YAML as kube-apiserver also accepts. */
export function decodeObjectBody(contentType: string | undefined, body: Buffer | undefined, maxDepth = DEFAULT_MAX_JSON_DEPTH): unknown {
  const type = mediaType(contentType);
  if (type === 'application/json' || type === '') return decode(body, false, maxDepth);
  if (type === 'application/yaml') return decode(body, true, maxDepth);
  throw unsupported(contentType, ['application/json', 'application/yaml']);
}

export function decodePatchBody(contentType: string | undefined, body: Buffer | undefined, maxDepth = DEFAULT_MAX_JSON_DEPTH): { kind: PatchKind; patch: unknown } {
  const type = mediaType(contentType);
  const kind = (Object.keys(PATCH_CONTENT_TYPES) as PatchKind[]).find((k) => PATCH_CONTENT_TYPES[k] === type);
  if (!kind) throw unsupported(contentType, Object.values(PATCH_CONTENT_TYPES));
  return { kind, patch: decode(body, false, maxDepth) };
}

const deleteOptionsSchema = {
  type: 'object',
  properties: {
    kind: { const: 'DeleteOptions' },
    apiVersion: { type: 'string' },
    gracePeriodSeconds: { type: ['integer', 'null'], minimum: 0 },
    propagationPolicy: { enum: ['Orphan', 'Background', 'Foreground', null] },
    orphanDependents: { type: ['boolean', 'null'] },
    dryRun: { type: 'array', items: { const: 'All' } },
    preconditions: {
      type: ['object', 'null'],
      properties: { uid: { type: ['string', 'null'] }, resourceVersion: { type: ['string', 'null'] } },
      additionalProperties: false,
    },
  },
} as const;

const validateDeleteOptions = new Ajv().compile(deleteOptionsSchema);

interface DeleteOptionsBody {
  gracePeriodSeconds?: number | null;
  dryRun?: string[];
  preconditions?: { uid?: string | null; resourceVersion?: string | null } | null;
}

/** DeleteOptions from the optional body and the query (`gracePeriodSeconds`, `dryRun`), the query winning. */
export function decodeDeleteOptions(contentType: string | undefined, body: Buffer | undefined, query: URLSearchParams, maxDepth = DEFAULT_MAX_JSON_DEPTH): DeleteOptions {
  const parsed: DeleteOptionsBody = body && body.length > 0 ? (decodeObjectBody(contentType, body, maxDepth) as DeleteOptionsBody) : {};
  if (!validateDeleteOptions(parsed)) {
    const first = validateDeleteOptions.errors?.[0];
    throw badRequest(`DeleteOptions${first?.instancePath.replaceAll('/', '.') ?? ''}: ${first?.message ?? 'invalid'}`);
  }
  const grace = integerParam(query, 'gracePeriodSeconds') ?? parsed.gracePeriodSeconds ?? undefined;
  const preconditions = {
    ...(parsed.preconditions?.uid ? { uid: parsed.preconditions.uid } : {}),
    ...(parsed.preconditions?.resourceVersion ? { resourceVersion: parsed.preconditions.resourceVersion } : {}),
  };
  return {
    ...(grace !== undefined ? { gracePeriodSeconds: grace } : {}),
    preconditions,
    dryRun: isDryRun(query) || (parsed.dryRun ?? []).includes('All'),
  };
}

export function integerParam(query: URLSearchParams, name: string): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return undefined;
  if (!/^\d{1,9}$/.test(raw)) throw badRequest(`${name}: invalid value "${raw}": must be a non-negative integer`);
  return Number(raw);
}

export function booleanParam(query: URLSearchParams, name: string): boolean {
  const raw = query.get(name);
  if (raw === null || raw === '' || raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw badRequest(`${name}: invalid value "${raw}": must be true or false`);
}

export function isDryRun(query: URLSearchParams): boolean {
  const values = query.getAll('dryRun');
  for (const value of values) if (value !== 'All') throw badRequest(`dryRun: Unsupported value: "${value}": supported values: "All"`);
  return values.length > 0;
}

/**
 * The rules kube-apiserver's ValidateListOptions applies to `resourceVersionMatch` and `sendInitialEvents`:
 * 422 Invalid on ListOptions naming each offending option.
 */
export function checkListOptions(query: URLSearchParams, watch: boolean): void {
  const match = query.get('resourceVersionMatch') ?? '';
  const resourceVersion = query.get('resourceVersion') ?? '';
  const initialEvents = query.get('sendInitialEvents') || undefined;
  const causes: StatusCause[] = [];
  const forbidden = (field: string, why: string): void => {
    causes.push({ reason: 'FieldValueForbidden', message: `Forbidden: ${why}`, field });
  };
  if (watch) {
    if (initialEvents !== undefined) {
      if (match !== 'NotOlderThan') forbidden('resourceVersionMatch', 'sendInitialEvents requires setting resourceVersionMatch to NotOlderThan');
    } else if (match !== '') forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided');
  } else {
    if (match !== '') {
      if (resourceVersion === '') forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden unless resourceVersion is provided');
      if (query.get('continue')) forbidden('resourceVersionMatch', 'resourceVersionMatch is forbidden when continue is provided');
      if (match === 'Exact' && resourceVersion === '0') forbidden('resourceVersionMatch', 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"');
      else if (match !== 'Exact' && match !== 'NotOlderThan') {
        causes.push({ reason: 'FieldValueNotSupported', message: `Unsupported value: ${JSON.stringify(match)}: supported values: "Exact", "NotOlderThan", ""`, field: 'resourceVersionMatch' });
      }
    }
    if (initialEvents !== undefined) forbidden('sendInitialEvents', 'sendInitialEvents is forbidden for list');
  }
  if (causes.length === 0) return;
  const errors = causes.map((c) => `${c.field}: ${c.message}`);
  const list = errors.length === 1 ? errors[0] : `[${errors.join(', ')}]`;
  throw new KubeStatusError(422, 'Invalid', `ListOptions.meta.k8s.io "" is invalid: ${list}`, { group: 'meta.k8s.io', kind: 'ListOptions', causes });
}

/**
 * Where a watch starts, as the store reads it: `sendInitialEvents=true` begins with the current state whatever
 * the resourceVersion (NotOlderThan it); `false` begins after the given version or, without one, now.
 */
export function watchStart(query: URLSearchParams, currentResourceVersion: string): string | undefined {
  const from = query.get('resourceVersion') ?? undefined;
  const initialEvents = query.get('sendInitialEvents') || undefined;
  if (initialEvents === undefined) return from;
  if (booleanParam(query, 'sendInitialEvents')) return '';
  return from === undefined || from === '' || from === '0' ? currentResourceVersion : from;
}
