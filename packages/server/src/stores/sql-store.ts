import { EarshotError } from '@earshot/protocol';
import { AGED_FROM_SQL, deleteLimit } from './session-age.js';
import { decodeCursor, pageSize, toPage } from './session-cursor.js';
import type {
  SessionQuery,
  SessionRecord,
  Store,
  StoredEvent,
  StoredEventType,
  StoredSegment,
} from './store.js';

/** A row as a database driver returns it. */
export type SqlRow = Record<string, unknown>;

/**
 * What {@link createSqlStore} needs from a database: SQLite and PostgreSQL differ only here.
 * Statements use `?` placeholders.
 */
export interface SqlDriver {
  readonly kind: string;
  /** Runs a statement; resolves the rows it returned and how many rows it changed. */
  execute(sql: string, params?: readonly unknown[]): Promise<{ rows: SqlRow[]; changes: number }>;
  /** SQL of the text value at `key` of a JSON column, compared as text. */
  jsonText(column: string, key: string): string;
  close(): Promise<void>;
}

const str = (v: unknown) =>
  v === null || v === undefined ? undefined : v instanceof Date ? v.toISOString() : String(v);
// SQLite hands JSON back as text, PostgreSQL (jsonb) already parsed.
const json = <T>(v: unknown): T | undefined =>
  v === null || v === undefined ? undefined : ((typeof v === 'string' ? JSON.parse(v) : v) as T);
const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

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
  metrics: 'metrics',
};
const JSON_COLUMNS = new Set<string>(['audio', 'metadata', 'summary', 'metrics']);

function columnValue(key: string, value: unknown): unknown {
  if (value === undefined || value === null) return null;
  return JSON_COLUMNS.has(key) ? JSON.stringify(value) : value;
}

function toSessionRecord(row: SqlRow): SessionRecord {
  return {
    id: String(row.id),
    status: row.status as SessionRecord['status'],
    createdAt: str(row.created_at)!,
    startedAt: str(row.started_at),
    endedAt: str(row.ended_at),
    provider: str(row.provider),
    audio: json(row.audio),
    language: str(row.language),
    metadata: json(row.metadata) ?? {},
    endReason: str(row.end_reason),
    summary: json(row.summary),
    metrics: json(row.metrics),
  };
}

function toSegment(row: SqlRow): StoredSegment {
  return {
    segmentId: String(row.segment_id),
    seq: Number(row.seq),
    text: String(row.text),
    start: Number(row.start_s),
    end: Number(row.end_s),
    confidence: num(row.confidence),
    speaker: num(row.speaker),
    words: json(row.words) ?? [],
    createdAt: str(row.created_at)!,
  };
}

function toEvent(row: SqlRow): StoredEvent {
  return {
    type: String(row.type) as StoredEventType,
    at: str(row.at)!,
    data: json(row.data) ?? {},
  };
}

/**
 * The store over a SQL database, written once for every driver: the same statements, the same
 * row mapping, the same errors. The schema itself (tables `sessions`, `segments`, `events`) is
 * created by each driver's migrations.
 */
export function createSqlStore(driver: SqlDriver): Store {
  const run = async <T>(what: string, action: () => Promise<T>): Promise<T> => {
    try {
      return await action();
    } catch (error) {
      if (EarshotError.isInstance(error)) throw error;
      throw new EarshotError('store_error', `${driver.kind} ${what} failed: ${String(error)}`, {
        cause: error,
      });
    }
  };
  const rows = async (sql: string, params: readonly unknown[] = []) =>
    (await driver.execute(sql, params)).rows;

  return {
    kind: driver.kind,
    createSession: (record) =>
      run('createSession', async () => {
        const keys = Object.keys(COLUMNS) as (keyof typeof COLUMNS)[];
        const values = [
          record.id,
          ...keys.map((k) => columnValue(k, record[k] ?? (k === 'metadata' ? {} : undefined))),
        ];
        await driver.execute(
          `INSERT INTO sessions (id, ${keys.map((k) => COLUMNS[k]).join(', ')})
           VALUES (${values.map(() => '?').join(', ')}) ON CONFLICT (id) DO NOTHING`,
          values,
        );
      }),
    updateSession: (id, patch) =>
      run('updateSession', async () => {
        const keys = (Object.keys(patch) as (keyof typeof COLUMNS)[]).filter((k) => k in COLUMNS);
        const sets = keys.map((k) => `${COLUMNS[k]} = ?`);
        // With nothing to change, still tell a missing session apart.
        const { changes } = await driver.execute(
          `UPDATE sessions SET ${sets.length > 0 ? sets.join(', ') : 'id = id'} WHERE id = ?`,
          [...keys.map((k) => columnValue(k, patch[k])), id],
        );
        if (changes === 0) throw new EarshotError('session_not_found', `no session ${id}`);
      }),
    getSession: (id) =>
      run('getSession', async () => {
        const [row] = await rows('SELECT * FROM sessions WHERE id = ?', [id]);
        return row ? toSessionRecord(row) : undefined;
      }),
    listSessions: (query: SessionQuery = {}) =>
      run('listSessions', async () => {
        const size = pageSize(query);
        const cursor = decodeCursor(query.cursor);
        const where: string[] = [];
        const params: unknown[] = [];
        if (query.status) {
          where.push('status = ?');
          params.push(query.status);
        }
        if (query.userId !== undefined) {
          where.push(`${driver.jsonText('metadata', 'userId')} = ?`);
          params.push(query.userId);
        }
        if (cursor) {
          where.push('(created_at < ? OR (created_at = ? AND id < ?))');
          params.push(cursor.createdAt, cursor.createdAt, cursor.id);
        }
        const found = await rows(
          `SELECT * FROM sessions ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
           ORDER BY created_at DESC, id DESC LIMIT ${size + 1}`,
          params,
        );
        return toPage(found.map(toSessionRecord), size);
      }),
    appendSegment: (sessionId, s) =>
      run('appendSegment', async () => {
        await driver.execute(
          `INSERT INTO segments
             (session_id, segment_id, seq, text, start_s, end_s, confidence, speaker, words, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (session_id, segment_id) DO NOTHING`,
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
      run('getSegments', async () =>
        (await rows('SELECT * FROM segments WHERE session_id = ? ORDER BY seq', [sessionId])).map(
          toSegment,
        ),
      ),
    appendEvent: (sessionId, event) =>
      run('appendEvent', async () => {
        await driver.execute(
          'INSERT INTO events (session_id, type, at, data) VALUES (?, ?, ?, ?)',
          [sessionId, event.type, event.at, JSON.stringify(event.data)],
        );
      }),
    getEvents: (sessionId) =>
      run('getEvents', async () =>
        (await rows('SELECT * FROM events WHERE session_id = ? ORDER BY id', [sessionId])).map(
          toEvent,
        ),
      ),
    replaceContent: (sessionId, content) =>
      run('replaceContent', async () => {
        for (const s of content.segments ?? []) {
          await driver.execute(
            'UPDATE segments SET text = ?, words = ? WHERE session_id = ? AND segment_id = ?',
            [s.text, JSON.stringify(s.words), sessionId, s.segmentId],
          );
        }
        if (!content.events?.length) return;
        // Callers know an event by its position; the row's own id is what an update can name.
        const ids = (
          await rows('SELECT id FROM events WHERE session_id = ? ORDER BY id', [sessionId])
        ).map((row) => row.id);
        for (const { index, data } of content.events) {
          const id = ids[index];
          if (id === undefined) continue;
          await driver.execute('UPDATE events SET data = ? WHERE id = ?', [
            JSON.stringify(data),
            id,
          ]);
        }
      }),
    deleteSessionsBefore: (before, options = {}) =>
      run('deleteSessionsBefore', async () => {
        const cutoff = before.toISOString();
        const keep = [...new Set(options.keep)];
        const notKept = keep.length > 0 ? ` AND id NOT IN (${keep.map(() => '?').join(', ')})` : '';
        const ids = (
          await rows(
            `SELECT id FROM sessions WHERE ${AGED_FROM_SQL} < ?${notKept}
             ORDER BY ${AGED_FROM_SQL}, id LIMIT ${deleteLimit(options)}`,
            [cutoff, ...keep],
          )
        ).map((row) => String(row.id));
        if (ids.length === 0) return [];
        const list = ids.map(() => '?').join(', ');
        // The age is checked again as the rows go: a session that started or ended since the
        // select (a resumed one) is no longer old. Segments and events go by ON DELETE CASCADE.
        const { changes } = await driver.execute(
          `DELETE FROM sessions WHERE id IN (${list}) AND ${AGED_FROM_SQL} < ?`,
          [...ids, cutoff],
        );
        if (changes === ids.length) return ids;
        const kept = new Set(
          (await rows(`SELECT id FROM sessions WHERE id IN (${list})`, ids)).map((row) =>
            String(row.id),
          ),
        );
        return ids.filter((id) => !kept.has(id));
      }),
    ping: () =>
      run('ping', async () => {
        await driver.execute('SELECT 1');
      }),
    close: () => run('close', () => driver.close()),
  };
}
