import { mkdirSync, rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { EarshotError } from '@earshot/protocol';
import { createSqlStore, type SqlDriver, type SqlRow } from './sql-store.js';
import type { Store } from './store.js';

/** Options of {@link createSqliteStore}. */
export interface SqliteStoreOptions {
  /** The database file, created with its folder when missing; `:memory:` keeps it in memory. */
  readonly path: string;
}

// Each entry moves the schema one version up; `PRAGMA user_version` records where a file is.
// Entries are never edited once released: a file made by an older version migrates forward.
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
  `ALTER TABLE sessions ADD COLUMN metrics TEXT;
   CREATE INDEX sessions_by_created ON sessions (created_at, id);
   CREATE INDEX sessions_by_user ON sessions (CAST(json_extract(metadata, '$.userId') AS TEXT), created_at);
   CREATE TABLE events (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
     type TEXT NOT NULL,
     at TEXT NOT NULL,
     data TEXT NOT NULL
   );
   CREATE INDEX events_by_session ON events (session_id, id);`,
];

interface Database {
  exec(sql: string): void;
  run(sql: string, values?: unknown): { changes: number };
  all(sql: string, values?: unknown): SqlRow[];
  get(sql: string, values?: unknown): SqlRow | null;
  close(): void;
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
  const inMemory = options.path === ':memory:';
  const path = inMemory ? options.path : resolve(options.path);
  let db: Database;
  try {
    if (!inMemory) {
      mkdirSync(dirname(path), { recursive: true });
      // The WebAssembly VFS locks a file by creating `<file>.lock/`; a process killed while
      // holding it leaves the folder behind. Since one process owns a file, a lock found at
      // open is stale.
      rmSync(`${path}.lock`, { recursive: true, force: true });
    }
    const sqlite = (await import('node-sqlite3-wasm')) as unknown as {
      Database: new (file: string) => Database;
      default?: { Database: new (file: string) => Database };
    };
    const DatabaseClass = sqlite.Database ?? sqlite.default?.Database;
    if (!DatabaseClass) throw new Error('node-sqlite3-wasm exports no Database');
    db = new DatabaseClass(path);
    // secure_delete: SQLite otherwise leaves deleted and overwritten rows in the file's free
    // pages, where a transcript removed by retention, or sealed by re-encryption, could still be
    // read from the file.
    db.exec('PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;');
    migrate(db);
  } catch (error) {
    throw new EarshotError('store_error', `cannot open SQLite store at ${path}: ${String(error)}`, {
      cause: error,
    });
  }
  const driver: SqlDriver = {
    kind: 'sqlite',
    async execute(sql, params = []) {
      // A statement that returns rows is read with `all`; any other is run for its changes.
      if (/^\s*SELECT/i.test(sql)) return { rows: db.all(sql, params), changes: 0 };
      return { rows: [], changes: db.run(sql, params).changes };
    },
    jsonText: (column, key) => `CAST(json_extract(${column}, '$.${key}') AS TEXT)`,
    async close() {
      db.close();
    },
  };
  return createSqlStore(driver);
}

function migrate(db: Database): void {
  const version = Number(db.get('PRAGMA user_version')?.user_version ?? 0);
  for (let next = version; next < MIGRATIONS.length; next++) {
    db.exec(`BEGIN; ${MIGRATIONS[next]} PRAGMA user_version = ${next + 1}; COMMIT;`);
  }
}
