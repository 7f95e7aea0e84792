/**
 * The three patch formats Kubernetes accepts. JSON Patch (RFC 6902) goes through fast-json-patch; merge patch
 * (RFC 7396) and strategic merge patch share one merge walk, the strategic one adding keyed list merges and the
 * `$patch` / `$setElementOrder` / `$retainKeys` / `$deleteFromPrimitiveList` directives. Pure: the target is
 * never mutated.
 */
import fastJsonPatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { KubeStatusError, badRequest } from './status.js';

export const PATCH_CONTENT_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
} as const;

export type PatchKind = keyof typeof PATCH_CONTENT_TYPES;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

/**
 * List fields merged item by item under strategic merge, by the key Kubernetes' Go types declare
 * (`patchMergeKey`). Lists not named here (tolerations, args, command, images...) are replaced whole.
 */
const MERGE_KEYS: Readonly<Record<string, string>> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  volumes: 'name',
  env: 'name',
  imagePullSecrets: 'name',
  resourceClaims: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  conditions: 'type',
  addresses: 'type',
  taints: 'key',
  // MutatingWebhookConfiguration.webhooks (and the validating kind's).
  webhooks: 'name',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  ownerReferences: 'uid',
  containerStatuses: 'name',
  initContainerStatuses: 'name',
};

/** Lists of scalars that strategic merge unions instead of replacing. */
const MERGED_SCALAR_LISTS: ReadonlySet<string> = new Set(['finalizers']);

/** Container ports merge by containerPort, Service ports by port: the items say which they are. */
function mergeKeyFor(field: string, items: readonly Json[]): string | undefined {
  if (field === 'ports') return items.some((i) => isObject(i) && 'containerPort' in i) ? 'containerPort' : 'port';
  return MERGE_KEYS[field];
}

const isObject = (value: unknown): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);

export function applyPatch<T>(target: T, kind: PatchKind, patch: unknown): T {
  if (kind === 'json') return applyJsonPatch(target, patch);
  if (!isObject(patch)) throw badRequest(`${PATCH_CONTENT_TYPES[kind]} body must be a JSON object`);
  return merge(target as Json, patch, kind === 'strategic') as T;
}

function applyJsonPatch<T>(target: T, patch: unknown): T {
  if (!Array.isArray(patch)) throw badRequest('json patch body must be a JSON array of operations');
  try {
    // validate() dry-runs the operations and can itself throw (e.g. an op after one that removed the root).
    const error = fastJsonPatch.validate(patch as Operation[], target);
    if (error) throw error;
    return fastJsonPatch.applyPatch(target, patch as Operation[], false, false, true).newDocument;
  } catch (cause) {
    throw jsonPatchError(cause);
  }
}

function jsonPatchError(cause: unknown): KubeStatusError {
  const message = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  // A failed `test` or a path that does not resolve is a well-formed patch that does not apply: 422, as kube does.
  const name = (cause as { name?: string }).name;
  if (name === 'TEST_OPERATION_FAILED' || name === 'OPERATION_PATH_UNRESOLVABLE') {
    return new KubeStatusError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`, {});
  }
  return badRequest(`invalid json patch: ${message}`);
}

const DIRECTIVE_PREFIXES = ['$setElementOrder/', '$deleteFromPrimitiveList/'];

/** RFC 7396 when `strategic` is false; Kubernetes strategic merge when true. */
function merge(target: Json | undefined, patch: Json, strategic: boolean): Json | undefined {
  if (!isObject(patch)) return patch;
  if (strategic && patch.$patch === 'delete') return undefined;
  if (strategic && patch.$patch === 'replace') return withoutDirectives(patch);
  const result: JsonObject = isObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (strategic && (key === '$patch' || key === '$retainKeys' || DIRECTIVE_PREFIXES.some((p) => key.startsWith(p)))) continue;
    if (value === null) {
      delete result[key];
      continue;
    }
    const next = strategic && Array.isArray(value) ? mergeList(result[key], value, key) : merge(result[key], value, strategic);
    if (next === undefined) delete result[key];
    else result[key] = next;
  }
  if (!strategic) return result;
  applyListDirectives(result, patch);
  const retain = patch.$retainKeys;
  if (Array.isArray(retain)) {
    for (const key of Object.keys(result)) if (!retain.includes(key) && !(key in patch)) delete result[key];
  }
  return result;
}

function withoutDirectives(value: JsonObject): JsonObject {
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== '$patch'));
}

function mergeList(target: Json | undefined, patch: Json[], field: string): Json[] {
  const current = Array.isArray(target) ? target : [];
  if (patch.some((item) => isObject(item) && item.$patch === 'replace')) {
    return patch.filter((item) => !(isObject(item) && item.$patch === 'replace'));
  }
  if (MERGED_SCALAR_LISTS.has(field)) return [...current, ...patch.filter((item) => !current.includes(item))];
  const key = mergeKeyFor(field, [...current, ...patch]);
  if (!key) return patch.map((item) => (isObject(item) ? withoutDirectives(item) : item));
  const result = [...current];
  for (const item of patch) {
    if (!isObject(item)) throw badRequest(`strategic merge patch: items of ${field} must be objects with ${key}`);
    const at = result.findIndex((existing) => isObject(existing) && existing[key] === item[key]);
    if (item.$patch === 'delete') {
      if (at >= 0) result.splice(at, 1);
      continue;
    }
    if (at >= 0) result[at] = merge(result[at], item, true) ?? null;
    else result.push(merge(undefined, item, true) ?? null);
  }
  return result;
}

/** `$deleteFromPrimitiveList/<f>` removes scalars; `$setElementOrder/<f>` puts listed items first, in that order. */
function applyListDirectives(result: JsonObject, patch: JsonObject): void {
  for (const [key, value] of Object.entries(patch)) {
    if (!Array.isArray(value)) continue;
    if (key.startsWith('$deleteFromPrimitiveList/')) {
      const field = key.slice('$deleteFromPrimitiveList/'.length);
      const list = result[field];
      if (Array.isArray(list)) result[field] = list.filter((item) => !value.includes(item));
    } else if (key.startsWith('$setElementOrder/')) {
      const field = key.slice('$setElementOrder/'.length);
      const list = result[field];
      if (Array.isArray(list)) result[field] = reorder(list, value, mergeKeyFor(field, list));
    }
  }
}

function reorder(list: Json[], order: Json[], key: string | undefined): Json[] {
  const identity = (item: Json): Json => (key && isObject(item) ? (item[key] ?? null) : item);
  const wanted = order.map(identity);
  const rank = (item: Json): number => {
    const at = wanted.findIndex((w) => w === identity(item));
    return at < 0 ? wanted.length : at;
  };
  return list
    .map((item, i) => ({ item, i }))
    .sort((a, b) => rank(a.item) - rank(b.item) || a.i - b.i)
    .map((x) => x.item);
}
