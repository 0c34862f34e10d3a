import type { Logger } from '@earshot/protocol';
import { countResources, resourcesAddedSince } from '@earshot/testing';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { LiveSession } from '../control/session-control.js';
import { createMemoryStore } from './memory-store.js';
import { type RetentionOptions, RetentionSweeper } from './retention-sweeper.js';
import type { SessionRecord, Store } from './store.js';

const DAY = 24 * 60 * 60 * 1000;
const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

/** A logger that keeps what it is told. */
function recordingLogger() {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at =
    (level: string) =>
    (obj: Record<string, unknown>, msg?: string): void => {
      lines.push({ level, obj, msg });
    };
  const logger: Logger = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { logger, lines };
}

/** Which sessions a test says are live, as the server's control would. */
function liveControl(ids: string[] = []) {
  return {
    ids,
    failing: false,
    async listLive(): Promise<LiveSession[]> {
      if (this.failing) throw new Error('redis is down');
      return this.ids.map((sessionId) => ({ sessionId }) as LiveSession);
    },
  };
}

const ended = (id: string, endedAt: string): SessionRecord => ({
  id,
  status: 'ended',
  createdAt: endedAt,
  endedAt,
  metadata: {},
});

async function storeWith(...records: SessionRecord[]): Promise<Store> {
  const store = createMemoryStore();
  for (const record of records) await store.createSession(record);
  return store;
}

const ids = async (store: Store) =>
  (await store.listSessions({ limit: 1000 })).sessions.map((s) => s.id).sort();

describe('the retention sweeper', () => {
  let sweeper: RetentionSweeper | undefined;
  beforeEach(() => {
    vi.useFakeTimers({ now: NOW });
  });
  afterEach(async () => {
    await sweeper?.close();
    sweeper = undefined;
    vi.useRealTimers();
  });

  const start = (store: Store, options: RetentionOptions, control = liveControl()) => {
    const { logger, lines } = recordingLogger();
    sweeper = new RetentionSweeper(options);
    sweeper.start({ store, control, logger });
    return lines;
  };

  it('deletes sessions older than the maximum age at start and every interval after, logging their ids', async () => {
    const store = await storeWith(
      ended('old', ago(31 * DAY)),
      ended('soon-old', ago(30 * DAY - 30 * 60 * 1000)),
      ended('recent', ago(DAY)),
    );
    const lines = start(store, { maxAgeDays: 30, sweepIntervalSeconds: 3600 });
    await vi.advanceTimersByTimeAsync(0);
    expect(await ids(store)).toEqual(['recent', 'soon-old']);
    expect(lines).toEqual([
      {
        level: 'info',
        obj: { sessionIds: ['old'], count: 1, before: ago(30 * DAY) },
        msg: expect.stringMatching(/retention: deleted/),
      },
    ]);
    await vi.advanceTimersByTimeAsync(3600 * 1000);
    expect(await ids(store)).toEqual(['recent']);
  });

  it('never deletes a live session, even one that started long ago and never ended', async () => {
    const store = await storeWith(
      { id: 'live', status: 'active', createdAt: ago(40 * DAY), metadata: {} },
      { id: 'orphan', status: 'active', createdAt: ago(40 * DAY), metadata: {} },
    );
    start(store, { maxAgeSeconds: 60 }, liveControl(['live']));
    await vi.advanceTimersByTimeAsync(0);
    expect(await ids(store)).toEqual(['live']);
  });

  it('skips a sweep when it cannot tell which sessions are live, and sweeps again next time', async () => {
    const store = await storeWith({
      id: 'never-ended',
      status: 'active',
      createdAt: ago(40 * DAY),
      metadata: {},
    });
    const control = liveControl();
    control.failing = true;
    const lines = start(store, { maxAgeDays: 30, sweepIntervalSeconds: 60 }, control);
    await vi.advanceTimersByTimeAsync(0);
    expect(await ids(store)).toEqual(['never-ended']);
    expect(lines).toMatchObject([{ level: 'warn', msg: expect.stringMatching(/skipped/) }]);
    control.failing = false;
    await vi.advanceTimersByTimeAsync(60 * 1000);
    expect(await ids(store)).toEqual([]);
  });

  it('deletes in batches until nothing old is left', async () => {
    const old = Array.from({ length: 1201 }, (_, i) =>
      ended(`s-${String(i).padStart(4, '0')}`, ago(40 * DAY)),
    );
    const store = await storeWith(...old, ended('recent', ago(DAY)));
    const lines = start(store, { maxAgeDays: 30 });
    await vi.advanceTimersByTimeAsync(0);
    expect(await ids(store)).toEqual(['recent']);
    expect(lines.map((line) => line.obj.count)).toEqual([500, 500, 201]);
  });

  it('never overlaps: a sweep asked for while one runs joins it, and the timer waits for it', async () => {
    const store = await storeWith(ended('old', ago(40 * DAY)));
    let calls = 0;
    let release: () => void = () => {};
    const slow: Store = {
      ...store,
      async deleteSessionsBefore(before, options) {
        calls++;
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        return store.deleteSessionsBefore(before, options);
      },
    };
    start(slow, { maxAgeDays: 30, sweepIntervalSeconds: 60 });
    await vi.advanceTimersByTimeAsync(0);
    expect(calls).toBe(1);
    const joined = sweeper!.sweep();
    await vi.advanceTimersByTimeAsync(10 * 60 * 1000);
    expect(calls).toBe(1);
    release();
    expect(await joined).toEqual(['old']);
    // The next sweep comes one interval after this one finished, not before.
    await vi.advanceTimersByTimeAsync(59 * 1000);
    expect(calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(calls).toBe(2);
    release();
  });

  it('logs a failed sweep and tries again at the next interval', async () => {
    const store = await storeWith(ended('old', ago(40 * DAY)));
    let fail = true;
    const flaky: Store = {
      ...store,
      deleteSessionsBefore: (before, options) =>
        fail
          ? Promise.reject(new Error('database is locked'))
          : store.deleteSessionsBefore(before, options),
    };
    const lines = start(flaky, { maxAgeDays: 30, sweepIntervalSeconds: 60 });
    await vi.advanceTimersByTimeAsync(0);
    expect(lines).toMatchObject([{ level: 'error', msg: expect.stringMatching(/failed/) }]);
    fail = false;
    await vi.advanceTimersByTimeAsync(60 * 1000);
    expect(await ids(store)).toEqual([]);
  });

  it('stops on close: it waits for the sweep under way, and sweeps no more', async () => {
    const store = await storeWith(ended('old', ago(40 * DAY)));
    let calls = 0;
    const counted: Store = {
      ...store,
      deleteSessionsBefore: (before, options) => {
        calls++;
        return store.deleteSessionsBefore(before, options);
      },
    };
    start(counted, { maxAgeDays: 30, sweepIntervalSeconds: 60 });
    await vi.advanceTimersByTimeAsync(0);
    await sweeper!.close();
    await store.createSession(ended('later', ago(40 * DAY)));
    await vi.advanceTimersByTimeAsync(10 * 60 * 1000);
    expect(calls).toBe(1);
    expect(await ids(store)).toEqual(['later']);
  });

  it.each([
    ['no age', {}, /one of maxAgeDays and maxAgeSeconds/],
    ['both ages', { maxAgeDays: 1, maxAgeSeconds: 60 }, /not both/],
    ['an age of 0', { maxAgeDays: 0 }, /positive number, not 0/],
    ['an age that is not a number', { maxAgeSeconds: Number.NaN }, /positive number/],
    ['an interval of 0', { maxAgeDays: 1, sweepIntervalSeconds: 0 }, /sweepIntervalSeconds/],
    [
      'an interval a timer cannot wait',
      { maxAgeDays: 90, sweepIntervalSeconds: 30 * 86400 },
      /24 days/,
    ],
  ])('refuses options with %s as invalid_request', (_, options, message) => {
    expect(() => new RetentionSweeper(options as RetentionOptions)).toThrow(
      expect.objectContaining({ code: 'invalid_request', message: expect.stringMatching(message) }),
    );
  });
});

describe('the retention sweeper timer', () => {
  it('never keeps the process alive', async () => {
    const before = countResources(['Timeout']);
    const sweeper = new RetentionSweeper({ maxAgeDays: 30 });
    sweeper.start({
      store: createMemoryStore(),
      control: liveControl(),
      logger: recordingLogger().logger,
    });
    await sweeper.sweep();
    expect(resourcesAddedSince(before, ['Timeout'])).toEqual([]);
    await sweeper.close();
  });
});
