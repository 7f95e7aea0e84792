/**
 * The part of a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) the local driver honours: the profiles'
 * schedulerNames and the extenders (any number, HTTP or HTTPS with tlsConfig), with kube-scheduler's defaults. Local mode reads the same file a real
 * deployment gives kube-scheduler (config/scheduler-config.yaml), so the extenders are called exactly as they would be
 * in production; only their address is replaced by the one local mode listens on.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ajv, validationError } from '../api/index.js';
import { TesseraError } from '../errors.js';

export interface ManagedResource {
  name: string;
  ignoredByScheduler: boolean;
}

/** An extender's tlsConfig, as kube-scheduler's restclient.TLSClientConfig reads it (files already read). */
export interface ExtenderTls {
  insecure: boolean;
  serverName?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

export interface ExtenderSettings {
  urlPrefix: string;
  filterVerb: string;
  prioritizeVerb: string;
  bindVerb: string;
  weight: number;
  httpTimeoutMs: number;
  nodeCacheCapable: boolean;
  ignorable: boolean;
  managedResources: ManagedResource[];
  /** enableHTTPS or tlsConfig: how an https urlPrefix is verified (absent: against the system's roots). */
  tls?: ExtenderTls;
}

export interface SchedulerSettings {
  /** The profiles' schedulerNames (kube-scheduler's default: one profile, `default-scheduler`). */
  schedulerNames: string[];
  /** Called in this order for every profile, as kube-scheduler calls its extenders. */
  extenders: ExtenderSettings[];
}

/** kube-scheduler's defaults: profile `default-scheduler`, extender httpTimeout 5s. */
export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';
const DEFAULT_HTTP_TIMEOUT_MS = 5000;

const verb = { type: 'string', maxLength: 253 } as const;
const pemOrPath = { type: 'string', maxLength: 65_536 } as const;

const schema = {
  type: 'object',
  required: ['apiVersion', 'kind'],
  properties: {
    apiVersion: { const: 'kubescheduler.config.k8s.io/v1' },
    kind: { const: 'KubeSchedulerConfiguration' },
    profiles: { type: 'array', maxItems: 64, items: { type: 'object', properties: { schedulerName: { type: 'string', minLength: 1, maxLength: 253 } } } },
    extenders: {
      type: 'array',
      maxItems: 64,
      items: {
        type: 'object',
        required: ['urlPrefix'],
        properties: {
          urlPrefix: { type: 'string', pattern: '^https?://' },
          filterVerb: verb,
          prioritizeVerb: verb,
          bindVerb: verb,
          preemptVerb: verb,
          weight: { type: 'integer', minimum: 1 },
          enableHTTPS: { type: 'boolean' },
          tlsConfig: {
            type: 'object',
            additionalProperties: false,
            properties: {
              insecure: { type: 'boolean' },
              serverName: { type: 'string', maxLength: 253 },
              certFile: pemOrPath,
              keyFile: pemOrPath,
              caFile: pemOrPath,
              certData: pemOrPath,
              keyData: pemOrPath,
              caData: pemOrPath,
            },
          },
          httpTimeout: { type: 'string', maxLength: 64 },
          nodeCacheCapable: { type: 'boolean' },
          ignorable: { type: 'boolean' },
          managedResources: {
            type: 'array',
            items: {
              type: 'object',
              additionalProperties: false,
              required: ['name'],
              properties: { name: { type: 'string', minLength: 1, maxLength: 253 }, ignoredByScheduler: { type: 'boolean' } },
            },
          },
        },
      },
    },
  },
} as const;
const check = ajv.compile(schema);

interface RawTls {
  insecure?: boolean;
  serverName?: string;
  certFile?: string;
  keyFile?: string;
  caFile?: string;
  certData?: string;
  keyData?: string;
  caData?: string;
}

interface RawExtender {
  urlPrefix: string;
  filterVerb?: string;
  prioritizeVerb?: string;
  bindVerb?: string;
  weight?: number;
  enableHTTPS?: boolean;
  tlsConfig?: RawTls;
  httpTimeout?: string;
  nodeCacheCapable?: boolean;
  ignorable?: boolean;
  managedResources?: Array<{ name: string; ignoredByScheduler?: boolean }>;
}

/** Go's time units, in milliseconds (µ as U+00B5 and U+03BC, as time.ParseDuration takes both). */
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, μs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const GO_DURATION = /^[-+]?(?:0|(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+)$/;

/**
 * A Go duration (time.ParseDuration: `5s`, `1h2m0.5s`, `300ms`, `1.5us`, `0`), in milliseconds; anything else is
 * undefined.
 */
export function parseDurationMs(text: string): number | undefined {
  if (!GO_DURATION.test(text)) return undefined;
  const sign = text.startsWith('-') ? -1 : 1;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(amount) * UNIT_MS[unit!]!;
  return sign * total;
}

/** A file's text (kube-scheduler reads certFile, keyFile, caFile relative to its working directory). */
function readPem(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be read (${(cause as Error).message})`, { field, cause });
  }
}

function extenderSettings(raw: RawExtender, field: string): ExtenderSettings {
  if (raw.prioritizeVerb && raw.weight === undefined) {
    throw new TesseraError('INVALID_CONFIG', 'must be set (> 0) when prioritizeVerb is', { field: `${field}.weight` });
  }
  let httpTimeoutMs = DEFAULT_HTTP_TIMEOUT_MS;
  if (raw.httpTimeout !== undefined) {
    const parsed = parseDurationMs(raw.httpTimeout);
    if (parsed === undefined || parsed < 0)
      throw new TesseraError('INVALID_CONFIG', `"${raw.httpTimeout}" is not a Go duration (such as 5s, 1m30s, 500ms, 1h2m0.5s)`, { field: `${field}.httpTimeout` });
    // 0 is kube-scheduler's "no timeout"; fetch's signal needs a number, so it waits as long as a request may.
    httpTimeoutMs = parsed === 0 ? 2 ** 31 - 1 : parsed;
  }
  let tls: ExtenderTls | undefined;
  if (raw.enableHTTPS || raw.tlsConfig) {
    const t = raw.tlsConfig ?? {};
    const pem = (data: string | undefined, file: string | undefined, name: string): string | undefined =>
      data !== undefined ? Buffer.from(data, 'base64').toString('utf8') : file !== undefined ? readPem(file, `${field}.tlsConfig.${name}`) : undefined;
    const ca = pem(t.caData, t.caFile, 'caFile');
    const cert = pem(t.certData, t.certFile, 'certFile');
    const key = pem(t.keyData, t.keyFile, 'keyFile');
    if ((cert === undefined) !== (key === undefined)) throw new TesseraError('INVALID_CONFIG', 'a client certificate needs both cert and key', { field: `${field}.tlsConfig` });
    // kube-scheduler's makeTransport: enableHTTPS without a CA skips verification.
    tls = {
      insecure: (t.insecure ?? false) || (raw.enableHTTPS === true && ca === undefined),
      ...(t.serverName ? { serverName: t.serverName } : {}),
      ...(ca ? { ca } : {}),
      ...(cert ? { cert } : {}),
      ...(key ? { key } : {}),
    };
  }
  return {
    urlPrefix: raw.urlPrefix,
    filterVerb: raw.filterVerb ?? '',
    prioritizeVerb: raw.prioritizeVerb ?? '',
    bindVerb: raw.bindVerb ?? '',
    weight: raw.weight ?? 1,
    httpTimeoutMs,
    nodeCacheCapable: raw.nodeCacheCapable ?? false,
    ignorable: raw.ignorable ?? false,
    managedResources: (raw.managedResources ?? []).map((r) => ({ name: r.name, ignoredByScheduler: r.ignoredByScheduler ?? false })),
    ...(tls ? { tls } : {}),
  };
}

/** Validates a parsed KubeSchedulerConfiguration and applies kube-scheduler's defaults and checks. */
export function schedulerSettings(value: unknown, source: string): SchedulerSettings {
  if (!check(value)) throw validationError(check.errors, source, 'INVALID_CONFIG');
  const config = value as { profiles?: Array<{ schedulerName?: string }>; extenders?: RawExtender[] };
  const extenders = (config.extenders ?? []).map((raw, i) => extenderSettings(raw, `${source}.extenders.${i}`));
  // kube-scheduler's validation: one binder at most, and a managed resource named by one extender only.
  const binders = extenders.filter((e) => e.bindVerb !== '');
  if (binders.length > 1) throw new TesseraError('INVALID_CONFIG', `only one extender can implement bind, found ${binders.length}`, { field: `${source}.extenders` });
  const managed = extenders.flatMap((e) => e.managedResources.map((r) => r.name));
  const twice = managed.find((name, i) => managed.indexOf(name) !== i);
  if (twice) throw new TesseraError('INVALID_CONFIG', `duplicate extender managed resource name ${twice}`, { field: `${source}.extenders` });
  const names = (config.profiles ?? []).map((p) => p.schedulerName ?? DEFAULT_SCHEDULER_NAME);
  const schedulerNames = names.length ? names : [DEFAULT_SCHEDULER_NAME];
  const repeated = schedulerNames.find((name, i) => schedulerNames.indexOf(name) !== i);
  if (repeated) throw new TesseraError('INVALID_CONFIG', `duplicate profile with scheduler name "${repeated}"`, { field: `${source}.profiles` });
  return { schedulerNames, extenders };
}
/** Reads a KubeSchedulerConfiguration YAML file. */
export function loadSchedulerSettings(path: string): SchedulerSettings {
  let parsed: unknown;
  try {
    parsed = parseYaml(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be read as YAML (${(cause as Error).message})`, { field: path, cause });
  }
  return schedulerSettings(parsed, path);
}
