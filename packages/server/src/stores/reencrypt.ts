import {
  eventKeyId,
  openEventData,
  openSegment,
  sealEventData,
  sealSegment,
  segmentKeyId,
} from './sealed-content.js';
import type { Store } from './store.js';
import type { ValueCipher } from './value-cipher.js';

/** Options of `EncryptedStore.reencrypt`. */
export interface ReencryptOptions {
  /** Sessions read per page (1–1000). Default 100. */
  readonly batchSize?: number;
  /** Continue after the page that returned this cursor (from a progress report or a result). */
  readonly cursor?: string;
  /** Stops the walk after the page in hand; the result carries the cursor to continue from. */
  readonly signal?: AbortSignal;
  /** Told after each page how far the walk has come. */
  readonly onProgress?: (progress: ReencryptProgress) => void;
}

/** How far a re-encryption has come. */
export interface ReencryptProgress {
  /** Sessions walked in this run. */
  readonly sessions: number;
  /** Values (segments and events) rewritten under the first key in this run. */
  readonly rewritten: number;
  /** Pass as `cursor` to continue after the last page walked; absent once every page is. */
  readonly cursor?: string;
}

/** What a re-encryption did. */
export interface ReencryptResult extends ReencryptProgress {
  /** Whether every session was walked (`false` when `signal` stopped it: see `cursor`). */
  readonly done: boolean;
}

const DEFAULT_BATCH = 100;

/**
 * Walks every session of `store` (the store beneath the encryption) page by page and rewrites
 * each segment and event that is not sealed under `cipher`'s current key: values under an older
 * key, and plaintext written before encryption was turned on.
 *
 * Safe while sessions go on: a segment or an event never changes once stored, so a rewrite
 * cannot undo a write; sessions created during the walk are written under the current key
 * already. Resumable: from a cursor, and also from scratch, since values already under the
 * current key are skipped, not rewritten.
 */
export async function reencryptStore(
  store: Store,
  cipher: ValueCipher,
  options: ReencryptOptions = {},
): Promise<ReencryptResult> {
  let sessions = 0;
  let rewritten = 0;
  let cursor = options.cursor;
  do {
    if (options.signal?.aborted) return { sessions, rewritten, cursor, done: false };
    const page = await store.listSessions({ limit: options.batchSize ?? DEFAULT_BATCH, cursor });
    // One session at a time: the walk shares the database with live sessions.
    for (const { id } of page.sessions) rewritten += await reencryptSession(store, cipher, id);
    sessions += page.sessions.length;
    cursor = page.nextCursor;
    options.onProgress?.({ sessions, rewritten, cursor });
  } while (cursor !== undefined);
  return { sessions, rewritten, done: true };
}

async function reencryptSession(store: Store, cipher: ValueCipher, id: string): Promise<number> {
  const segments = (await store.getSegments(id))
    .filter((segment) => segmentKeyId(segment) !== cipher.keyId)
    .map((segment) => sealSegment(cipher, id, openSegment(cipher, id, segment)));
  const events = (await store.getEvents(id)).flatMap(({ data }, index) =>
    eventKeyId(data) === cipher.keyId
      ? []
      : [{ index, data: sealEventData(cipher, id, openEventData(cipher, id, data)) }],
  );
  const count = segments.length + events.length;
  if (count > 0) await store.replaceContent(id, { segments, events });
  return count;
}
