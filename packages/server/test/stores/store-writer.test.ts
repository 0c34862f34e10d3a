import { EarshotError, silentLogger } from '@earshot/protocol';
import { describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/stores/memory-store.js';
import type { Store } from '../../src/stores/store.js';
import { StoreWriter } from '../../src/stores/store-writer.js';

/** A memory store that can be taken down: then every call fails as an unreachable one does. */
function flakyStore(): Store & { down: boolean } {
  const inner = createMemoryStore();
  const flaky = { down: false } as Store & { down: boolean };
  for (const key of Object.keys(inner) as (keyof Store)[]) {
    const value = inner[key];
    (flaky as unknown as Record<string, unknown>)[key] =
      typeof value === 'function'
        ? (...args: unknown[]) =>
            flaky.down
              ? Promise.reject(new EarshotError('store_error', 'connection refused'))
              : (value as (...a: unknown[]) => Promise<unknown>).apply(inner, args)
        : value;
  }
  return flaky;
}

const record = (id: string) => ({
  id,
  status: 'active' as const,
  createdAt: '2026-01-01T00:00:00.000Z',
  metadata: {},
});
const segment = (seq: number) => ({
  segmentId: `s-${seq}`,
  seq,
  text: `final ${seq}`,
  start: seq,
  end: seq + 1,
  words: [],
  createdAt: '2026-01-01T00:00:00.000Z',
});
const append = (seq: number) => ({
  sessionId: 'a',
  what: 'appendSegment',
  run: (s: Store) => s.appendSegment('a', segment(seq)),
});

describe('the store writer', () => {
  it('commits a write before it resolves while the store answers', async () => {
    const store = flakyStore();
    const writer = new StoreWriter(store, silentLogger);
    await writer.write({
      sessionId: 'a',
      what: 'create',
      run: (s) => s.createSession(record('a')),
    });
    expect(await writer.write(append(0))).toBe('stored');
    expect(await store.getSegments('a')).toHaveLength(1);
    expect(writer.degraded).toBe(false);
  });

  it('holds writes in order through an outage and stores them when the store is back', async () => {
    const store = flakyStore();
    const writer = new StoreWriter(store, silentLogger, { retryMs: 10, maxRetryMs: 20 });
    await writer.write({
      sessionId: 'a',
      what: 'create',
      run: (s) => s.createSession(record('a')),
    });
    store.down = true;
    const outcomes = [];
    for (let seq = 0; seq < 5; seq++) outcomes.push(await writer.write(append(seq)));
    expect(outcomes).toEqual(['queued', 'queued', 'queued', 'queued', 'queued']);
    expect(writer.pending).toBe(5);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(writer.pending).toBe(5); // still down: nothing lost, nothing reordered

    store.down = false;
    expect(await writer.flush(5000)).toBe(0);
    expect((await store.getSegments('a')).map((s) => s.text)).toEqual([
      'final 0',
      'final 1',
      'final 2',
      'final 3',
      'final 4',
    ]);
    expect(writer.degraded).toBe(false);
    expect(await writer.write(append(5))).toBe('stored');
  });

  it('drops a write when the buffer is full, keeping the ones it holds', async () => {
    const store = flakyStore();
    const writer = new StoreWriter(store, silentLogger, { maxPendingWrites: 2, retryMs: 10 });
    await writer.write({
      sessionId: 'a',
      what: 'create',
      run: (s) => s.createSession(record('a')),
    });
    store.down = true;
    expect(await writer.write(append(0))).toBe('queued');
    expect(await writer.write(append(1))).toBe('queued');
    expect(await writer.write(append(2))).toBe('dropped');
    store.down = false;
    expect(await writer.flush(5000)).toBe(0);
    expect((await store.getSegments('a')).map((s) => s.seq)).toEqual([0, 1]);
  });

  it('passes on a refusal of a store that answers, instead of holding the write', async () => {
    const store = flakyStore();
    const writer = new StoreWriter(store, silentLogger);
    await expect(
      writer.write({
        sessionId: 'x',
        what: 'updateSession',
        run: (s) => s.updateSession('x', { status: 'ended' }),
      }),
    ).rejects.toMatchObject({ code: 'session_not_found' });
    expect(writer.degraded).toBe(false);
  });

  it('gives up a held write the store refuses once it is back, and reports it lost', async () => {
    const store = flakyStore();
    const writer = new StoreWriter(store, silentLogger, { retryMs: 10 });
    store.down = true;
    const lost: string[] = [];
    const refused = {
      sessionId: 'x',
      what: 'updateSession',
      run: (s: Store) => s.updateSession('x', { status: 'ended' as const }),
      onLost: (error: EarshotError) => lost.push(error.code),
    };
    expect(await writer.write(refused)).toBe('queued');
    expect(
      await writer.write({
        sessionId: 'b',
        what: 'create',
        run: (s) => s.createSession(record('b')),
      }),
    ).toBe('queued');
    store.down = false;
    expect(await writer.flush(5000)).toBe(0);
    expect(lost).toEqual(['store_error']);
    expect(await store.getSession('b')).toBeDefined(); // the write behind it was not blocked
  });

  it('reports held writes lost when closed before the store came back', async () => {
    const store = flakyStore();
    const writer = new StoreWriter(store, silentLogger, { retryMs: 10 });
    store.down = true;
    const lost: string[] = [];
    await writer.write({ ...append(0), onLost: (e) => lost.push(e.message) });
    expect(await writer.flush(30)).toBe(1);
    writer.close();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(lost).toHaveLength(1);
    expect(lost[0]).toContain('not stored');
  });
});
