import type { AudioFormat, Metadata, SessionStatus, SessionSummary, Word } from '@earshot/protocol';
import type { SessionMetrics } from '../session/session-metrics.js';

/** A session as the store keeps it. */
export interface SessionRecord {
  readonly id: string;
  readonly status: SessionStatus;
  /** ISO 8601 time the session was created (REST or connect). */
  readonly createdAt: string;
  /** ISO 8601 time audio streaming started (`ready` was sent). */
  readonly startedAt?: string;
  /** ISO 8601 time the session ended. */
  readonly endedAt?: string;
  readonly provider?: string;
  readonly audio?: AudioFormat;
  readonly language?: string;
  /** The app's metadata (user, org, patient…). `userId` is what sessions are filtered by. */
  readonly metadata: Metadata;
  /** Why it ended (`stopped`, `ended`, `error`, `timeout`, `shutdown`, `disconnected`). */
  readonly endReason?: string;
  readonly summary?: SessionSummary;
  /** The session's figures, stored when it ends. */
  readonly metrics?: SessionMetrics;
}

/** A final transcript segment as the store keeps it. */
export interface StoredSegment {
  readonly segmentId: string;
  /** Position of the segment in the session, from 0, in the order finals were produced. */
  readonly seq: number;
  readonly text: string;
  /** Seconds of session audio. */
  readonly start: number;
  readonly end: number;
  readonly confidence?: number;
  readonly speaker?: number;
  readonly words: readonly Word[];
  /** ISO 8601 time the final was stored. */
  readonly createdAt: string;
}

/**
 * What a stored event records: `command` (a voice command and what became of it, the `command`
 * message the client got), `error` (an error the session reported, the `error` message),
 * `broadcast` (an application broadcast delivered), `session_end_hook` (the outcome of the
 * `onSessionEnd` hook: its result or its last error, and attempts), `dtmf` (a key the caller
 * pressed on a phone call, `{ digit }`).
 */
export const STORED_EVENT_TYPES = [
  'command',
  'error',
  'broadcast',
  'session_end_hook',
  'dtmf',
] as const;

/** One of {@link STORED_EVENT_TYPES}. */
export type StoredEventType = (typeof STORED_EVENT_TYPES)[number];

/** Something that happened in a session besides its transcript. */
export interface StoredEvent {
  readonly type: StoredEventType;
  /** ISO 8601 time it happened. */
  readonly at: string;
  /** The event's JSON content: for messages, the message as sent. */
  readonly data: Readonly<Record<string, unknown>>;
}

/** Filter and page of {@link Store.listSessions}. */
export interface SessionQuery {
  readonly status?: SessionStatus;
  /** Only sessions whose `metadata.userId` is this. */
  readonly userId?: string;
  /** At most this many sessions. Default 100. */
  readonly limit?: number;
  /** Continue after the page that returned this cursor. */
  readonly cursor?: string;
}

/** Options of {@link Store.deleteSessionsBefore}. */
export interface DeleteSessionsOptions {
  /**
   * Ids never to delete, whatever their times: the sessions live now. A session that is still
   * running has no `endedAt`, so only its start could make it look old.
   */
  readonly keep?: Iterable<string>;
  /** At most this many sessions per call (1–1000). Default 500. */
  readonly limit?: number;
}

/**
 * New content for what a session already has stored, for {@link Store.replaceContent}: each
 * entry names a stored segment (by `segmentId`) or event (by its position in
 * {@link Store.getEvents}, from 0) and what its content becomes.
 */
export interface ContentReplacement {
  /** Segments by `segmentId`, with their new `text` and `words`. */
  readonly segments?: readonly Pick<StoredSegment, 'segmentId' | 'text' | 'words'>[];
  /** Events by position, with their new `data`. */
  readonly events?: readonly {
    readonly index: number;
    readonly data: StoredEvent['data'];
  }[];
}

/** One page of {@link Store.listSessions}, newest first. */
export interface SessionPage {
  readonly sessions: SessionRecord[];
  /** Pass as `cursor` for the next page; absent on the last page. */
  readonly nextCursor?: string;
}

/**
 * Where sessions, their final transcripts and their events are kept. Every method rejects
 * with an `EarshotError` of code `store_error` on failure (or `invalid_request` for a cursor
 * the store did not make).
 *
 * A final is written with {@link Store.appendSegment} and only then sent to the client, so a
 * client that saw a final can always find it stored. The same test suite runs against every
 * implementation (`memory`, `sqlite`, `postgres`).
 */
export interface Store {
  /** Short name for logs and health (`memory`, `sqlite`, `postgres`). */
  readonly kind: string;
  /** Stores a new session. Idempotent by id: creating an existing session changes nothing. */
  createSession(record: SessionRecord): Promise<void>;
  /** Merges `patch` into the stored session. Rejects with `session_not_found` if absent. */
  updateSession(id: string, patch: Partial<Omit<SessionRecord, 'id'>>): Promise<void>;
  /** The stored session, or `undefined` when there is none with that id. */
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Sessions newest first (by `createdAt`, then id), filtered and paged. */
  listSessions(query?: SessionQuery): Promise<SessionPage>;
  /** Stores a final segment durably. Idempotent by `(sessionId, segmentId)`. */
  appendSegment(sessionId: string, segment: StoredSegment): Promise<void>;
  /** The session's final segments in `seq` order. */
  getSegments(sessionId: string): Promise<StoredSegment[]>;
  /** Stores an event of the session. */
  appendEvent(sessionId: string, event: StoredEvent): Promise<void>;
  /** The session's events in the order they were stored. */
  getEvents(sessionId: string): Promise<StoredEvent[]>;
  /**
   * Replaces the content of stored segments (`text`, `words`) and events (`data`) of a session
   * in place, leaving their ids, times and order as they were; an entry that names nothing
   * stored is skipped. Segments and events are never changed once stored otherwise, so this
   * cannot undo a concurrent write: it is how values are re-encrypted under a new key while
   * sessions go on (see `encryptStore`).
   */
  replaceContent(sessionId: string, content: ContentReplacement): Promise<void>;
  /**
   * Deletes sessions, with their segments and events, that ended before `before`, and those
   * that never ended whose start (`startedAt`, else `createdAt`) is before it, except the ids
   * in `options.keep`. Oldest first, at most `options.limit` per call; resolves the ids it
   * deleted, so a caller repeats until fewer than the limit come back. The retention sweeper
   * runs it.
   */
  deleteSessionsBefore(before: Date, options?: DeleteSessionsOptions): Promise<string[]>;
  /** Resolves when the store answers; rejects with `store_error` when it does not. */
  ping(): Promise<void>;
  /** Releases the store's resources. */
  close(): Promise<void>;
}

/** Sessions in a page of {@link Store.listSessions} when the query names no limit. */
export const DEFAULT_PAGE_SIZE = 100;
/** Most sessions in one page of {@link Store.listSessions}. */
export const MAX_PAGE_SIZE = 1000;
/** Sessions one call of {@link Store.deleteSessionsBefore} deletes when it names no limit. */
export const DEFAULT_DELETE_BATCH = 500;
