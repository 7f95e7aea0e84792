/**
 * A client-node informer that keeps going: client-node relists on 410 by itself but stops on any other watch
 * error, so this restarts it with backoff. `synced` resolves after the first complete list.
 */
import { makeInformer, type KubeConfig, type KubernetesListObject, type KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from 'pino';

export interface InformerHandlers<T> {
  /** Added or changed (including the synthetic adds of a relist). */
  upsert(object: T): void;
  remove(object: T): void;
}

export interface RunningInformer<T> {
  /** Resolves once the first list has been delivered. */
  readonly synced: Promise<void>;
  list(): readonly T[];
  stop(): Promise<void>;
}

export interface InformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** API path, e.g. `/api/v1/pods`. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  handlers: InformerHandlers<T>;
  log: Logger;
  restartDelayMs?: { base: number; max: number };
}

export function runInformer<T extends KubernetesObject>(options: InformerOptions<T>): RunningInformer<T> {
  const { base, max } = options.restartDelayMs ?? { base: 100, max: 5000 };
  let listed = false;
  const informer = makeInformer<T>(options.kubeConfig, options.path, async () => {
    const list = await options.list();
    listed = true;
    return list;
  });
  let stopped = false;
  let failures = 0;
  let timer: NodeJS.Timeout | undefined;
  let markSynced: () => void = () => undefined;
  const synced = new Promise<void>((resolve) => (markSynced = resolve));

  informer.on('add', (o) => options.handlers.upsert(o));
  informer.on('update', (o) => options.handlers.upsert(o));
  informer.on('delete', (o) => options.handlers.remove(o));
  informer.on('connect', () => {
    failures = 0;
  });
  informer.on('error', (error: unknown) => {
    if (stopped) return;
    const delay = Math.min(max, base * 2 ** failures++);
    options.log.warn({ err: error, path: options.path, retryInMs: delay }, 'watch failed; restarting informer');
    timer = setTimeout(() => void start(), delay);
  });

  // The start in flight: client-node opens the watch after its list returns even when stop() came meanwhile, and
  // that open watch would keep a stopping process alive, so stop() waits for it and stops the informer after.
  let starting: Promise<void> = Promise.resolve();
  function start(): Promise<void> {
    if (stopped) return starting;
    // start() resolves once the list has been handed to the handlers and the watch is open; a failed list or
    // watch arrives as an 'error' event instead, which schedules the next start.
    starting = informer.start().then(() => {
      if (listed) markSynced();
    });
    return starting;
  }
  void start();

  return {
    synced,
    list: () => informer.list(),
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await informer.stop();
      await starting.catch(() => undefined);
      await informer.stop();
    },
  };
}
