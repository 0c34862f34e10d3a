import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PostgresServer, startPostgres } from '@earshot/testing';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { encryptStore } from '../../src/stores/encrypted-store.js';
import type { EncryptionKey } from '../../src/stores/encryption-keys.js';
import { createMemoryStore } from '../../src/stores/memory-store.js';
import { createPostgresStore } from '../../src/stores/postgres-store.js';
import { createSqliteStore } from '../../src/stores/sqlite-store.js';
import type { SessionRecord, Store, StoredEvent, StoredSegment } from '../../src/stores/store.js';

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

/** A store under test, and everything it keeps as it lies at rest, as text. */
interface Opened {
  readonly store: Store;
  /**
   * Read around the store: the SQLite file's bytes, PostgreSQL's rows through `pg`. The memory
   * store has nothing beneath it: its own reads are what it holds.
   */
  atRest(): Promise<string>;
}

async function memoryDump(store: Store): Promise<string> {
  const { sessions } = await store.listSessions({ limit: 1000 });
  const all = await Promise.all(
    sessions.map(async (s) => [s, await store.getSegments(s.id), await store.getEvents(s.id)]),
  );
  return JSON.stringify(all);
}

async function postgresRows(url: string): Promise<string> {
  const pg = await import('pg');
  const client = new (pg.default ?? pg).Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT row_to_json(t)::text AS row FROM sessions t
       UNION ALL SELECT row_to_json(t)::text FROM segments t
       UNION ALL SELECT row_to_json(t)::text FROM events t`,
    );
    return rows.map((r: { row: string }) => r.row).join('\n');
  } finally {
    await client.end();
  }
}

let counter = 0;
const stores: [string, () => Promise<Opened>][] = [
  [
    'memory',
    async () => {
      const store = createMemoryStore();
      return { store, atRest: () => memoryDump(store) };
    },
  ],
  [
    'sqlite',
    async () => {
      const path = join(dir, `store-${counter++}.db`);
      return {
        store: await createSqliteStore({ path }),
        atRest: async () => readFileSync(path).toString('latin1'),
      };
    },
  ],
  [
    'postgres',
    async () => {
      const url = await postgres.createDatabase();
      return {
        store: await createPostgresStore({ connectionString: url }),
        atRest: () => postgresRows(url),
      };
    },
  ],
];

describe.each(stores)('the %s store', (kind, open) => {
  let store: Store;
  let atRest: () => Promise<string>;
  beforeEach(async () => {
    ({ store, atRest } = await open());
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

  it('replaces stored content in place, keeping ids, times and order, and skips what is not stored', async () => {
    await store.createSession(session('r'));
    const [first, second] = [segment(0), segment(1)];
    await store.appendSegment('r', first);
    await store.appendSegment('r', second);
    const at = '2026-03-01T10:00:00.000Z';
    await store.appendEvent('r', { type: 'error', at, data: { code: 'timeout' } });
    await store.appendEvent('r', { type: 'dtmf', at, data: { digit: '1' } });
    await store.replaceContent('r', {
      segments: [
        { segmentId: 's-1', text: 'replaced', words: [] },
        { segmentId: 'not-stored', text: 'skipped', words: [] },
      ],
      events: [
        { index: 1, data: { digit: '2' } },
        { index: 7, data: { skipped: true } },
      ],
    });
    await store.replaceContent('missing', {
      segments: [{ segmentId: 's-0', text: 'x', words: [] }],
    });
    expect(await store.getSegments('r')).toEqual([
      first,
      { ...second, text: 'replaced', words: [] },
    ]);
    expect(await store.getEvents('r')).toEqual([
      { type: 'error', at, data: { code: 'timeout' } },
      { type: 'dtmf', at, data: { digit: '2' } },
    ]);
  });

  describe('with encryption at rest', () => {
    it('keeps ciphertext: no word said is found at rest; metadata stays clear and filterable', async () => {
      const encrypted = encryptStore(store, { keys: [k1] });
      await writeConsultation(encrypted, 'c');
      const raw = await atRest();
      for (const said of SAID) expect(raw).not.toContain(said);
      expect(raw).toContain('enc:v1:k1:');
      expect(raw).toContain('dr-lee');
      expect(
        (await encrypted.listSessions({ userId: 'dr-lee' })).sessions.map((s) => s.id),
      ).toEqual(['c']);
      // What the store beneath holds: one sealed value per final and per event.
      const [sealed] = await store.getSegments('c');
      expect(sealed).toMatchObject({ segmentId: 's-0', seq: 0, words: [] });
      expect(sealed?.text).toMatch(/^enc:v1:k1:/);
      expect((await store.getEvents('c'))[0]).toMatchObject({
        type: 'command',
        data: { sealed: expect.stringMatching(/^enc:v1:k1:/) },
      });
    });

    it('reads back exactly what was written', async () => {
      const encrypted = encryptStore(store, { keys: [k1] });
      const written = await writeConsultation(encrypted, 'c');
      expect(await encrypted.getSegments('c')).toEqual(written.segments);
      expect(await encrypted.getEvents('c')).toEqual(written.events);
      expect(await encrypted.getSession('c')).toMatchObject({
        id: 'c',
        metadata: { userId: 'dr-lee' },
      });
    });

    it('rotates keys: the old key still reads, reencrypt moves everything to the new one, then the old key can go', async () => {
      const before = encryptStore(store, { keys: [k1] });
      const a = await writeConsultation(before, 'a');
      const b = await writeConsultation(before, 'b');
      const rotated = encryptStore(store, { keys: [k2, k1] });
      expect(await rotated.getSegments('a')).toEqual(a.segments);
      const c = await writeConsultation(rotated, 'c');

      const result = await rotated.reencrypt({ batchSize: 2 });
      expect(result).toEqual({ sessions: 3, rewritten: 2 * VALUES_PER_CONSULTATION, done: true });
      expect(await atRest()).not.toContain('enc:v1:k1:');
      const after = encryptStore(store, { keys: [k2] });
      for (const [id, written] of [
        ['a', a],
        ['b', b],
        ['c', c],
      ] as const) {
        expect(await after.getSegments(id)).toEqual(written.segments);
        expect(await after.getEvents(id)).toEqual(written.events);
      }
      expect((await rotated.reencrypt()).rewritten).toBe(0);
    });

    it('reencrypts while sessions go on, and resumes from its cursor', async () => {
      const before = encryptStore(store, { keys: [k1] });
      // Walked newest first: c, then b, then a.
      await writeConsultation(before, 'a', '2026-01-01T00:00:00.000Z');
      await writeConsultation(before, 'b', '2026-01-02T00:00:00.000Z');
      await writeConsultation(before, 'c', '2026-01-03T00:00:00.000Z');
      const rotated = encryptStore(store, { keys: [k2, k1] });
      const stop = new AbortController();
      const pages: (string | undefined)[] = [];
      const writes: Promise<unknown>[] = [];
      const first = await rotated.reencrypt({
        batchSize: 1,
        signal: stop.signal,
        onProgress: ({ cursor }) => {
          pages.push(cursor);
          if (pages.length === 1) {
            // Mid-walk, sessions write: to one walked already, one not walked yet, a new one.
            writes.push(
              rotated.appendSegment('c', segment(5, 'after its page')),
              rotated.appendSegment('a', segment(5, 'before its page')),
              writeConsultation(rotated, 'd'),
            );
          } else stop.abort();
        },
      });
      expect(first).toEqual({
        sessions: 2,
        rewritten: 2 * VALUES_PER_CONSULTATION,
        cursor: pages[1],
        done: false,
      });
      await Promise.all(writes);
      const rest = await rotated.reencrypt({ batchSize: 1, cursor: first.cursor });
      expect(rest).toEqual({ sessions: 1, rewritten: VALUES_PER_CONSULTATION, done: true });
      expect(await atRest()).not.toContain('enc:v1:k1:');
      const after = encryptStore(store, { keys: [k2] });
      expect((await after.getSegments('a')).map((s) => s.text)).toContain('before its page');
      expect((await after.getSegments('c')).map((s) => s.text)).toContain('after its page');
      expect(await after.getSegments('d')).toHaveLength(2);
    });

    it('rejects a value under a key it does not have with store_error naming the key, and goes on', async () => {
      await writeConsultation(encryptStore(store, { keys: [k1] }), 'c');
      const other = encryptStore(store, { keys: [k3] });
      const unknownKey = {
        code: 'store_error',
        message: expect.stringMatching(/key "k1", which is not among the keys \(k3\)/),
      };
      await expect(other.getSegments('c')).rejects.toMatchObject(unknownKey);
      await expect(other.getEvents('c')).rejects.toMatchObject(unknownKey);
      await expect(other.reencrypt()).rejects.toMatchObject(unknownKey);
      expect(await other.getSession('c')).toMatchObject({ id: 'c' });
      const wrongBytes = encryptStore(store, { keys: [{ id: 'k1', key: randomBytes(32) }] });
      await expect(wrongBytes.getSegments('c')).rejects.toMatchObject({
        code: 'store_error',
        message: expect.stringMatching(/does not authenticate/),
      });
    });

    it('reads plaintext stored before encryption was turned on, and reencrypt seals it', async () => {
      const written = await writeConsultation(store, 'c');
      const encrypted = encryptStore(store, { keys: [k1] });
      expect(await encrypted.getSegments('c')).toEqual(written.segments);
      expect(await encrypted.getEvents('c')).toEqual(written.events);
      expect((await encrypted.reencrypt()).rewritten).toBe(VALUES_PER_CONSULTATION);
      const raw = await atRest();
      for (const said of SAID) expect(raw).not.toContain(said);
      expect(await encrypted.getSegments('c')).toEqual(written.segments);
      expect(await encrypted.getEvents('c')).toEqual(written.events);
    });

    it('does not open a value moved into another session', async () => {
      const encrypted = encryptStore(store, { keys: [k1] });
      await writeConsultation(encrypted, 'a');
      await store.createSession(session('b'));
      const [sealed] = await store.getSegments('a');
      await store.appendSegment('b', sealed!);
      await expect(encrypted.getSegments('b')).rejects.toMatchObject({
        code: 'store_error',
        message: expect.stringMatching(/session b: .*another session/),
      });
    });
  });

  describe('with retention', () => {
    const cutoff = new Date('2026-03-01T00:00:00.000Z');
    const aged = (
      id: string,
      times: Pick<SessionRecord, 'createdAt' | 'startedAt' | 'endedAt'>,
    ): SessionRecord => ({
      ...session(id, times.createdAt),
      ...times,
      status: times.endedAt ? 'ended' : 'active',
    });
    const SESSIONS = [
      aged('ended-old', {
        createdAt: '2026-01-01T00:00:00.000Z',
        endedAt: '2026-02-01T00:00:00.000Z',
      }),
      aged('ended-recently', {
        createdAt: '2026-01-01T00:00:00.000Z',
        startedAt: '2026-01-01T00:00:01.000Z',
        endedAt: '2026-03-05T00:00:00.000Z',
      }),
      aged('never-ended-old', { createdAt: '2026-01-10T00:00:00.000Z' }),
      aged('started-late', {
        createdAt: '2026-01-10T00:00:00.000Z',
        startedAt: '2026-03-02T00:00:00.000Z',
      }),
      aged('live-old', {
        createdAt: '2026-01-01T00:00:00.000Z',
        startedAt: '2026-01-01T00:00:01.000Z',
      }),
      aged('new', { createdAt: '2026-04-01T00:00:00.000Z' }),
    ];

    it('deletes exactly the sessions that ended before the cutoff or never ended and started before it, with their segments and events, never one to keep', async () => {
      for (const record of SESSIONS) {
        await store.createSession(record);
        await store.appendSegment(record.id, segment(0, `words of ${record.id}`));
        await store.appendEvent(record.id, {
          type: 'dtmf',
          at: record.createdAt,
          data: { digit: record.id },
        });
      }
      const deleted = await store.deleteSessionsBefore(cutoff, { keep: ['live-old'] });
      expect(deleted).toEqual(['never-ended-old', 'ended-old']);
      for (const id of deleted) {
        expect(await store.getSession(id)).toBeUndefined();
        expect(await store.getSegments(id)).toEqual([]);
        expect(await store.getEvents(id)).toEqual([]);
      }
      const raw = await atRest();
      expect(raw).not.toContain('words of ended-old');
      expect(raw).not.toContain('words of never-ended-old');
      for (const id of ['ended-recently', 'started-late', 'live-old', 'new']) {
        expect(await store.getSession(id)).toMatchObject({ id });
        expect((await store.getSegments(id)).map((s) => s.text)).toEqual([`words of ${id}`]);
        expect(await store.getEvents(id)).toHaveLength(1);
        expect(raw).toContain(`words of ${id}`);
      }
      expect(await store.deleteSessionsBefore(cutoff, { keep: ['live-old'] })).toEqual([]);
    });

    it('deletes in batches of the limit, oldest first, also through encryption', async () => {
      for (let day = 1; day <= 5; day++) {
        await store.createSession(
          aged(`d${day}`, {
            createdAt: `2026-01-0${day}T00:00:00.000Z`,
            endedAt: `2026-01-0${day}T01:00:00.000Z`,
          }),
        );
      }
      const encrypted = encryptStore(store, { keys: [k1] });
      const batches: string[][] = [];
      let batch: string[];
      do {
        batch = await encrypted.deleteSessionsBefore(cutoff, { limit: 2 });
        batches.push(batch);
      } while (batch.length === 2);
      expect(batches).toEqual([['d1', 'd2'], ['d3', 'd4'], ['d5']]);
    });
  });
});

const k1: EncryptionKey = { id: 'k1', key: randomBytes(32) };
const k2: EncryptionKey = { id: 'k2', key: randomBytes(32).toString('base64') };
const k3: EncryptionKey = { id: 'k3', key: randomBytes(32) };

/** What is said in a consultation: none of it may be found at rest once encrypted. */
const SAID = ['hypertension', 'metformin', 'six weeks', 'mrs patel'];
/** Sealed values of one consultation: two finals and two events. */
const VALUES_PER_CONSULTATION = 4;

/** A session of a clinic with two finals, a command and the end hook's summary. */
async function writeConsultation(
  store: Store,
  id: string,
  createdAt = new Date().toISOString(),
): Promise<{ segments: StoredSegment[]; events: StoredEvent[] }> {
  await store.createSession(session(id, createdAt, { userId: 'dr-lee' }));
  const segments: StoredSegment[] = [
    {
      ...segment(0, 'blood pressure shows hypertension'),
      words: [
        { word: 'blood', start: 0, end: 0.3, confidence: 0.9 },
        { word: 'hypertension', start: 0.9, end: 1.6, confidence: 0.7 },
      ],
    },
    { ...segment(1, 'start metformin and review in six weeks'), speaker: 1 },
  ];
  const at = '2026-03-01T10:00:00.000Z';
  const events: StoredEvent[] = [
    {
      type: 'command',
      at,
      data: {
        type: 'command',
        name: 'prescribe',
        phase: 'completed',
        slots: { drug: 'metformin' },
      },
    },
    {
      type: 'session_end_hook',
      at,
      data: { result: { summary: 'mrs patel, hypertension' }, attempts: 1 },
    },
  ];
  for (const s of segments) await store.appendSegment(id, s);
  for (const e of events) await store.appendEvent(id, e);
  return { segments, events };
}
