import { describe, expect, it } from 'vitest';
import { KeyedWorkQueue } from '../../src/kube/index.js';

function queue(work: (key: string) => Promise<void> | void, retryDelayMs = 5) {
  const failures: string[] = [];
  const q: KeyedWorkQueue<string> = new KeyedWorkQueue<string>({
    work: async (key) => work(key),
    failed: (key) => failures.push(key),
    passFailed: (error) => {
      throw error;
    },
    ready: Promise.resolve(),
    retryDelayMs,
    first: (key) => key === '*',
  });
  return { q, failures };
}

describe('KeyedWorkQueue', () => {
  it('settles a burst of marks into one pass, each key once', async () => {
    const done: string[] = [];
    const { q } = queue((key) => void done.push(key));
    for (const key of ['a', 'b', 'a', 'c', 'b']) q.mark(key);
    await q.idle();
    expect(done).toEqual(['a', 'b', 'c']);
  });

  it('runs first keys before the others, and what they mark in the same pass', async () => {
    const done: string[] = [];
    const { q } = queue((key) => {
      done.push(key);
      if (key === '*') for (const k of ['x', 'y']) q.mark(k);
    });
    q.mark('a');
    q.mark('*');
    await q.idle();
    expect(done).toEqual(['*', 'a', 'x', 'y']);
  });

  it('retries a key whose work threw, after the delay', async () => {
    let attempts = 0;
    const { q, failures } = queue(() => {
      if (++attempts < 3) throw new Error('not yet');
    });
    q.mark('a');
    await q.idle();
    await new Promise((resolve) => setTimeout(resolve, 40));
    await q.idle();
    expect(attempts).toBe(3);
    expect(failures).toEqual(['a', 'a']);
  });

  it('wakes a key later, a new wake replacing the old, and none after stop', async () => {
    const done: string[] = [];
    const { q } = queue((key) => void done.push(key));
    q.wakeIn('a', 1000);
    q.wakeIn('a', 5);
    q.wakeIn('b', 5);
    q.wakeIn('b', null);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await q.idle();
    expect(done).toEqual(['a']);
    q.wakeIn('a', 5);
    await q.stop();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toEqual(['a']);
  });
});
