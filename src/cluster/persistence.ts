/**
 * The embedded cluster's state on disk: a snapshot file and, beside it, an append-only journal (`<file>.journal`)
 * of every write since. A write is acknowledged only after its journal record is written and fsynced; writes that
 * arrive while one fsync runs share the next one (group commit). The journal is folded into a new snapshot at load,
 * when it outgrows the snapshot, and on stop. A snapshot is replaced atomically (temporary file, fsync, rename), and
 * a record torn by a crash can only be the journal's last, which was never acknowledged, so loading drops it.
 */
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { objectJson, type KubeObject } from './objects.js';
import type { Commit, StoreSnapshot } from './store.js';
import { typeKey } from './resources.js';
import { KubeStatusError } from './status.js';
import { TesseraError } from '../errors.js';

const FORMAT = 'tessera-embedded-cluster/v1';

/** The journal is folded into the snapshot once it is this large and larger than twice the last snapshot. */
const DEFAULT_COMPACT_BYTES = 16 * 1024 * 1024;

export const journalPath = (path: string): string => `${path}.journal`;

async function saveSnapshot(path: string, snapshot: StoreSnapshot): Promise<number> {
  const text = JSON.stringify({ format: FORMAT, ...snapshot });
  await writeFileAtomic(path, text);
  return text.length;
}

/** Writes `text` to `path` so that readers see the old content or the new, never a part, even after a crash. */
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
  await syncDirectory(dirname(path));
}

/** The rename itself is durable only once the directory is. */
async function syncDirectory(path: string): Promise<void> {
  const directory = await open(path, 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}

/** The saved state, or undefined when there is no file yet. A damaged file is an error naming it, never ignored. */
async function loadSnapshot(path: string): Promise<StoreSnapshot | undefined> {
  const text = await readIfPresent(path);
  if (text === undefined) return undefined;
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

/** One journal line: the object a write stored, or the key (`namespace/name` or `name`) of the object it removed. */
interface JournalRecord {
  rv: number;
  type: string;
  object?: KubeObject;
  removed?: string;
}

const objectKey = (object: KubeObject): string => (object.metadata.namespace === undefined ? (object.metadata.name ?? '') : `${object.metadata.namespace}/${object.metadata.name ?? ''}`);

/** The journal line for one commit; the object's JSON is the one its HTTP reply and watch events reuse. */
export function journalLine(commit: Commit): string {
  const head = `{"rv":${commit.rv},"type":${JSON.stringify(typeKey(commit.type))}`;
  return commit.deleted ? `${head},"removed":${JSON.stringify(objectKey(commit.object))}}\n` : `${head},"object":${objectJson(commit.object)}}\n`;
}

/**
 * The snapshot with the journal's records after it applied. Only the last line may be torn (a crash in the middle
 * of an append that was never acknowledged); it is dropped with a warning. Any other damage is an error.
 */
export async function loadState(path: string, log: Logger): Promise<StoreSnapshot | undefined> {
  const snapshot = await loadSnapshot(path);
  const journal = await readIfPresent(journalPath(path));
  if (journal === undefined || journal === '') return snapshot;
  const lines = journal.split('\n');
  // A complete journal ends with a newline, so its last piece is empty; anything else there is a torn record.
  const torn = lines.pop();
  if (torn) log.warn({ path: journalPath(path), bytes: torn.length }, 'dropping the torn last journal record (a write interrupted before it was acknowledged)');
  const tables = new Map<string, Map<string, KubeObject>>();
  for (const [type, items] of Object.entries(snapshot?.objects ?? {})) tables.set(type, new Map(items.map((o) => [objectKey(o), o])));
  let rv = snapshot?.resourceVersion ?? 0;
  lines.forEach((line, index) => {
    const record = parseRecord(line, `${journalPath(path)} line ${index + 1}`);
    // Records the snapshot already holds (written while it was being taken) are skipped.
    if (record.rv <= rv) return;
    rv = record.rv;
    const table = tables.get(record.type) ?? new Map<string, KubeObject>();
    tables.set(record.type, table);
    if (record.object) table.set(objectKey(record.object), record.object);
    else table.delete(record.removed!);
  });
  return { resourceVersion: rv, objects: Object.fromEntries([...tables].map(([type, table]) => [type, [...table.values()]])) };
}

function parseRecord(line: string, where: string): JournalRecord {
  let record: Partial<JournalRecord>;
  try {
    record = JSON.parse(line) as Partial<JournalRecord>;
  } catch (cause) {
    throw new TesseraError('INVALID_CONFIG', `${where} is not valid JSON: the journal is damaged`, { field: 'state', cause });
  }
  const valid =
    typeof record.rv === 'number' && typeof record.type === 'string' && (typeof record.removed === 'string' || typeof (record.object as KubeObject | undefined)?.metadata?.name === 'string');
  if (!valid) throw new TesseraError('INVALID_CONFIG', `${where} is not a journal record (rv, type, and object or removed)`, { field: 'state' });
  return record as JournalRecord;
}

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export interface JournalOptions {
  /** The state file; the journal is `<path>.journal`. */
  path: string;
  /** The store's state now, taken synchronously: what a compaction writes. */
  snapshot: () => StoreSnapshot;
  log: Logger;
  /** Journal size that triggers a compaction (default 16 MiB, or twice the last snapshot when that is larger). */
  compactBytes?: number;
}

/**
 * The open journal. `append` queues a record (synchronously, in commit order); `durable` resolves once every record
 * queued so far is on disk. One writer loop runs at a time, so records and compactions never interleave.
 */
export class Journal {
  private pending: string[] = [];
  private appended = 0;
  private synced = 0;
  private waiters: Array<{ target: number; resolve: () => void; reject: (error: Error) => void }> = [];
  private running: Promise<void> | undefined;
  private failure: Error | undefined;
  private journalBytes = 0;
  private snapshotBytes: number;
  private closed = false;

  private constructor(
    private readonly file: FileHandle,
    private readonly options: JournalOptions,
    snapshotBytes: number,
  ) {
    this.snapshotBytes = snapshotBytes;
  }

  /** Folds what the journal holds into a fresh snapshot of the store (already loaded) and opens an empty journal. */
  static async open(options: JournalOptions): Promise<Journal> {
    const snapshotBytes = await saveSnapshot(options.path, options.snapshot());
    // Append mode, so that writes after a compaction's truncate start again at offset 0.
    const file = await open(journalPath(options.path), 'a');
    await file.truncate(0);
    await file.sync();
    return new Journal(file, options, snapshotBytes);
  }

  append(record: string): void {
    if (this.closed) return;
    this.pending.push(record);
    this.appended++;
  }

  /** Resolves when every record appended so far is fsynced; rejects once the journal cannot be written. */
  durable(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.synced >= this.appended) return Promise.resolve();
    const target = this.appended;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ target, resolve, reject }));
    this.running ??= this.writeLoop();
    return done;
  }

  /** Writes what is queued, folds the journal into the snapshot, and removes the journal. */
  async close(): Promise<void> {
    await this.durable().catch(() => undefined);
    await this.running;
    this.closed = true;
    try {
      await saveSnapshot(this.options.path, this.options.snapshot());
      await rm(journalPath(this.options.path), { force: true });
    } finally {
      await this.file.close();
    }
  }

  private async writeLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.join('');
        const target = this.appended;
        this.pending = [];
        await this.file.write(batch);
        // fdatasync: the data and the file's new length, not its timestamps.
        await this.file.datasync();
        this.synced = target;
        this.journalBytes += batch.length;
        this.release(target);
        if (this.journalBytes > Math.max(this.options.compactBytes ?? DEFAULT_COMPACT_BYTES, 2 * this.snapshotBytes)) await this.compact();
      }
    } catch (error) {
      this.failure = new KubeStatusError(503, 'ServiceUnavailable', `the state journal ${journalPath(this.options.path)} cannot be written: ${(error as Error).message}`);
      this.options.log.error({ err: error, path: journalPath(this.options.path) }, 'writing the state journal failed; writes are no longer acknowledged');
      for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure);
    } finally {
      this.running = undefined;
    }
  }

  /**
   * The snapshot holds every record written so far (and perhaps some still queued, which replay skips by
   * resourceVersion), so the journal can start again empty once the snapshot is in place.
   */
  private async compact(): Promise<void> {
    const started = performance.now();
    this.snapshotBytes = await saveSnapshot(this.options.path, this.options.snapshot());
    await this.file.truncate(0);
    await this.file.sync();
    this.options.log.debug({ journalBytes: this.journalBytes, snapshotBytes: this.snapshotBytes, ms: Math.round(performance.now() - started) }, 'state journal compacted');
    this.journalBytes = 0;
  }

  private release(target: number): void {
    const ready = this.waiters.filter((w) => w.target <= target);
    this.waiters = this.waiters.filter((w) => w.target > target);
    for (const waiter of ready) waiter.resolve();
  }
}
