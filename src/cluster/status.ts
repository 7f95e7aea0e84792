/**
 * Kubernetes `Status` errors: the wire form every failed API call answers with. Each carries the nearest code of
 * Tessera's catalogue (for logs and the CLI) and the exact HTTP code and `reason` a Kubernetes client expects.
 */
import { TesseraError, type ErrorCode } from '../errors.js';

export type StatusReason =
  | 'BadRequest'
  | 'NotFound'
  | 'AlreadyExists'
  | 'Conflict'
  | 'Invalid'
  | 'Expired'
  | 'Gone'
  | 'MethodNotAllowed'
  | 'UnsupportedMediaType'
  | 'RequestEntityTooLarge'
  | 'ServiceUnavailable'
  | 'InternalError'
  | 'Timeout'
  | 'TooManyRequests'
  | 'Unauthorized'
  | 'InsufficientStorage'
  | 'Unknown';

export interface StatusCause {
  reason: string;
  message: string;
  field: string;
}

export interface StatusDetails {
  name?: string;
  uid?: string;
  group?: string;
  kind?: string;
  causes?: StatusCause[];
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: StatusReason;
  details?: StatusDetails;
  code: number;
}

const CATALOGUE_CODE_BY_HTTP: Record<number, ErrorCode> = { 400: 'INVALID_INPUT', 404: 'NOT_FOUND', 409: 'CONFLICT', 503: 'UNAVAILABLE', 507: 'UNAVAILABLE' };

export class KubeStatusError extends TesseraError {
  readonly httpCode: number;
  readonly reason: StatusReason;
  readonly details: StatusDetails | undefined;

  constructor(httpCode: number, reason: StatusReason, message: string, details?: StatusDetails) {
    super(CATALOGUE_CODE_BY_HTTP[httpCode] ?? (httpCode < 500 ? 'INVALID_INPUT' : 'INTERNAL'), message);
    this.httpCode = httpCode;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): StatusBody {
    return failureStatus(this.httpCode, this.reason, this.message, this.details);
  }
}

export function failureStatus(code: number, reason: StatusReason, message: string, details?: StatusDetails): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

export function successStatus(code: number, details?: StatusDetails): StatusBody {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', ...(details ? { details } : {}), code };
}

/** `pods "web-1" not found`, in the words kubectl users know. */
export const notFound = (resource: string, name: string, group = ''): KubeStatusError =>
  new KubeStatusError(404, 'NotFound', `${qualified(resource, group)} "${name}" not found`, { name, group, kind: resource });

export const alreadyExists = (resource: string, name: string, group = ''): KubeStatusError =>
  new KubeStatusError(409, 'AlreadyExists', `${qualified(resource, group)} "${name}" already exists`, { name, group, kind: resource });

export const conflict = (resource: string, name: string, why: string, group = ''): KubeStatusError =>
  new KubeStatusError(409, 'Conflict', `Operation cannot be fulfilled on ${qualified(resource, group)} "${name}": ${why}`, {
    name,
    group,
    kind: resource,
  });

export const badRequest = (message: string): KubeStatusError => new KubeStatusError(400, 'BadRequest', message);

/** 422 Invalid for one field, as kube-apiserver words it: details name the Kind (`Pod`) and carry the field. */
export function invalid(kind: string, name: string, field: string, value: string, why: string, group = ''): KubeStatusError {
  const message = `Invalid value: ${JSON.stringify(value)}: ${why}`;
  return new KubeStatusError(422, 'Invalid', `${kind} "${name}" is invalid: ${field}: ${message}`, {
    name,
    group,
    kind,
    causes: [{ reason: 'FieldValueInvalid', message, field }],
  });
}

export const expired = (message: string): KubeStatusError => new KubeStatusError(410, 'Expired', message);

function qualified(resource: string, group: string): string {
  return group ? `${resource}.${group}` : resource;
}
