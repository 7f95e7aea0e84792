/**
 * Retrying Kubernetes API calls: back off on throttling, server errors and dropped connections; re-read and
 * retry on 409 Conflict. Shared by every daemon that writes to the API.
 */
import { ApiException } from '@kubernetes/client-node';

export interface BackoffOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  /** Stops waiting between attempts when aborted. */
  signal?: AbortSignal;
}

const DEFAULTS = { attempts: 6, baseMs: 50, maxMs: 2000 };

/** The HTTP status of a failed client-node call, or undefined when the request never got an answer. */
export function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** Worth trying again as is: throttled, a server-side failure, or no answer at all. */
export function isTransient(error: unknown): boolean {
  const status = statusOf(error);
  return status === undefined || status === 429 || status >= 500;
}

export const isConflict = (error: unknown): boolean => statusOf(error) === 409;
export const isNotFound = (error: unknown): boolean => statusOf(error) === 404;

/** Full-jitter exponential backoff: random in [0, min(max, base * 2^attempt)). */
function delayMs(attempt: number, options: Required<Omit<BackoffOptions, 'signal'>>): number {
  return Math.random() * Math.min(options.maxMs, options.baseMs * 2 ** attempt);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Runs `op` until it succeeds, fails with an error `retryable` rejects, or runs out of attempts (the last error
 * is thrown). By default only transient errors are retried.
 */
export async function withRetry<T>(op: (attempt: number) => Promise<T>, options: BackoffOptions & { retryable?: (error: unknown) => boolean } = {}): Promise<T> {
  const settings = { ...DEFAULTS, ...options };
  const retryable = options.retryable ?? isTransient;
  for (let attempt = 0; ; attempt++) {
    try {
      return await op(attempt);
    } catch (error) {
      if (attempt + 1 >= settings.attempts || !retryable(error) || options.signal?.aborted) throw error;
      await sleep(delayMs(attempt, settings), options.signal);
    }
  }
}

/**
 * Read-modify-write with optimistic concurrency: `read` the object, let `write` send a change carrying its
 * resourceVersion; on 409 read again and retry, on transient errors back off. A `cached` copy (an informer's)
 * saves the first read: if it is stale, the write's 409 sends the next attempt to the API server.
 */
export function readModifyWrite<O, R>(read: () => Promise<O>, write: (current: O) => Promise<R>, options: BackoffOptions & { cached?: O } = {}): Promise<R> {
  return withRetry(async (attempt) => write(attempt === 0 && options.cached !== undefined ? options.cached : await read()), {
    ...options,
    retryable: (error) => isConflict(error) || isTransient(error),
  });
}

/** Whether `work` resolves within `ms` (its rejection, if first, is thrown); the timer is cleared either way. */
export async function resolvesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  return Promise.race([work.then(() => true as const), expired]).finally(() => clearTimeout(timer));
}
