import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryStore } from '../src/stores/memory-store.js';
import { createSqliteStore } from '../src/stores/sqlite-store.js';
import type { SessionRecord, Store, StoredSegment } from '../src/stores/store.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-stores-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const session = (id: string, createdAt = new Date().toISOString()): SessionRecord => ({
  id,
  status: 'active',
  createdAt,
  provider: 'local',
  audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
  language: 'en-US',
  metadata: { userId: 'u-1', org: 'clinic', flag: true, n: 2, none: null },
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
];

describe.each(stores)('%s store', (_kind, create) => {
  let store: Store;
  beforeEach(async () => {
    store = await create();
    return () => store.close();
  });

  it('creates, reads and updates a session with its metadata', async () => {
    await store.createSession(session('a'));
    await store.updateSession('a', {
      status: 'ended',
      endReason: 'stopped',
      summary: { audioSeconds: 3, finalSegments: 1, durationSeconds: 4 },
    });
    expect(await store.getSession('a')).toMatchObject({
      id: 'a',
      status: 'ended',
      endReason: 'stopped',
      metadata: { userId: 'u-1', org: 'clinic', flag: true, n: 2, none: null },
      audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
      summary: { audioSeconds: 3, finalSegments: 1, durationSeconds: 4 },
    });
    expect(await store.getSession('missing')).toBeUndefined();
  });

  it('rejects an update of a missing session with session_not_found', async () => {
    await expect(store.updateSession('missing', { status: 'ended' })).rejects.toMatchObject({
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
  });

  it('lists sessions newest first, by status, with a limit', async () => {
    await store.createSession(session('old', '2026-01-01T00:00:00.000Z'));
    await store.createSession(session('new', '2026-02-01T00:00:00.000Z'));
    await store.updateSession('old', { status: 'ended' });
    expect((await store.listSessions()).map((s) => s.id)).toEqual(['new', 'old']);
    expect((await store.listSessions({ status: 'ended' })).map((s) => s.id)).toEqual(['old']);
    expect(await store.listSessions({ limit: 1 })).toHaveLength(1);
  });
});

describe('sqlite store durability', () => {
  it('keeps sessions and finals across a reopen, also after a crash left its lock behind', async () => {
    const path = join(dir, 'durable.db');
    const first = await createSqliteStore({ path });
    await first.createSession(session('d'));
    await first.appendSegment('d', segment(0, 'kept across restarts'));
    await first.close();
    mkdirSync(`${path}.lock`); // what a process killed mid-write leaves behind

    const second = await createSqliteStore({ path });
    expect((await second.getSegments('d')).map((s) => s.text)).toEqual(['kept across restarts']);
    await second.close();
  });

  it('fails to open an unusable path with store_error', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    await expect(createSqliteStore({ path: join(file, 'nope.db') })).rejects.toMatchObject({
      code: 'store_error',
    });
  });
});
