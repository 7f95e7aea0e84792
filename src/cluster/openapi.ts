/**
 * The slice of OpenAPI v3 that kubectl reads: the per-group-version index, and for each resource a PATCH
 * operation that names its kind and the `fieldValidation` parameter. With it kubectl leaves field validation to
 * the server instead of downloading full schemas; object schemas are not served, and kubectl falls back to its
 * compiled-in types for strategic merge. An OpenAPI v2 document without definitions serves kubectl's client-side
 * validation of what v3 does not describe (a `kind: List` file): a kind it has no definition for is not checked
 * on the client, and each item is then validated by the server. Pure.
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

const V2_INFO = { title: 'Kubernetes', version: 'v1.32.0' };

/** `/openapi/v2` as JSON. */
export const openApiV2 = (): object => ({ swagger: '2.0', info: V2_INFO, paths: {}, definitions: {} });

/** Protobuf length-delimited field `field` holding `value`. */
function protoField(field: number, value: Buffer): Buffer {
  const length: number[] = [];
  let n = value.length;
  do {
    length.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>= 7;
  } while (n > 0);
  return Buffer.concat([Buffer.from([(field << 3) | 2, ...length]), value]);
}

/**
 * `/openapi/v2` in the protobuf form kubectl asks for (gnostic openapi_v2.Document): swagger (1) and info (2:
 * title 1, version 2); no paths or definitions.
 */
export function openApiV2Protobuf(): Buffer {
  const info = Buffer.concat([protoField(1, Buffer.from(V2_INFO.title)), protoField(2, Buffer.from(V2_INFO.version))]);
  return Buffer.concat([protoField(1, Buffer.from('2.0')), protoField(2, info)]);
}
