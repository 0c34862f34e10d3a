import { EarshotError } from '@earshot/protocol';
import {
  DEFAULT_PAGE_SIZE,
  MAX_PAGE_SIZE,
  type SessionPage,
  type SessionQuery,
  type SessionRecord,
} from './store.js';

/** Where a page of sessions ends: sessions are ordered by `createdAt` then `id`, newest first. */
export interface SessionCursor {
  readonly createdAt: string;
  readonly id: string;
}

/** The page size a query asks for, within bounds. */
export function pageSize(query: SessionQuery): number {
  const limit = Math.floor(query.limit ?? DEFAULT_PAGE_SIZE);
  return Math.min(Math.max(limit, 1), MAX_PAGE_SIZE);
}

/** Reads a query's cursor; a cursor the store did not make is `invalid_request`. */
export function decodeCursor(cursor: string | undefined): SessionCursor | undefined {
  if (cursor === undefined) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (
      Array.isArray(parsed) &&
      parsed.length === 2 &&
      typeof parsed[0] === 'string' &&
      typeof parsed[1] === 'string'
    ) {
      return { createdAt: parsed[0], id: parsed[1] };
    }
  } catch {
    // fall through to the typed error
  }
  throw new EarshotError('invalid_request', 'cursor is not one this server returned');
}

/**
 * Makes a page from up to `size + 1` sessions read in order: the extra one only tells that
 * there is a next page.
 */
export function toPage(rows: SessionRecord[], size: number): SessionPage {
  if (rows.length <= size) return { sessions: rows };
  const sessions = rows.slice(0, size);
  const last = sessions[sessions.length - 1]!;
  const nextCursor = Buffer.from(JSON.stringify([last.createdAt, last.id])).toString('base64url');
  return { sessions, nextCursor };
}

/** Whether `record` comes after `cursor` in the newest-first order. */
export function isAfterCursor(record: SessionRecord, cursor: SessionCursor): boolean {
  if (record.createdAt !== cursor.createdAt) return record.createdAt < cursor.createdAt;
  return record.id < cursor.id;
}
