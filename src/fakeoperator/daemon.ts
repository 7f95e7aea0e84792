/** What the fake operator's daemons share at the process edge: flags, the kubeconfig, and waiting for a signal. */
import { KubeConfig } from '@kubernetes/client-node';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { TesseraError } from '../errors.js';

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

/** The kubeconfig at `path`, or the default one (KUBECONFIG, ~/.kube/config, or in-cluster). */
export function loadKubeConfig(path: string | undefined): KubeConfig {
  const kubeConfig = new KubeConfig();
  try {
    if (path) kubeConfig.loadFromFile(path);
    else kubeConfig.loadFromDefault();
  } catch (cause) {
    throw new TesseraError('INVALID_INPUT', `cannot load the kubeconfig: ${(cause as Error).message}`, { field: '--kubeconfig', cause });
  }
  return kubeConfig;
}

export function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
}
