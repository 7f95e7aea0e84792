import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildDashboardServer, UPDATE_INTERVAL_MS } from '../../src/localmode/dashboard/server.js';
import type { DashboardView } from '../../src/localmode/dashboard/view.js';

/** A view whose headline counts how often it was built, so each event can be told apart. */
function countingSource() {
  let builds = 0;
  const listeners = new Set<() => void>();
  const view = (): DashboardView => ({
    headline: { nodes: ++builds, gpus: 0, placedPods: 0, pendingPods: 0, allocationRatio: 0, fragmentation: 0, decisionsPerSecond: 0, p99DecisionMs: null },
    nodes: [],
    pending: [],
    problems: [],
  });
  return {
    source: { view, subscribe: (listener: () => void) => (listeners.add(listener), () => listeners.delete(listener)) },
    change: () => listeners.forEach((l) => l()),
    listeners,
  };
}

/** Reads server-sent events from a streaming body, one `data:` payload at a time. */
async function* events(body: ReadableStream<Uint8Array>): AsyncGenerator<DashboardView> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const data = frame.split('\n').find((line) => line.startsWith('data: '));
      if (frame.startsWith('event: snapshot') && data) yield JSON.parse(data.slice(6)) as DashboardView;
    }
  }
}

describe('dashboard server', () => {
  it('serves the page, its assets and the snapshot', async () => {
    const { source } = countingSource();
    const app = await buildDashboardServer(source, pino({ level: 'silent' }));
    try {
      const page = await app.inject({ url: '/' });
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      expect(page.body).toContain('<script type="module" src="/static/app.js">');
      expect((await app.inject({ url: '/static/app.js' })).headers['content-type']).toMatch(/^text\/javascript/);
      expect((await app.inject({ url: '/static/style.css' })).statusCode).toBe(200);
      expect((await app.inject({ url: '/static/../server.ts' })).statusCode).toBe(404);
      expect(JSON.parse((await app.inject({ url: '/api/snapshot' })).body)).toMatchObject({ headline: { nodes: 1 } });
    } finally {
      await app.close();
    }
  });

  it('streams a snapshot at once, coalesces a burst of changes into one event, and closes its streams on stop', async () => {
    const { source, change, listeners } = countingSource();
    const app = await buildDashboardServer(source, pino({ level: 'silent' }));
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const response = await fetch(`${url}/api/events`);
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const stream = events(response.body as ReadableStream<Uint8Array>);
    expect((await stream.next()).value?.headline.nodes).toBe(1);
    const started = performance.now();
    for (let i = 0; i < 20; i++) change();
    const next = await stream.next();
    // Twenty changes, one event: the view was built once more, no earlier than the coalescing interval.
    expect(next.value?.headline.nodes).toBe(2);
    expect(performance.now() - started).toBeGreaterThanOrEqual(UPDATE_INTERVAL_MS - 5);
    await app.close();
    expect((await stream.next()).done).toBe(true);
    expect(listeners.size).toBe(0);
  });
});
