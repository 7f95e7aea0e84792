/** The plain-data shape of a stored object and the checks every written object passes, with ajv. */
import { Ajv } from 'ajv';
import { apiVersionOf, type ResourceType } from './resources.js';
import { badRequest, invalid } from './status.js';

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  [field: string]: unknown;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

const objectSchema = {
  type: 'object',
  required: ['metadata'],
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: {
      type: 'object',
      properties: {
        name: { type: 'string' },
        generateName: { type: 'string' },
        namespace: { type: 'string' },
        uid: { type: 'string' },
        resourceVersion: { type: 'string' },
        labels: stringMap,
        annotations: stringMap,
        finalizers: { type: 'array', items: { type: 'string' } },
        ownerReferences: { type: 'array', items: { type: 'object' } },
      },
    },
  },
} as const;

const ajv = new Ajv({ allErrors: false });
const validateObject = ajv.compile(objectSchema);

/** DNS-1123 subdomain: what Kubernetes accepts as most object names. */
const NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Checks shape, kind and apiVersion of a request body meant to become an object of `type`. */
export function checkObject(type: ResourceType, body: unknown): KubeObject {
  if (!validateObject(body)) {
    const first = validateObject.errors?.[0];
    const field = first ? first.instancePath.slice(1).replaceAll('/', '.') || 'body' : 'body';
    throw badRequest(`${field}: ${first?.message ?? 'invalid'}`);
  }
  const object = body as KubeObject;
  if (object.kind !== undefined && object.kind !== type.kind) {
    throw badRequest(`the kind "${object.kind}" in the request body does not match the resource ${type.plural} (kind ${type.kind})`);
  }
  if (object.apiVersion !== undefined && object.apiVersion !== apiVersionOf(type)) {
    throw badRequest(`the apiVersion "${object.apiVersion}" in the request body does not match ${apiVersionOf(type)}`);
  }
  return object;
}

export function checkName(type: ResourceType, name: string): void {
  if (name.length > 253 || !NAME.test(name)) {
    throw invalid(type.kind, name, 'metadata.name', name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'", type.group);
  }
}

/** An object's JSON, serialized once per object (objects are immutable once stored). */
const serialized = new WeakMap<KubeObject, string>();

export function objectJson(object: KubeObject): string {
  let json = serialized.get(object);
  if (json === undefined) {
    json = JSON.stringify(object);
    serialized.set(object, json);
  }
  return json;
}
