import { EarshotError } from '@earshot/protocol';
import type { SessionQuery, SessionRecord, Store, StoredSegment } from './store.js';

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

  return {
    kind: 'memory',
    async createSession(record) {
      sessions.set(record.id, { ...record });
    },
    async updateSession(id, patch) {
      const current = sessions.get(id);
      if (!current) throw new EarshotError('session_not_found', `no session ${id}`);
      sessions.set(id, { ...current, ...patch });
    },
    async getSession(id) {
      return sessions.get(id);
    },
    async listSessions(query: SessionQuery = {}) {
      const all = [...sessions.values()]
        .filter((s) => query.status === undefined || s.status === query.status)
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt));
      return query.limit === undefined ? all : all.slice(0, query.limit);
    },
    async appendSegment(sessionId, segment) {
      const list = segments.get(sessionId) ?? [];
      if (list.some((s) => s.segmentId === segment.segmentId)) return;
      list.push(segment);
      segments.set(sessionId, list);
    },
    async getSegments(sessionId) {
      return [...(segments.get(sessionId) ?? [])].sort((a, b) => a.seq - b.seq);
    },
    async close() {
      sessions.clear();
      segments.clear();
    },
  };
}
