/**
 * Fault injection for the daemons' tests: fail the next N requests that match a verb and resource with a chosen
 * status, or slow matching requests down. Closing all watches lives on the server, which owns the streams.
 */
import { failureStatus, type StatusBody, type StatusReason } from './status.js';

/** Kubernetes verbs as RBAC names them. */
export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export interface RequestMatch {
  /** Any verb when absent. */
  verb?: Verb;
  /** `pods`, `pods/status`, `pods/binding`, `leases`; any resource when absent. */
  resource?: string;
}

export interface FailureSpec extends RequestMatch {
  /** How many matching requests fail; 1 when absent. */
  count?: number;
  /** HTTP status to answer, e.g. 500, 503, 409, 429. */
  status: number;
  reason?: StatusReason;
  message?: string;
}

interface PendingFailure {
  match: RequestMatch;
  remaining: number;
  status: StatusBody;
}

interface Latency {
  match: RequestMatch;
  ms: number;
}

const REASON_BY_STATUS: Record<number, StatusReason> = {
  400: 'BadRequest',
  404: 'NotFound',
  409: 'Conflict',
  410: 'Expired',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

export class Faults {
  private failures: PendingFailure[] = [];
  private latencies: Latency[] = [];

  /** The next `count` requests matching `verb` and `resource` answer `status` instead of being served. */
  failNext(spec: FailureSpec): void {
    const reason = spec.reason ?? REASON_BY_STATUS[spec.status] ?? 'Unknown';
    this.failures.push({
      match: { verb: spec.verb, resource: spec.resource },
      remaining: spec.count ?? 1,
      status: failureStatus(spec.status, reason, spec.message ?? `injected fault: ${reason}`),
    });
  }

  /** Delays every matching request by `ms` before it is served, until cleared. */
  addLatency(ms: number, match: RequestMatch = {}): void {
    this.latencies.push({ match, ms });
  }

  clear(): void {
    this.failures = [];
    this.latencies = [];
  }

  /** The injected failure this request gets, if any (consumes one). */
  takeFailure(verb: Verb, resource: string): StatusBody | undefined {
    const pending = this.failures.find((f) => matches(f.match, verb, resource));
    if (!pending) return undefined;
    if (--pending.remaining <= 0) this.failures = this.failures.filter((f) => f !== pending);
    return pending.status;
  }

  delayFor(verb: Verb, resource: string): number {
    return this.latencies.filter((l) => matches(l.match, verb, resource)).reduce((sum, l) => sum + l.ms, 0);
  }
}

function matches(match: RequestMatch, verb: Verb, resource: string): boolean {
  return (match.verb === undefined || match.verb === verb) && (match.resource === undefined || match.resource === resource);
}
