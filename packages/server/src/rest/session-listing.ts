import { EarshotError } from '@earshot/protocol';
import type { LiveSession, SessionControl } from '../control/session-control.js';
import type { SessionRecord, Store } from '../stores/store.js';
import type { ListSessionsQuery, SessionListItem, SessionListResponse } from './rest-schemas.js';

/** A place in the list's order: newest first by `createdAt`, then by id. */
type Key = readonly [createdAt: string, id: string];

/**
 * Where the next page starts: after `key` (the last session the previous page dealt with),
 * reading the store from `storeCursor` (the store page that session came from) and skipping
 * what is not after `key`. Opaque to callers (base64url JSON).
 */
interface ListCursor {
  readonly key: Key;
  readonly storeCursor?: string;
}

interface Entry {
  readonly key: Key;
  readonly item: SessionListItem;
  /** The store cursor of the page the record came from; absent for live entries. */
  readonly from?: string | undefined;
  /** A live session the store's rows read for this page do not hold. */
  readonly live?: LiveSession;
}

/**
 * One page of the admin list: the store's sessions merged with the live ones (which carry
 * their current figures), newest first, filtered by status and user.
 *
 * The store pages the stored sessions; live sessions the store does not hold yet (connected,
 * not started) are slotted in by their creation time. The cursor is a key in that order, so
 * a session is listed once across pages even as sessions start and end between requests.
 */
export async function listSessionPage(
  store: Store,
  control: SessionControl,
  query: ListSessionsQuery,
): Promise<SessionListResponse> {
  const after = decodeListCursor(query.cursor);
  const [stored, live] = await Promise.all([
    readStoredAfter(store, query, after, query.limit + 1),
    control.listLive(query.userId === undefined ? {} : { userId: query.userId }),
  ]);
  const liveById = new Map(live.map((session) => [session.sessionId, session]));
  const storedIds = new Set(stored.rows.map((row) => row.record.id));

  const entries: Entry[] = stored.rows.map(({ record, from }) => ({
    key: [record.createdAt, record.id],
    item: fromRecord(record, liveById.get(record.id)),
    from,
  }));
  for (const session of live) {
    if (storedIds.has(session.sessionId)) continue;
    const key: Key = [session.startedAt, session.sessionId];
    if (after && !isAfter(key, after.key)) continue;
    entries.push({ key, item: fromLive(session), live: session });
  }
  entries.sort((a, b) => (isAfter(a.key, b.key) ? 1 : -1));
  // While the store has more, a live entry older than its last row read may belong after
  // stored sessions not read yet: it waits for a later page.
  const lastRead = stored.rows.at(-1);
  const inReach = stored.exhausted
    ? entries
    : entries.filter(
        (e) => !lastRead || !isAfter(e.key, [lastRead.record.createdAt, lastRead.record.id]),
      );

  const page: SessionListItem[] = [];
  let last: Entry | undefined;
  let storeCursor = after?.storeCursor;
  let handled = 0;
  for (const entry of inReach) {
    if (page.length === query.limit) break;
    handled++;
    last = entry;
    if (!entry.live) storeCursor = entry.from;
    // Listed with its live status: a stored row whose session has moved on is not.
    if (query.status !== undefined && entry.item.status !== query.status) continue;
    if (!entry.live) {
      page.push(entry.item);
      continue;
    }
    // A live session may be stored all the same: one minted over REST is stored at its REST
    // time, not at its connect time. It is listed at its stored place when the store lists it
    // under this query, else here, with its record.
    const record = await store.getSession(entry.item.id);
    if (record && storeLists(record, query)) continue;
    page.push(record ? fromRecord(record, entry.live) : entry.item);
  }
  const more = handled < inReach.length || !stored.exhausted;
  if (!more || !last) return { sessions: page };
  return { sessions: page, nextCursor: encodeListCursor({ key: last.key, storeCursor }) };
}

/** The stored sessions after `after`, at least `want` of them when the store has that many. */
async function readStoredAfter(
  store: Store,
  query: ListSessionsQuery,
  after: ListCursor | undefined,
  want: number,
): Promise<{ rows: { record: SessionRecord; from: string | undefined }[]; exhausted: boolean }> {
  const rows: { record: SessionRecord; from: string | undefined }[] = [];
  let cursor = after?.storeCursor;
  for (;;) {
    const page = await store.listSessions({
      status: query.status,
      userId: query.userId,
      limit: want,
      cursor,
    });
    for (const record of page.sessions) {
      if (!after || isAfter([record.createdAt, record.id], after.key)) {
        rows.push({ record, from: cursor });
      }
    }
    if (!page.nextCursor) return { rows, exhausted: true };
    if (rows.length >= want) return { rows, exhausted: false };
    cursor = page.nextCursor;
  }
}

/** Whether the store lists `record` under `query`'s filters (as the stores compare them). */
function storeLists(record: SessionRecord, query: ListSessionsQuery): boolean {
  const userId = record.metadata.userId;
  return (
    (query.status === undefined || record.status === query.status) &&
    (query.userId === undefined ||
      (userId !== undefined && userId !== null && String(userId) === query.userId))
  );
}

/** Whether `a` comes after `b` in the newest-first order. */
function isAfter(a: Key, b: Key): boolean {
  if (a[0] !== b[0]) return a[0] < b[0];
  return a[1] < b[1];
}

function fromRecord(record: SessionRecord, live: LiveSession | undefined): SessionListItem {
  return {
    id: record.id,
    status: live?.status ?? record.status,
    createdAt: record.createdAt,
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    provider: live?.provider ?? record.provider,
    audio: live?.audio ?? record.audio,
    language: record.language,
    metadata: live?.metadata ?? record.metadata,
    endReason: record.endReason,
    summary: record.summary,
    metrics: live?.metrics ?? record.metrics,
    stored: true,
    live: live ?? null,
  };
}

function fromLive(live: LiveSession): SessionListItem {
  return {
    id: live.sessionId,
    status: live.status,
    createdAt: live.startedAt,
    provider: live.provider,
    audio: live.audio,
    metadata: live.metadata,
    metrics: live.metrics,
    stored: false,
    live,
  };
}

function encodeListCursor(cursor: ListCursor): string {
  return Buffer.from(
    JSON.stringify([cursor.key[0], cursor.key[1], cursor.storeCursor ?? null]),
  ).toString('base64url');
}

function decodeListCursor(cursor: string | undefined): ListCursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 3 &&
      typeof parsed[0] === 'string' &&
      typeof parsed[1] === 'string' &&
      (parsed[2] === null || typeof parsed[2] === 'string')
    ) {
      return { key: [parsed[0], parsed[1]], storeCursor: parsed[2] ?? undefined };
    }
  } catch {
    // fall through to the typed error
  }
  throw new EarshotError('invalid_request', 'cursor is not one this server returned');
}
