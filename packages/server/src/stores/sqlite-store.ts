import { mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EarshotError } from '@earshot/protocol';
import type { SessionQuery, SessionRecord, Store, StoredSegment } from './store.js';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file. Created with its folder when missing. */
  readonly path: string;
}

// Each entry moves the schema one version up; `PRAGMA user_version` records where a file is.
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     status TEXT NOT NULL,
     created_at TEXT NOT NULL,
     started_at TEXT,
     ended_at TEXT,
     provider TEXT,
     audio TEXT,
     language TEXT,
     metadata TEXT NOT NULL,
     end_reason TEXT,
     summary TEXT
   );
   CREATE INDEX sessions_by_status ON sessions (status, created_at);
   CREATE TABLE segments (
     session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
     segment_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     text TEXT NOT NULL,
     start_s REAL NOT NULL,
     end_s REAL NOT NULL,
     confidence REAL,
     speaker INTEGER,
     words TEXT NOT NULL,
     created_at TEXT NOT NULL,
     PRIMARY KEY (session_id, segment_id)
   );`,
];

interface Database {
  exec(sql: string): void;
  run(sql: string, values?: unknown): { changes: number };
  all(sql: string, values?: unknown): Record<string, unknown>[];
  get(sql: string, values?: unknown): Record<string, unknown> | null;
  close(): void;
}

type Row = Record<string, unknown>;

const str = (v: unknown) => (v === null || v === undefined ? undefined : String(v));
const json = <T>(v: unknown): T | undefined =>
  v === null || v === undefined ? undefined : (JSON.parse(String(v)) as T);

function toSessionRecord(row: Row): SessionRecord {
  return {
    id: String(row.id),
    status: row.status as SessionRecord['status'],
    createdAt: String(row.created_at),
    startedAt: str(row.started_at),
    endedAt: str(row.ended_at),
    provider: str(row.provider),
    audio: json(row.audio),
    language: str(row.language),
    metadata: json(row.metadata) ?? {},
    endReason: str(row.end_reason),
    summary: json(row.summary),
  };
}

function toSegment(row: Row): StoredSegment {
  return {
    segmentId: String(row.segment_id),
    seq: Number(row.seq),
    text: String(row.text),
    start: Number(row.start_s),
    end: Number(row.end_s),
    confidence: row.confidence === null ? undefined : Number(row.confidence),
    speaker: row.speaker === null ? undefined : Number(row.speaker),
    words: json(row.words) ?? [],
    createdAt: String(row.created_at),
  };
}

const COLUMNS: Record<keyof Omit<SessionRecord, 'id'>, string> = {
  status: 'status',
  createdAt: 'created_at',
  startedAt: 'started_at',
  endedAt: 'ended_at',
  provider: 'provider',
  audio: 'audio',
  language: 'language',
  metadata: 'metadata',
  endReason: 'end_reason',
  summary: 'summary',
};
const JSON_COLUMNS = new Set(['audio', 'metadata', 'summary']);

function columnValue(key: string, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  return JSON_COLUMNS.has(key) ? JSON.stringify(value) : value;
}

/**
 * A durable store in one SQLite file: the embedded default. It runs SQLite compiled to
 * WebAssembly (`node-sqlite3-wasm`), so it installs from the npm registry alone, with no
 * native build. Each write is its own transaction with `synchronous=FULL`: a final that was
 * stored survives a crash of the process.
 *
 * One process owns a file at a time.
 *
 * @example
 * ```ts
 * const store = await createSqliteStore({ path: './earshot.db' });
 * ```
 */
export async function createSqliteStore(options: SqliteStoreOptions): Promise<Store> {
  const path = resolve(options.path);
  let db: Database;
  try {
    mkdirSync(dirname(path), { recursive: true });
    // The WebAssembly VFS locks a file by creating `<file>.lock/`; a process killed while
    // holding it leaves the folder behind. Since one process owns a file, a lock found at
    // open is stale.
    rmSync(`${path}.lock`, { recursive: true, force: true });
    const sqlite = (await import('node-sqlite3-wasm')) as unknown as {
      Database: new (file: string) => Database;
      default?: { Database: new (file: string) => Database };
    };
    const DatabaseClass = sqlite.Database ?? sqlite.default?.Database;
    if (!DatabaseClass) throw new Error('node-sqlite3-wasm exports no Database');
    db = new DatabaseClass(path);
    db.exec('PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
    migrate(db);
  } catch (error) {
    throw new EarshotError('store_error', `cannot open SQLite store at ${path}: ${String(error)}`, {
      cause: error,
    });
  }

  const guard = async <T>(what: string, action: () => T): Promise<T> => {
    try {
      return action();
    } catch (error) {
      if (EarshotError.isInstance(error)) throw error;
      throw new EarshotError('store_error', `SQLite ${what} failed: ${String(error)}`, {
        cause: error,
      });
    }
  };

  return {
    kind: 'sqlite',
    createSession: (record) =>
      guard('createSession', () => {
        const keys = Object.keys(COLUMNS) as (keyof typeof COLUMNS)[];
        const values = [
          record.id,
          ...keys.map((k) => columnValue(k, record[k] ?? (k === 'metadata' ? {} : undefined))),
        ];
        db.run(
          `INSERT INTO sessions (id, ${keys.map((k) => COLUMNS[k]).join(', ')}) VALUES (${values.map(() => '?').join(', ')})`,
          values,
        );
      }),
    updateSession: (id, patch) =>
      guard('updateSession', () => {
        const keys = (Object.keys(patch) as (keyof typeof COLUMNS)[]).filter((k) => k in COLUMNS);
        if (keys.length === 0) return;
        const sets = keys.map((k) => `${COLUMNS[k]} = ?`).join(', ');
        const { changes } = db.run(`UPDATE sessions SET ${sets} WHERE id = ?`, [
          ...keys.map((k) => columnValue(k, patch[k])),
          id,
        ]);
        if (changes === 0) throw new EarshotError('session_not_found', `no session ${id}`);
      }),
    getSession: (id) =>
      guard('getSession', () => {
        const row = db.get('SELECT * FROM sessions WHERE id = ?', [id]);
        return row ? toSessionRecord(row) : undefined;
      }),
    listSessions: (query: SessionQuery = {}) =>
      guard('listSessions', () => {
        const where = query.status ? 'WHERE status = ?' : '';
        const params: unknown[] = query.status ? [query.status] : [];
        const limit =
          query.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(query.limit))}`;
        return db
          .all(
            `SELECT * FROM sessions ${where} ORDER BY created_at DESC, rowid DESC${limit}`,
            params,
          )
          .map(toSessionRecord);
      }),
    appendSegment: (sessionId, s) =>
      guard('appendSegment', () => {
        db.run(
          `INSERT OR IGNORE INTO segments
             (session_id, segment_id, seq, text, start_s, end_s, confidence, speaker, words, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [
            sessionId,
            s.segmentId,
            s.seq,
            s.text,
            s.start,
            s.end,
            s.confidence ?? null,
            s.speaker ?? null,
            JSON.stringify(s.words),
            s.createdAt,
          ],
        );
      }),
    getSegments: (sessionId) =>
      guard('getSegments', () =>
        db
          .all('SELECT * FROM segments WHERE session_id = ? ORDER BY seq', [sessionId])
          .map(toSegment),
      ),
    close: () => guard('close', () => db.close()),
  };
}

function migrate(db: Database): void {
  const version = Number(db.get('PRAGMA user_version')?.user_version ?? 0);
  for (let next = version; next < MIGRATIONS.length; next++) {
    db.exec(`BEGIN; ${MIGRATIONS[next]} PRAGMA user_version = ${next + 1}; COMMIT;`);
  }
}
