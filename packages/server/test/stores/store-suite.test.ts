import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PostgresServer, startPostgres } from '@earshot/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../../src/stores/memory-store.js';
import { createPostgresStore } from '../../src/stores/postgres-store.js';
import { createSqliteStore } from '../../src/stores/sqlite-store.js';
import type { SessionRecord, Store, StoredSegment } from '../../src/stores/store.js';

// One suite, every store: what an app sees must not depend on which database keeps it.
const dir = mkdtempSync(join(tmpdir(), 'earshot-stores-'));
let postgres: PostgresServer;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const session = (
  id: string,
  createdAt = new Date().toISOString(),
  metadata: SessionRecord['metadata'] = {},
): SessionRecord => ({
  id,
  status: 'active',
  createdAt,
  provider: 'local',
  audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
  language: 'en-US',
  metadata: { userId: 'u-1', org: 'clinic', flag: true, n: 2, none: null, ...metadata },
});

const segment = (seq: number, text = `segment ${seq}`): StoredSegment => ({
  segmentId: `s-${seq}`,
  seq,
  text,
  start: seq,
  end: seq + 0.9,
  confidence: 0.8,
  words: [{ word: 'segment', start: seq, end: seq + 0.4 }],
  createdAt: new Date().toISOString(),
});

let counter = 0;
const stores: [string, () => Promise<Store>][] = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', () => createSqliteStore({ path: join(dir, `store-${counter++}.db`) })],
  [
    'postgres',
    async () => createPostgresStore({ connectionString: await postgres.createDatabase() }),
  ],
];

describe.each(stores)('the %s store', (kind, create) => {
  let store: Store;
  beforeEach(async () => {
    store = await create();
    return () => store.close();
  });

  it('names its kind', () => {
    expect(store.kind).toBe(kind);
  });

  it('creates, reads and updates a session with its metadata, summary and metrics', async () => {
    await store.createSession(session('a'));
    const metrics = {
      chunksReceived: 10,
      bytesReceived: 32000,
      audioSeconds: 1,
      finalSegments: 1,
      interimSegments: 3,
      firstTranscriptMs: 420,
      providerLatencyMs: { count: 1, mean: 300, p50: 300, p95: 300, max: 300 },
      resumes: 0,
      providerReconnects: 0,
      replayedAudioSeconds: 0,
      errors: 0,
      durationSeconds: 2,
    };
    await store.updateSession('a', {
      status: 'ended',
      endReason: 'stopped',
      endedAt: '2026-03-01T10:00:00.000Z',
      summary: { audioSeconds: 3, finalSegments: 1, durationSeconds: 4 },
      metrics,
    });
    expect(await store.getSession('a')).toMatchObject({
      id: 'a',
      status: 'ended',
      endReason: 'stopped',
      endedAt: '2026-03-01T10:00:00.000Z',
      metadata: { userId: 'u-1', org: 'clinic', flag: true, n: 2, none: null },
      audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
      summary: { audioSeconds: 3, finalSegments: 1, durationSeconds: 4 },
      metrics,
    });
    expect(await store.getSession('missing')).toBeUndefined();
  });

  it('creates a session once: a repeated create changes nothing', async () => {
    await store.createSession(session('once'));
    await store.createSession({ ...session('once'), status: 'failed' });
    expect((await store.getSession('once'))?.status).toBe('active');
  });

  it('rejects an update of a missing session with session_not_found', async () => {
    await expect(store.updateSession('missing', { status: 'ended' })).rejects.toMatchObject({
      code: 'session_not_found',
    });
    await expect(store.updateSession('missing', {})).rejects.toMatchObject({
      code: 'session_not_found',
    });
  });

  it('keeps segments in order and ignores a repeated segment id', async () => {
    await store.createSession(session('b'));
    await store.appendSegment('b', segment(1));
    await store.appendSegment('b', segment(0));
    await store.appendSegment('b', segment(1, 'a duplicate that must not replace the first'));
    const segments = await store.getSegments('b');
    expect(segments.map((s) => s.text)).toEqual(['segment 0', 'segment 1']);
    expect(segments[0]).toMatchObject({
      confidence: 0.8,
      words: [{ word: 'segment', start: 0, end: 0.4 }],
    });
    expect(await store.getSegments('missing')).toEqual([]);
  });

  it('keeps events in the order they came, with their content', async () => {
    await store.createSession(session('e'));
    const at = '2026-03-01T10:00:00.000Z';
    await store.appendEvent('e', {
      type: 'command',
      at,
      data: { type: 'command', name: 'next_patient', phase: 'completed', slots: { n: 2 } },
    });
    await store.appendEvent('e', { type: 'broadcast', at, data: { payload: { text: 'hi' } } });
    await store.appendEvent('e', { type: 'error', at, data: { code: 'timeout' } });
    expect(await store.getEvents('e')).toEqual([
      {
        type: 'command',
        at,
        data: { type: 'command', name: 'next_patient', phase: 'completed', slots: { n: 2 } },
      },
      { type: 'broadcast', at, data: { payload: { text: 'hi' } } },
      { type: 'error', at, data: { code: 'timeout' } },
    ]);
    expect(await store.getEvents('missing')).toEqual([]);
  });

  it('lists sessions newest first, filtered by status and by user', async () => {
    await store.createSession(session('old', '2026-01-01T00:00:00.000Z', { userId: 'ann' }));
    await store.createSession(session('new', '2026-02-01T00:00:00.000Z', { userId: 'bob' }));
    await store.createSession(session('mid', '2026-01-15T00:00:00.000Z', { userId: 'ann' }));
    await store.updateSession('old', { status: 'ended' });
    const ids = async (query?: Parameters<Store['listSessions']>[0]) =>
      (await store.listSessions(query)).sessions.map((s) => s.id);
    expect(await ids()).toEqual(['new', 'mid', 'old']);
    expect(await ids({ status: 'ended' })).toEqual(['old']);
    expect(await ids({ userId: 'ann' })).toEqual(['mid', 'old']);
    expect(await ids({ userId: 'ann', status: 'active' })).toEqual(['mid']);
    expect(await ids({ userId: 'nobody' })).toEqual([]);
  });

  it('pages through every session exactly once, also when many share a creation time', async () => {
    const sameTime = '2026-05-05T05:05:05.000Z';
    const all: string[] = [];
    for (let i = 0; i < 23; i++) {
      const id = `p-${String(i).padStart(2, '0')}`;
      all.push(id);
      await store.createSession(
        session(id, i % 3 === 0 ? sameTime : `2026-05-0${1 + (i % 4)}T00:00:00.000Z`),
      );
    }
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await store.listSessions({ limit: 5, cursor });
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(5);
    expect([...seen].sort()).toEqual(all);
    expect(seen).toEqual((await store.listSessions({ limit: 100 })).sessions.map((s) => s.id));
  });

  it('rejects a cursor it did not make with invalid_request', async () => {
    await expect(store.listSessions({ cursor: 'not-a-cursor' })).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });

  it('answers ping', async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
