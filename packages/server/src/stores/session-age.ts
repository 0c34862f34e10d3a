import {
  DEFAULT_DELETE_BATCH,
  type DeleteSessionsOptions,
  MAX_PAGE_SIZE,
  type SessionRecord,
} from './store.js';

/**
 * The time a session's age counts from, as `Store.deleteSessionsBefore` reads it: when it
 * ended, else when it started streaming, else when it was created. The latest time known, so a
 * session that ran long is never judged by its beginning.
 */
export function agedFrom(record: SessionRecord): string {
  return record.endedAt ?? record.startedAt ?? record.createdAt;
}

/** {@link agedFrom} in SQL, over the columns of the `sessions` table. */
export const AGED_FROM_SQL = 'COALESCE(ended_at, started_at, created_at)';

/** How many sessions one call of `Store.deleteSessionsBefore` may delete, within bounds. */
export function deleteLimit(options: DeleteSessionsOptions): number {
  const limit = Math.floor(options.limit ?? DEFAULT_DELETE_BATCH);
  return Math.min(Math.max(limit, 1), MAX_PAGE_SIZE);
}
