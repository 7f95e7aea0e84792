/**
 * The part of a KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) the local driver honours: the profile's
 * schedulerName and its one extender, with kube-scheduler's defaults. Local mode reads the same file a real
 * deployment gives kube-scheduler (config/scheduler-config.yaml), so the extender is called exactly as it would be
 * in production; only the extender's address is replaced by the one local mode listens on.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ajv, validationError } from '../api/validate.js';
import { TesseraError } from '../errors.js';

export interface ManagedResource {
  name: string;
  ignoredByScheduler: boolean;
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
}

export interface SchedulerSettings {
  schedulerName: string;
  extender: ExtenderSettings;
}

/** kube-scheduler's defaults: profile `default-scheduler`, extender httpTimeout 5s. */
export const DEFAULT_SCHEDULER_NAME = 'default-scheduler';
const DEFAULT_HTTP_TIMEOUT_MS = 5000;

const verb = { type: 'string', maxLength: 253 } as const;

const schema = {
  type: 'object',
  required: ['apiVersion', 'kind', 'extenders'],
  properties: {
    apiVersion: { const: 'kubescheduler.config.k8s.io/v1' },
    kind: { const: 'KubeSchedulerConfiguration' },
    profiles: { type: 'array', maxItems: 1, items: { type: 'object', properties: { schedulerName: { type: 'string', minLength: 1, maxLength: 253 } } } },
    extenders: {
      type: 'array',
      minItems: 1,
      maxItems: 1,
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
          enableHTTPS: { const: false },
          httpTimeout: { type: 'string', pattern: '^(\\d+(\\.\\d+)?(ms|s|m))+$' },
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

interface RawExtender {
  urlPrefix: string;
  filterVerb?: string;
  prioritizeVerb?: string;
  bindVerb?: string;
  weight?: number;
  httpTimeout?: string;
  nodeCacheCapable?: boolean;
  ignorable?: boolean;
  managedResources?: Array<{ name: string; ignoredByScheduler?: boolean }>;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** A Go duration as kube-scheduler configs write them (`5s`, `1m30s`, `500ms`), in milliseconds. */
export function parseDurationMs(text: string): number {
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m)/g)) total += Number(amount) * (UNIT_MS[unit ?? 's'] ?? 0);
  return total;
}

/** Validates a parsed KubeSchedulerConfiguration and applies kube-scheduler's defaults. */
export function schedulerSettings(value: unknown, source: string): SchedulerSettings {
  if (!check(value)) throw validationError(check.errors, source, 'INVALID_CONFIG');
  const config = value as { profiles?: Array<{ schedulerName?: string }>; extenders: RawExtender[] };
  const raw = config.extenders[0] as RawExtender;
  if (raw.prioritizeVerb && raw.weight === undefined) {
    throw new TesseraError('INVALID_CONFIG', 'must be set (> 0) when prioritizeVerb is', { field: `${source}.extenders.0.weight` });
  }
  return {
    schedulerName: config.profiles?.[0]?.schedulerName ?? DEFAULT_SCHEDULER_NAME,
    extender: {
      urlPrefix: raw.urlPrefix,
      filterVerb: raw.filterVerb ?? '',
      prioritizeVerb: raw.prioritizeVerb ?? '',
      bindVerb: raw.bindVerb ?? '',
      weight: raw.weight ?? 1,
      httpTimeoutMs: raw.httpTimeout ? parseDurationMs(raw.httpTimeout) : DEFAULT_HTTP_TIMEOUT_MS,
      nodeCacheCapable: raw.nodeCacheCapable ?? false,
      ignorable: raw.ignorable ?? false,
      managedResources: (raw.managedResources ?? []).map((r) => ({ name: r.name, ignoredByScheduler: r.ignoredByScheduler ?? false })),
    },
  };
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
