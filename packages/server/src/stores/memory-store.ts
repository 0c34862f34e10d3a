import { EarshotError } from '@earshot/protocol';
import { agedFrom, deleteLimit } from './session-age.js';
import { decodeCursor, isAfterCursor, pageSize, toPage } from './session-cursor.js';
import type { SessionQuery, SessionRecord, Store, StoredEvent, StoredSegment } from './store.js';

// Compared as text, as the SQL stores compare it.
const userIdOf = (s: SessionRecord) =>
  s.metadata.userId === undefined || s.metadata.userId === null
    ? undefined
    : String(s.metadata.userId);

/**
 * A store that keeps everything in this process's memory: for tests and for apps that persist
 * transcripts elsewhere. Nothing survives a restart.
 *
 * @example
 * ```ts
 * createEarshotServer({ provider, store: createMemoryStore() });
 * ```
 */
export function createMemoryStore(): Store {
  const sessions = new Map<string, SessionRecord>();
  const segments = new Map<string, StoredSegment[]>();
  const events = new Map<string, StoredEvent[]>();

  return {
    kind: 'memory',
    async createSession(record) {
      if (!sessions.has(record.id)) sessions.set(record.id, structuredClone(record));
    },
    async updateSession(id, patch) {
      const current = sessions.get(id);
      if (!current) throw new EarshotError('session_not_found', `no session ${id}`);
      sessions.set(id, { ...current, ...structuredClone(patch) });
    },
    async getSession(id) {
      const record = sessions.get(id);
      return record && structuredClone(record);
    },
    async listSessions(query: SessionQuery = {}) {
      const size = pageSize(query);
      const cursor = decodeCursor(query.cursor);
      const rows = [...sessions.values()]
        .filter(
          (s) =>
            (query.status === undefined || s.status === query.status) &&
            (query.userId === undefined || userIdOf(s) === query.userId) &&
            (cursor === undefined || isAfterCursor(s, cursor)),
        )
        .sort((a, b) => (isAfterCursor(a, b) ? 1 : -1))
        .slice(0, size + 1);
      return toPage(
        rows.map((s) => structuredClone(s)),
        size,
      );
    },
    async appendSegment(sessionId, segment) {
      const list = segments.get(sessionId) ?? [];
      if (list.some((s) => s.segmentId === segment.segmentId)) return;
      list.push(structuredClone(segment));
      segments.set(sessionId, list);
    },
    async getSegments(sessionId) {
      return structuredClone(segments.get(sessionId) ?? []).sort((a, b) => a.seq - b.seq);
    },
    async appendEvent(sessionId, event) {
      const list = events.get(sessionId) ?? [];
      list.push(structuredClone(event));
      events.set(sessionId, list);
    },
    async getEvents(sessionId) {
      return structuredClone(events.get(sessionId) ?? []);
    },
    async replaceContent(sessionId, content) {
      const storedSegments = segments.get(sessionId) ?? [];
      for (const { segmentId, text, words } of content.segments ?? []) {
        const i = storedSegments.findIndex((s) => s.segmentId === segmentId);
        if (i >= 0)
          storedSegments[i] = { ...storedSegments[i]!, ...structuredClone({ text, words }) };
      }
      const storedEvents = events.get(sessionId) ?? [];
      for (const { index, data } of content.events ?? []) {
        const event = storedEvents[index];
        if (event) storedEvents[index] = { ...event, data: structuredClone(data) };
      }
    },
    async deleteSessionsBefore(before, options = {}) {
      const keep = new Set(options.keep);
      const old = [...sessions.values()]
        .filter((s) => !keep.has(s.id) && Date.parse(agedFrom(s)) < before.getTime())
        .sort((a, b) => Date.parse(agedFrom(a)) - Date.parse(agedFrom(b)) || (a.id < b.id ? -1 : 1))
        .slice(0, deleteLimit(options))
        .map((s) => s.id);
      for (const id of old) {
        sessions.delete(id);
        segments.delete(id);
        events.delete(id);
      }
      return old;
    },
    async ping() {},
    async close() {
      sessions.clear();
      segments.clear();
      events.clear();
    },
  };
}
