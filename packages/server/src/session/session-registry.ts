import type { Session } from './session.js';

/** Told when a session joins or leaves this process (the cluster registry follows it). */
export interface SessionRegistryWatcher {
  added(session: Session): void;
  removed(session: Session): void;
}

/** The live sessions of this server process, by id. */
export class SessionRegistry {
  private readonly sessions = new Map<string, Session>();
  private readonly watchers = new Set<SessionRegistryWatcher>();

  get size(): number {
    return this.sessions.size;
  }

  add(session: Session): void {
    this.sessions.set(session.id, session);
    for (const watcher of this.watchers) watcher.added(session);
  }

  remove(session: Session): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    for (const watcher of this.watchers) watcher.removed(session);
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  list(): Session[] {
    return [...this.sessions.values()];
  }

  /** Calls `watcher` for every session added or removed from now on. */
  watch(watcher: SessionRegistryWatcher): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }
}
