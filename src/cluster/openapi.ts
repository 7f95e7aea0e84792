/**
 * The slice of OpenAPI v3 that kubectl reads: the per-group-version index, and for each resource a PATCH
 * operation that names its kind and the `fieldValidation` parameter. With it kubectl leaves field validation to
 * the server instead of downloading full schemas; object schemas are not served, and kubectl falls back to its
 * compiled-in types for strategic merge. Pure.
 */
import { RESOURCE_TYPES, isBindingType, type ResourceType } from './resources.js';

const groupVersionPath = (type: ResourceType): string => (type.group ? `apis/${type.group}/${type.version}` : `api/${type.version}`);

export function openApiIndex(): object {
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const type of RESOURCE_TYPES) {
    const gv = groupVersionPath(type);
    paths[gv] = { serverRelativeURL: `/openapi/v3/${gv}` };
  }
  return { paths };
}

/** The document for `api/v1` or `apis/<group>/<version>`, or undefined when that group version is not served. */
export function openApiDocument(groupVersion: string): object | undefined {
  const types = RESOURCE_TYPES.filter((t) => groupVersionPath(t) === groupVersion && !isBindingType(t));
  if (types.length === 0) return undefined;
  const paths: Record<string, object> = {};
  for (const type of types) {
    const base = `/${groupVersion}${type.namespaced ? '/namespaces/{namespace}' : ''}/${type.plural}/{name}`;
    paths[base] = {
      patch: {
        operationId: `patch${type.kind}`,
        parameters: [
          { name: 'dryRun', in: 'query', schema: { type: 'string' } },
          { name: 'fieldValidation', in: 'query', schema: { type: 'string' } },
        ],
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': { group: type.group, version: type.version, kind: type.kind },
      },
    };
  }
  return { openapi: '3.0.0', info: { title: 'Kubernetes', version: 'v1.32.0' }, paths, components: { schemas: {} } };
}
