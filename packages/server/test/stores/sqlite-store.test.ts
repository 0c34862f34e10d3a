import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSqliteStore } from '../../src/stores/sqlite-store.js';

const dir = mkdtempSync(join(tmpdir(), 'earshot-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const record = {
  id: 'd',
  status: 'active' as const,
  createdAt: '2026-01-01T00:00:00.000Z',
  metadata: { userId: 'u-1' },
};
const segment = {
  segmentId: 's-0',
  seq: 0,
  text: 'kept across restarts',
  start: 0,
  end: 1,
  words: [],
  createdAt: '2026-01-01T00:00:01.000Z',
};

describe('the sqlite store', () => {
  it('keeps sessions and finals across a reopen, also after a crash left its lock behind', async () => {
    const path = join(dir, 'durable.db');
    const first = await createSqliteStore({ path });
    await first.createSession(record);
    await first.appendSegment('d', segment);
    await first.close();
    mkdirSync(`${path}.lock`); // what a process killed mid-write leaves behind

    const second = await createSqliteStore({ path });
    expect((await second.getSegments('d')).map((s) => s.text)).toEqual(['kept across restarts']);
    await second.close();
  });

  it('migrates a file made by the first schema version, keeping what it holds', async () => {
    const path = join(dir, 'v1.db');
    const { Database } = (await import('node-sqlite3-wasm')) as unknown as {
      Database: new (file: string) => { exec(sql: string): void; close(): void };
    };
    const v1 = new Database(path);
    v1.exec(`CREATE TABLE sessions (id TEXT PRIMARY KEY, status TEXT NOT NULL,
        created_at TEXT NOT NULL, started_at TEXT, ended_at TEXT, provider TEXT, audio TEXT,
        language TEXT, metadata TEXT NOT NULL, end_reason TEXT, summary TEXT);
      CREATE INDEX sessions_by_status ON sessions (status, created_at);
      CREATE TABLE segments (session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
        segment_id TEXT NOT NULL, seq INTEGER NOT NULL, text TEXT NOT NULL, start_s REAL NOT NULL,
        end_s REAL NOT NULL, confidence REAL, speaker INTEGER, words TEXT NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (session_id, segment_id));
      INSERT INTO sessions (id, status, created_at, metadata)
        VALUES ('old', 'ended', '2025-12-01T00:00:00.000Z', '{"userId":"ann"}');
      INSERT INTO segments VALUES ('old', 's', 0, 'from version one', 0, 1, NULL, NULL, '[]',
        '2025-12-01T00:00:01.000Z');
      PRAGMA user_version = 1;`);
    v1.close();

    const store = await createSqliteStore({ path });
    expect((await store.listSessions({ userId: 'ann' })).sessions.map((s) => s.id)).toEqual([
      'old',
    ]);
    expect((await store.getSegments('old'))[0]?.text).toBe('from version one');
    await store.appendEvent('old', { type: 'error', at: segment.createdAt, data: {} });
    expect(await store.getEvents('old')).toHaveLength(1);
    await store.close();
  });

  it('fails to open an unusable path with store_error', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    await expect(createSqliteStore({ path: join(file, 'nope.db') })).rejects.toMatchObject({
      code: 'store_error',
    });
  });
});

describe('an in-memory sqlite store', () => {
  it('keeps nothing on disk for the path :memory:', async () => {
    const cwd = process.cwd();
    const store = await createSqliteStore({ path: ':memory:' });
    await store.createSession(record);
    expect(await store.getSession('d')).toMatchObject({ id: 'd' });
    await store.close();
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(cwd, ':memory:'))).toBe(false);
  });
});
