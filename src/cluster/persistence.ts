/**
 * Saving and loading the store for the local mode. Writes are atomic: the state goes to a temporary file in the
 * same directory, is flushed, and is renamed over the old one, so a crash leaves either the old or the new state.
 */
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { StoreSnapshot } from './store.js';
import { TesseraError } from '../errors.js';

const FORMAT = 'tessera-embedded-cluster/v1';

export async function saveSnapshot(path: string, snapshot: StoreSnapshot): Promise<void> {
  await writeFileAtomic(path, JSON.stringify({ format: FORMAT, ...snapshot }));
}

/** Writes `text` to `path` so that readers see the old content or the new, never a part. */
export async function writeFileAtomic(path: string, text: string, mode = 0o644): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, 'w', mode);
  try {
    await file.writeFile(text);
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** The saved state, or undefined when there is no file yet. A damaged file is an error naming it, never ignored. */
export async function loadSnapshot(path: string): Promise<StoreSnapshot | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `${path} is not valid JSON`, { field: 'state', cause });
  }
  const state = parsed as { format?: unknown; resourceVersion?: unknown; objects?: unknown };
  if (state.format !== FORMAT || typeof state.resourceVersion !== 'number' || state.objects === null || typeof state.objects !== 'object') {
    throw new TesseraError('INVALID_CONFIG', `${path} is not an embedded cluster state file (${FORMAT})`, { field: 'state' });
  }
  for (const [type, items] of Object.entries(state.objects)) {
    const named = Array.isArray(items) && items.every((item) => typeof (item as { metadata?: { name?: unknown } } | null)?.metadata?.name === 'string');
    if (!named) throw new TesseraError('INVALID_CONFIG', `${path}: every stored ${type} object needs metadata.name`, { field: `objects.${type}` });
  }
  return { resourceVersion: state.resourceVersion, objects: state.objects as StoreSnapshot['objects'] };
}
