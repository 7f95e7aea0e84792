/** Turns a request path into what it addresses: a discovery document or a resource (type, namespace, name, subresource). Pure. */
import { openApiDocument, openApiIndex, openApiV2, openApiV2Protobuf } from './openapi.js';
import { apiGroup, apiGroups, findType, resourceList, type ResourceType } from './resources.js';
import { KubeStatusError, badRequest, notFound } from './status.js';

export const SERVER_VERSION = {
  major: '1',
  minor: '32',
  gitVersion: 'v1.32.0-tessera',
  gitCommit: '',
  gitTreeState: 'clean',
  buildDate: '2026-01-01T00:00:00Z',
  goVersion: 'go1.23',
  compiler: 'gc',
  platform: 'linux/amd64',
};

export type Route =
  | { kind: 'document'; body: unknown; protobuf?: Buffer }
  | { kind: 'resource'; type: ResourceType; namespace: string | undefined; name: string | undefined; subresource: string | undefined; legacyWatch: boolean };

/** Namespace subresources, which would otherwise read as a namespaced collection. */
const NAMESPACE_SUBRESOURCES = new Set(['status', 'finalize']);

/**
 * `path` is the request's raw path, still percent-encoded. It is split before decoding, and segments that would
 * move elsewhere once decoded or resolved (`.`, `..`, an encoded `/`) or empty ones (`//`) are refused rather than
 * normalised, so no spelling of a path reaches another namespace or a cluster-wide collection.
 */
export function route(path: string): Route {
  if (!path.startsWith('/')) throw badRequest(`the request path must start with "/" (${path})`);
  const raw = path.slice(1).split('/');
  // One trailing slash is tolerated, as kube-apiserver does for discovery paths.
  if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
  const segments = raw.map((segment) => decodeSegment(segment, path));
  if (segments.length === 1 && segments[0] === '') segments.pop();
  const [root, ...rest] = segments;
  if (root === 'version' && rest.length === 0) return { kind: 'document', body: SERVER_VERSION };
  if ((root === 'healthz' || root === 'livez' || root === 'readyz') && rest.length === 0) return { kind: 'document', body: 'ok' };
  if (root === 'openapi' && rest[0] === 'v2' && rest.length === 1) return { kind: 'document', body: openApiV2(), protobuf: openApiV2Protobuf() };
  if (root === 'openapi' && rest[0] === 'v3') {
    const body = rest.length === 1 ? openApiIndex() : openApiDocument(rest.slice(1).join('/'));
    if (body) return { kind: 'document', body };
  }
  if (root === 'api') {
    if (rest.length === 0) return { kind: 'document', body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } };
    if (rest[0] !== 'v1') throw notFoundPath(path);
    if (rest.length === 1) return { kind: 'document', body: resourceList('', 'v1') };
    return resourceRoute('', 'v1', rest.slice(1), path);
  }
  if (root === 'apis') {
    if (rest.length === 0) return { kind: 'document', body: { kind: 'APIGroupList', apiVersion: 'v1', groups: apiGroups().map(apiGroup) } };
    const [group, version, ...tail] = rest;
    if (!apiGroups().includes(group!)) throw notFoundPath(path);
    if (version === undefined) return { kind: 'document', body: apiGroup(group!) };
    if (tail.length === 0) {
      const list = resourceList(group!, version) as { resources: unknown[] };
      if (list.resources.length === 0) throw notFoundPath(path);
      return { kind: 'document', body: list };
    }
    return resourceRoute(group!, version, tail, path);
  }
  throw notFoundPath(path);
}

function resourceRoute(group: string, version: string, segments: string[], path: string): Route {
  const legacyWatch = segments[0] === 'watch';
  const parts = legacyWatch ? segments.slice(1) : segments;
  let namespace: string | undefined;
  let rest = parts;
  if (parts[0] === 'namespaces' && parts.length >= 3 && !NAMESPACE_SUBRESOURCES.has(parts[2]!)) {
    namespace = parts[1];
    rest = parts.slice(2);
  }
  const [plural, name, subresource, ...extra] = rest;
  const type = plural === undefined ? undefined : findType(group, version, plural);
  if (!type || extra.length > 0 || (namespace !== undefined && !type.namespaced)) throw notFoundPath(path);
  if (subresource !== undefined && !type.subresources.includes(subresource)) throw notFoundPath(path);
  return { kind: 'resource', type, namespace, name, subresource, legacyWatch };
}

function decodeSegment(segment: string, path: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    throw badRequest(`malformed percent-encoding in path ${path}`);
  }
  // kube-apiserver's path segment rules (IsValidPathSegmentName), plus empty segments: no `//` in a path.
  if (decoded === '') throw badRequest(`empty path segment in ${path}: a path may not contain "//"`);
  if (decoded === '.' || decoded === '..') throw badRequest(`invalid path segment "${decoded}" in ${path}: may not be '${decoded}'`);
  for (const character of ['/', '%']) {
    if (decoded.includes(character)) throw badRequest(`invalid path segment "${decoded}" in ${path}: may not contain '${character}'`);
  }
  return decoded;
}

function notFoundPath(path: string): KubeStatusError {
  const error = notFound('path', path);
  return new KubeStatusError(404, 'NotFound', `the server could not find the requested resource (${path})`, error.details);
}
