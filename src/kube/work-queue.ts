/**
 * A keyed work queue for controllers: changes mark keys dirty, and one pass at a time works through them (a burst
 * of marks settles into one pass). A key whose work throws is retried after a delay; a key may also ask to be woken
 * later (a schedule that changes with time). Keys for which `first` holds go before the others, one at a time, so
 * that their work may mark more keys for the same pass.
 */
export interface KeyedWorkQueueOptions<K> {
  work: (key: K) => Promise<void>;
  /** A key's work threw; it runs again in `retryInMs`. */
  failed: (key: K, error: unknown, retryInMs: number) => void;
  /** A pass failed outside any key's work; the next mark starts another. */
  passFailed: (error: unknown) => void;
  /** Awaited before each pass (an informer's initial list). */
  ready: Promise<unknown>;
  retryDelayMs: number;
  first?: (key: K) => boolean;
}

/** Timers beyond ~24 days overflow; a wake that far out is re-armed by any change before then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class KeyedWorkQueue<K> {
  private readonly dirty = new Set<K>();
  private readonly timers = new Map<K, NodeJS.Timeout>();
  private working: Promise<void> = Promise.resolve();
  private draining = false;
  private stopped = false;

  constructor(private readonly options: KeyedWorkQueueOptions<K>) {}

  /** Marks `key` for the next pass and starts one unless one is running (it picks the key up). */
  mark(key: K): void {
    this.dirty.add(key);
    this.schedule();
  }

  /** Marks `key` once `inMs` have passed, replacing an earlier wake; null cancels it. */
  wakeIn(key: K, inMs: number | null): void {
    clearTimeout(this.timers.get(key));
    this.timers.delete(key);
    if (inMs === null || this.stopped) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(key);
        this.mark(key);
      },
      Math.min(inMs + 1, MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.set(key, timer);
  }

  /** Resolves once nothing is marked and no pass runs. */
  async idle(): Promise<void> {
    await this.options.ready;
    while (this.draining || this.dirty.size > 0) {
      if (!this.draining) this.schedule();
      await this.working;
    }
  }

  /** No more passes or wakes; resolves when the running pass has ended. */
  stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    return this.working.catch(() => undefined);
  }

  private schedule(): void {
    if (this.stopped || this.draining) return;
    this.draining = true;
    this.working = this.working
      .then(() => this.drain())
      // A failed pass must not stop the next: the chain stays fulfilled, and the next change retries.
      .catch((error: unknown) => this.options.passFailed(error))
      .finally(() => (this.draining = false));
  }

  private async drain(): Promise<void> {
    await this.options.ready;
    // Let a burst of marks settle into one pass.
    await new Promise((resolve) => setImmediate(resolve));
    const first = this.options.first ?? (() => false);
    while (!this.stopped && this.dirty.size > 0) {
      for (const key of [...this.dirty].filter(first)) {
        this.dirty.delete(key);
        await this.run(key);
      }
      const keys = [...this.dirty];
      this.dirty.clear();
      for (const key of keys) await this.run(key);
    }
  }

  private async run(key: K): Promise<void> {
    try {
      await this.options.work(key);
    } catch (error) {
      this.options.failed(key, error, this.options.retryDelayMs);
      this.wakeIn(key, this.options.retryDelayMs);
    }
  }
}
