/**
 * Signing keys kept on disk: created once (mode 0600, written to a temporary file and renamed, so a crash never
 * leaves half a key), then only ever read. A key that signed saved decisions must never change behind them: a
 * file that exists but cannot be read or parsed is an error, never a reason to make a new key.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { TesseraError } from '../errors.js';
import { generateSigningKey, privateKeyFromPem, privateKeyPem } from './signing.js';

/** The private key in `path`, created there when the file does not exist. `field` names the flag in errors. */
export function loadOrCreateKeyFile(path: string, field: string): { key: KeyObject; created: boolean } {
  if (existsSync(path)) {
    let pem: Buffer;
    try {
      pem = readFileSync(path);
      // Group- or world-readable keys are tightened rather than refused: the file is ours.
      if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
    } catch (cause) {
      throw new TesseraError('INVALID_CONFIG', `cannot be read (${(cause as Error).message})`, { field, cause });
    }
    return { key: privateKeyFromPem(pem, field), created: false };
  }
  const key = generateSigningKey();
  try {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    const temporary = `${path}.${process.pid}.tmp`;
    writeFileSync(temporary, privateKeyPem(key), { mode: 0o600, flag: 'wx' });
    renameSync(temporary, path);
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `cannot be written (${(cause as Error).message})`, { field, cause });
  }
  return { key, created: true };
}
