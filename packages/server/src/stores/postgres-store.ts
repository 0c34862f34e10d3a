import { EarshotError } from '@earshot/protocol';
import type { Pool } from 'pg';
import { createSqlStore, type SqlDriver } from './sql-store.js';
import type { Store } from './store.js';

/** Options of {@link createPostgresStore}. */
export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` */
  readonly connectionString: string;
  /** Most connections the pool opens. Default 10. */
  readonly maxConnections?: number;
  /** Milliseconds a query may wait for a connection before it fails. Default 5000. */
  readonly connectionTimeoutMs?: number;
  /**
   * More settings of `pg`'s `Pool` (`ssl`, `statement_timeout`, …), merged over the ones
   * above. Typed loosely so that apps without `pg`'s types still compile.
   */
  readonly pool?: Readonly<Record<string, unknown>>;
}

// Versioned migrations: each runs once, in order, in a transaction, and is recorded in
// `earshot_migrations`. Released entries are never edited; a change is a new entry.
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE sessions (
     id TEXT PRIMARY KEY,
     status TEXT NOT NULL,
     created_at TIMESTAMPTZ NOT NULL,
     started_at TIMESTAMPTZ,
     ended_at TIMESTAMPTZ,
     provider TEXT,
     audio JSONB,
     language TEXT,
     metadata JSONB NOT NULL,
     end_reason TEXT,
     summary JSONB,
     metrics JSONB
   );
   CREATE INDEX sessions_by_created ON sessions (created_at DESC, id DESC);
   CREATE INDEX sessions_by_status ON sessions (status, created_at DESC);
   CREATE INDEX sessions_by_user ON sessions ((metadata ->> 'userId'), created_at DESC);
   CREATE TABLE segments (
     session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
     segment_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     text TEXT NOT NULL,
     start_s DOUBLE PRECISION NOT NULL,
     end_s DOUBLE PRECISION NOT NULL,
     confidence DOUBLE PRECISION,
     speaker INTEGER,
     words JSONB NOT NULL,
     created_at TIMESTAMPTZ NOT NULL,
     PRIMARY KEY (session_id, segment_id)
   );
   CREATE TABLE events (
     id BIGSERIAL PRIMARY KEY,
     session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
     type TEXT NOT NULL,
     at TIMESTAMPTZ NOT NULL,
     data JSONB NOT NULL
   );
   CREATE INDEX events_by_session ON events (session_id, id);`,
];

// Any fixed number: it names the lock that serialises migrations across nodes.
const MIGRATION_LOCK = 7_253_001;

/**
 * A store in PostgreSQL through `pg` (an optional peer dependency: `npm install pg`), with a
 * connection pool and versioned migrations that run at open. Several Earshot nodes may share
 * one database; they serialise their migrations on an advisory lock.
 *
 * @example
 * ```ts
 * const store = await createPostgresStore({ connectionString: process.env.DATABASE_URL! });
 * ```
 */
export async function createPostgresStore(options: PostgresStoreOptions): Promise<Store> {
  let pg: typeof import('pg');
  try {
    const loaded = (await import('pg')) as typeof import('pg') & { default?: typeof import('pg') };
    pg = loaded.default ?? loaded;
  } catch (error) {
    throw new EarshotError(
      'store_error',
      'the PostgreSQL store needs the "pg" package: npm install pg',
      { cause: error },
    );
  }
  const pool: Pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
    ...options.pool,
  });
  // An idle connection that dies (the server restarted) must not crash the process: the pool
  // drops it, and the next query opens a new one.
  pool.on('error', () => {});
  try {
    await migrate(pool);
  } catch (error) {
    await pool.end().catch(() => {});
    throw new EarshotError(
      'store_error',
      `cannot open PostgreSQL store: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
  const driver: SqlDriver = {
    kind: 'postgres',
    async execute(sql, params = []) {
      let n = 0;
      const result = await pool.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params as unknown[],
      );
      return { rows: result.rows, changes: result.rowCount ?? 0 };
    },
    jsonText: (column, key) => `(${column} ->> '${key}')`,
    close: () => pool.end(),
  };
  return createSqlStore(driver);
}

async function migrate(pool: Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS earshot_migrations (
         version INTEGER PRIMARY KEY,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM earshot_migrations',
    );
    for (let next = rows[0]?.version ?? 0; next < MIGRATIONS.length; next++) {
      await client.query(MIGRATIONS[next]!);
      await client.query('INSERT INTO earshot_migrations (version) VALUES ($1)', [next + 1]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
