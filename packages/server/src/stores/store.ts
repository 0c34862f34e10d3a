import type { AudioFormat, Metadata, SessionStatus, SessionSummary, Word } from '@earshot/protocol';

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
  readonly metadata: Metadata;
  /** Why it ended (`stopped`, `ended`, `error`, `timeout`, `shutdown`, `disconnected`). */
  readonly endReason?: string;
  readonly summary?: SessionSummary;
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

/** Filter of {@link Store.listSessions}. */
export interface SessionQuery {
  readonly status?: SessionStatus;
  readonly limit?: number;
}

/**
 * Where sessions and their final transcripts are kept. Every method rejects with an
 * `EarshotError` of code `store_error` on failure.
 *
 * A final is written with {@link Store.appendSegment} and only then sent to the client, so a
 * client that saw a final can always find it stored.
 */
export interface Store {
  /** Short name for logs and health (`memory`, `sqlite`). */
  readonly kind: string;
  /** Stores a new session. */
  createSession(record: SessionRecord): Promise<void>;
  /** Merges `patch` into the stored session. Rejects with `session_not_found` if absent. */
  updateSession(id: string, patch: Partial<Omit<SessionRecord, 'id'>>): Promise<void>;
  /** The stored session, or `undefined` when there is none with that id. */
  getSession(id: string): Promise<SessionRecord | undefined>;
  /** Newest first. */
  listSessions(query?: SessionQuery): Promise<SessionRecord[]>;
  /** Stores a final segment durably. Idempotent by `(sessionId, segmentId)`. */
  appendSegment(sessionId: string, segment: StoredSegment): Promise<void>;
  /** The session's final segments in `seq` order. */
  getSegments(sessionId: string): Promise<StoredSegment[]>;
  /** Releases the store's resources. */
  close(): Promise<void>;
}
