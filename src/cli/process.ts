/** What every long-running `tessera` command shares at the process edge: flags, files, the kubeconfig, the signing key, signals. */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import type { KeyObject } from 'node:crypto';
import { privateKeyFromPem, publicKeyFromConfigMapData, publicKeyFromPem, signingKeyFromSecretData } from '../api/index.js';
import { TesseraError } from '../errors.js';
import { resolvesWithin, withRetry } from '../kube/index.js';

/** Parses flags strictly; an unknown or malformed flag is an INVALID_INPUT error. */
export function parseFlags<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, strict: true, allowPositionals: false, options }).values;
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', (cause as Error).message, { cause });
  }
}

/** A port flag, 0-65535. */
export function portFlag(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new TesseraError('INVALID_INPUT', `must be a port number 0-65535, got '${value}'`, { field: flag });
  return Number(value);
}

/** The bytes of a file named by a flag; an unreadable file is an INVALID_CONFIG error naming the flag. */
export function readFlagFile(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be read (${(cause as Error).message})`, { field: flag, cause });
  }
}

/** The kubeconfig at `path`, or the default one (KUBECONFIG, ~/.kube/config, or in-cluster) when it is empty. */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (path) kubeConfig.loadFromFile(path);
    else kubeConfig.loadFromDefault();
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be loaded (${(cause as Error).message})`, { field: '--kubeconfig', cause });
  }
  if (!kubeConfig.getCurrentCluster()) throw new TesseraError('INVALID_CONFIG', 'names no current cluster', { field: '--kubeconfig' });
  return kubeConfig;
}

/**
 * The scheduler's Ed25519 private key that signs decisions (PEM): from a file (`--signing-key-file`) or a Secret
 * given as `namespace/name` (`--signing-key-secret`, entry `signing-key`). Only the scheduler loads it.
 */
export async function loadSigningKey(source: { file: string; secret: string }, kubeConfig: KubeConfig): Promise<KeyObject> {
  if (source.file !== '') return privateKeyFromPem(readFlagFile(source.file, '--signing-key-file'), '--signing-key-file');
  const [namespace = '', name = ''] = source.secret.split('/');
  const secret = await withRetry(() => kubeConfig.makeApiClient(CoreV1Api).readNamespacedSecret({ name, namespace }));
  return signingKeyFromSecretData(secret.data, source.secret);
}

/**
 * The scheduler's public key, which device plugins verify decisions with: from a file
 * (`--scheduler-public-key-file`) or a ConfigMap as `namespace/name` (`--scheduler-public-key-configmap`).
 */
export async function loadSchedulerPublicKey(source: { file: string; configMap: string }, kubeConfig: KubeConfig): Promise<KeyObject> {
  if (source.file !== '') return publicKeyFromPem(readFlagFile(source.file, '--scheduler-public-key-file'), '--scheduler-public-key-file');
  const [namespace = '', name = ''] = source.configMap.split('/');
  const configMap = await withRetry(() => kubeConfig.makeApiClient(CoreV1Api).readNamespacedConfigMap({ name, namespace }));
  return publicKeyFromConfigMapData(configMap.data, source.configMap);
}

/** How long a daemon's orderly stop may take after the signal (within Kubernetes' default 30 s grace period). */
export const STOP_GRACE_MS = 10_000;

/**
 * Waits for a daemon's stop at most `graceMs`; true when it finished. A stop can hang on a request it cannot cancel
 * (an API server that accepts connections and never answers): the daemon then says so, and `main` exits anyway.
 */
export async function stoppedWithinGrace(stopping: Promise<void>, log: { warn(details: object, message: string): void }, graceMs = STOP_GRACE_MS): Promise<boolean> {
  const finished = await resolvesWithin(stopping, graceMs);
  if (!finished) log.warn({ graceSeconds: graceMs / 1000 }, 'the stop did not finish within its grace period; exiting anyway (is the API server answering?)');
  return finished;
}

/** Resolves on the first SIGINT or SIGTERM (a second one ends the process at once, Node's default). */
export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const handler = (signal: NodeJS.Signals): void => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
      resolve(signal);
    };
    process.on('SIGINT', handler);
    process.on('SIGTERM', handler);
  });
}
