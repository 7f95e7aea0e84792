/**
 * The extender's settings: one JSON schema with every default, fed from an optional YAML file (`--config`) and
 * then command-line flags (flags win). Anything wrong is an INVALID_CONFIG error naming the field or flag.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { ajv, validationError } from '../../api/index.js';
import { TesseraError } from '../../errors.js';
import { DEFAULT_POLICY } from '../policies/index.js';

export interface ExtenderConfig {
  /** Where kube-scheduler's calls are served: loopback by default (kube-scheduler runs beside us in the pod). */
  host: string;
  port: number;
  /**
   * CA bundle that signs kube-scheduler's client certificate (its extender config's tlsConfig): when set, the
   * extender port serves HTTPS (tlsCertFile/tlsKeyFile) and answers only clients with a certificate it signed.
   */
  clientCaFile: string;
  /** Where the HTTPS webhook listener (webhook, health, metrics only) is served. */
  webhookHost: string;
  /**
   * Users (as the API server's admission requests name them, e.g. `system:serviceaccount:ns:name`) that may change
   * scheduler-owned pod annotations: the extender's and the device plugins' service accounts.
   */
  trustedUsers: string[];
  /** kubeconfig file; empty means in-cluster (or $KUBECONFIG / ~/.kube/config when outside a cluster). */
  kubeconfig: string;
  /** HAMi device config (resource names, defaults, knownMigGeometries, nodeconfig). */
  deviceConfig: string;
  /** Scoring policy (src/scheduler/policies: hami, bestfit, binpack, spread, fgd, tessera, ...). */
  policy: string;
  /** Node and GPU packing when a pod names none (`hami.io/node-scheduler-policy`, `hami.io/gpu-scheduler-policy`). */
  nodePolicy: 'binpack' | 'spread';
  gpuPolicy: 'binpack' | 'spread';
  /** Written into GPU pods by the admission webhook; empty leaves schedulerName alone. */
  schedulerName: string;
  /** Signing key: a file, or a Secret as `namespace/name` (exactly one). */
  signingKeyFile: string;
  signingKeySecret: string;
  /** Serving certificate and key for the HTTPS listener the API server calls the webhook on (both or neither). */
  tlsCertFile: string;
  tlsKeyFile: string;
  /** Port of the HTTPS listener (same routes as the plain one, which kube-scheduler calls on loopback). */
  webhookPort: number;
  /** How long a granted pod may stay unconfirmed by the device plugin before its capacity is taken back. */
  reservationTtlSeconds: number;
  /** How long filter waits for the first sync before answering not-ready. */
  syncWaitSeconds: number;
  /**
   * How often the typical requests and MIG demand the policy keeps room for are relearned from the pods known
   * (extender/workload.ts); 0: never (tessera then packs HAMi-core GPUs by fullness and does not carve MIG GPUs).
   */
  workloadRefreshSeconds: number;
  /**
   * What filter answers for a pod that fits somewhere: `best`, the one node the policy chooses (as HAMi's filter
   * does; kube-scheduler then skips its scoring and prioritize, and binds there), or `all`, every fitting node, for
   * kube-scheduler to rank with its own scores plus prioritize's (weighted by the extender's `weight`).
   */
  filterAnswers: 'best' | 'all';
  leaderElection: {
    enabled: boolean;
    namespace: string;
    name: string;
    /** Empty: hostname plus a random suffix. */
    identity: string;
    leaseDurationSeconds: number;
    renewDeadlineSeconds: number;
    retryPeriodSeconds: number;
  };
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

export const DEFAULT_CONFIG: ExtenderConfig = {
  host: '127.0.0.1',
  port: 8888,
  clientCaFile: '',
  webhookHost: '0.0.0.0',
  trustedUsers: [],
  kubeconfig: '',
  deviceConfig: 'config/device-config.yaml',
  policy: DEFAULT_POLICY,
  nodePolicy: 'binpack',
  gpuPolicy: 'spread',
  schedulerName: '',
  signingKeyFile: '',
  signingKeySecret: '',
  tlsCertFile: '',
  tlsKeyFile: '',
  webhookPort: 8443,
  reservationTtlSeconds: 300,
  syncWaitSeconds: 3,
  workloadRefreshSeconds: 60,
  filterAnswers: 'best',
  leaderElection: {
    enabled: true,
    namespace: 'kube-system',
    name: 'tessera-scheduler-extender',
    identity: '',
    leaseDurationSeconds: 15,
    renewDeadlineSeconds: 10,
    retryPeriodSeconds: 2,
  },
  logLevel: 'info',
};

const positive = { type: 'integer', minimum: 1 } as const;
const text = { type: 'string', maxLength: 4096 } as const;

const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    host: { type: 'string', minLength: 1, maxLength: 255 },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    clientCaFile: text,
    webhookHost: { type: 'string', minLength: 1, maxLength: 255 },
    trustedUsers: { type: 'array', maxItems: 64, items: { type: 'string', minLength: 1, maxLength: 512 } },
    kubeconfig: text,
    deviceConfig: { type: 'string', minLength: 1, maxLength: 4096 },
    policy: { type: 'string', minLength: 1, maxLength: 64 },
    nodePolicy: { enum: ['binpack', 'spread'] },
    gpuPolicy: { enum: ['binpack', 'spread'] },
    schedulerName: { type: 'string', maxLength: 253 },
    signingKeyFile: text,
    signingKeySecret: { type: 'string', pattern: '^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$' },
    tlsCertFile: text,
    tlsKeyFile: text,
    webhookPort: { type: 'integer', minimum: 0, maximum: 65535 },
    reservationTtlSeconds: positive,
    syncWaitSeconds: { type: 'number', minimum: 0, maximum: 60 },
    workloadRefreshSeconds: { type: 'integer', minimum: 0, maximum: 86_400 },
    filterAnswers: { enum: ['best', 'all'] },
    leaderElection: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        namespace: { type: 'string', minLength: 1, maxLength: 63 },
        name: { type: 'string', minLength: 1, maxLength: 253 },
        identity: { type: 'string', maxLength: 253 },
        leaseDurationSeconds: positive,
        renewDeadlineSeconds: positive,
        retryPeriodSeconds: positive,
      },
    },
    logLevel: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] },
  },
} as const;
const checkConfig = ajv.compile(configSchema);

/** Flag name -> config path and how to read the flag's text. */
const FLAGS: Record<string, { path: string[]; kind: 'string' | 'integer' | 'number' | 'boolean' | 'list' }> = {
  host: { path: ['host'], kind: 'string' },
  port: { path: ['port'], kind: 'integer' },
  'client-ca-file': { path: ['clientCaFile'], kind: 'string' },
  'webhook-host': { path: ['webhookHost'], kind: 'string' },
  'trusted-users': { path: ['trustedUsers'], kind: 'list' },
  kubeconfig: { path: ['kubeconfig'], kind: 'string' },
  'device-config': { path: ['deviceConfig'], kind: 'string' },
  policy: { path: ['policy'], kind: 'string' },
  'node-policy': { path: ['nodePolicy'], kind: 'string' },
  'gpu-policy': { path: ['gpuPolicy'], kind: 'string' },
  'scheduler-name': { path: ['schedulerName'], kind: 'string' },
  'signing-key-file': { path: ['signingKeyFile'], kind: 'string' },
  'signing-key-secret': { path: ['signingKeySecret'], kind: 'string' },
  'tls-cert-file': { path: ['tlsCertFile'], kind: 'string' },
  'tls-key-file': { path: ['tlsKeyFile'], kind: 'string' },
  'webhook-port': { path: ['webhookPort'], kind: 'integer' },
  'reservation-ttl': { path: ['reservationTtlSeconds'], kind: 'integer' },
  'sync-wait': { path: ['syncWaitSeconds'], kind: 'number' },
  'workload-refresh': { path: ['workloadRefreshSeconds'], kind: 'integer' },
  'filter-answers': { path: ['filterAnswers'], kind: 'string' },
  'leader-elect': { path: ['leaderElection', 'enabled'], kind: 'boolean' },
  'lease-namespace': { path: ['leaderElection', 'namespace'], kind: 'string' },
  'lease-name': { path: ['leaderElection', 'name'], kind: 'string' },
  identity: { path: ['leaderElection', 'identity'], kind: 'string' },
  'lease-duration': { path: ['leaderElection', 'leaseDurationSeconds'], kind: 'integer' },
  'renew-deadline': { path: ['leaderElection', 'renewDeadlineSeconds'], kind: 'integer' },
  'retry-period': { path: ['leaderElection', 'retryPeriodSeconds'], kind: 'integer' },
  'log-level': { path: ['logLevel'], kind: 'string' },
};

export const FLAG_NAMES = Object.keys(FLAGS);

function flagValue(flag: string, raw: string, kind: 'string' | 'integer' | 'number' | 'boolean' | 'list'): unknown {
  if (kind === 'string') return raw;
  if (kind === 'list')
    return raw
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== '');
  if (kind === 'boolean') {
    if (raw === 'true' || raw === '') return true;
    if (raw === 'false') return false;
    throw new TesseraError('INVALID_CONFIG', `must be true or false, got '${raw}'`, { field: `--${flag}` });
  }
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || (kind === 'integer' && !Number.isInteger(value))) {
    throw new TesseraError('INVALID_CONFIG', `must be ${kind === 'integer' ? 'a whole number' : 'a number'}, got '${raw}'`, { field: `--${flag}` });
  }
  return value;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    node = (typeof next === 'object' && next !== null ? next : (node[key] = {})) as Record<string, unknown>;
  }
  node[path[path.length - 1] as string] = value;
}

function readConfigFile(path: string): Record<string, unknown> {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be read (${(cause as Error).message})`, { field: '--config', cause });
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(content);
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `is not valid YAML (${(cause as Error).message})`, { field: path, cause });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw new TesseraError('INVALID_CONFIG', 'must be a YAML mapping', { field: path });
  return parsed as Record<string, unknown>;
}

/** Validates a partial config (file contents merged with flags) and fills in the defaults. */
export function resolveConfig(partial: Record<string, unknown>, source: string): ExtenderConfig {
  if (!checkConfig(partial)) throw validationError(checkConfig.errors, source, 'INVALID_CONFIG');
  const given = partial as Partial<ExtenderConfig>;
  const config: ExtenderConfig = { ...DEFAULT_CONFIG, ...given, leaderElection: { ...DEFAULT_CONFIG.leaderElection, ...given.leaderElection } };
  if (config.signingKeyFile !== '' && config.signingKeySecret !== '') {
    throw new TesseraError('INVALID_CONFIG', 'give signingKeyFile or signingKeySecret, not both', { field: `${source}.signingKeySecret` });
  }
  if (config.signingKeyFile === '' && config.signingKeySecret === '') {
    throw new TesseraError('INVALID_CONFIG', 'a signing key is required (--signing-key-file or --signing-key-secret namespace/name)', { field: `${source}.signingKeyFile` });
  }
  if ((config.tlsCertFile === '') !== (config.tlsKeyFile === '')) {
    throw new TesseraError('INVALID_CONFIG', 'give both tlsCertFile and tlsKeyFile, or neither', { field: `${source}.${config.tlsCertFile === '' ? 'tlsCertFile' : 'tlsKeyFile'}` });
  }
  if (config.clientCaFile !== '' && config.tlsCertFile === '') {
    throw new TesseraError('INVALID_CONFIG', 'client certificates are checked over HTTPS: give tlsCertFile and tlsKeyFile too', { field: `${source}.clientCaFile` });
  }
  const le = config.leaderElection;
  if (!(le.retryPeriodSeconds < le.renewDeadlineSeconds && le.renewDeadlineSeconds < le.leaseDurationSeconds)) {
    throw new TesseraError('INVALID_CONFIG', 'must satisfy retryPeriodSeconds < renewDeadlineSeconds < leaseDurationSeconds', { field: `${source}.leaderElection` });
  }
  return config;
}

/** Parses `tessera scheduler` arguments: `--config file` first, then every other flag on top. */
export function configFromArgs(argv: string[]): ExtenderConfig {
  const options = Object.fromEntries([...FLAG_NAMES, 'config'].map((name) => [name, { type: 'string' as const }]));
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as { values: Record<string, string | undefined> });
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', (cause as Error).message, { field: 'flags', cause });
  }
  const partial = values.config ? readConfigFile(values.config) : {};
  for (const [flag, spec] of Object.entries(FLAGS)) {
    const raw = values[flag];
    if (raw !== undefined) setPath(partial, spec.path, flagValue(flag, raw, spec.kind));
  }
  return resolveConfig(partial, values.config ?? 'flags');
}
