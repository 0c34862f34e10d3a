// The store Earshot runs with in the load bench: in memory, but keeping only what a database
// would keep *in the server's process* — nothing. Live sessions' records are held (Earshot reads
// them back at admission), and a session is forgotten once its end is written; finals and
// events are counted, not kept.
//
// Why not createMemoryStore()? It keeps every session, final and event for the life of the
// process, by design (it is for tests): 1000 sessions finalising every 2 s add ~60 MB in five
// minutes and grow with every connect-drop cycle, which would be counted as Earshot's memory per
// session and as a leak. In production the store is PostgreSQL or SQLite and that memory lives
// elsewhere. `--store memory` runs the bench with createMemoryStore() to show what it holds.
import { createMemoryStore, type SessionRecord, type Store } from '@earshot/server';

/** Writes the transient store took: what a real store would have had to keep. */
export interface TransientStoreCounts {
  sessions: number;
  segments: number;
  events: number;
}

/** A store that holds live sessions only; see the file's comment. */
export function createTransientStore(): { store: Store; counts: TransientStoreCounts } {
  const live = new Map<string, SessionRecord>();
  const counts: TransientStoreCounts = { sessions: 0, segments: 0, events: 0 };
  // Methods not overridden below (admin-only ones) answer from an empty memory store.
  const store: Store = {
    ...createMemoryStore(),
    kind: 'transient',
    async createSession(record) {
      if (live.has(record.id)) return;
      live.set(record.id, record);
      counts.sessions++;
    },
    async updateSession(id, patch) {
      const current = live.get(id);
      if (!current) return;
      if (patch.status === 'ended' || patch.status === 'failed') live.delete(id);
      else live.set(id, { ...current, ...patch });
    },
    async getSession(id) {
      return live.get(id);
    },
    async listSessions() {
      return { sessions: [...live.values()].slice(0, 100) };
    },
    async appendSegment() {
      counts.segments++;
    },
    async getSegments() {
      return [];
    },
    async appendEvent() {
      counts.events++;
    },
    async getEvents() {
      return [];
    },
    async ping() {},
    async close() {
      live.clear();
    },
  };
  return { store, counts };
}
