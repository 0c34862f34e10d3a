import { CloseCode } from '@earshot/protocol';
import type { ServerEvents } from '../server-events.js';
import type { Session } from '../session/session.js';
import type { SessionRegistry } from '../session/session-registry.js';
import type {
  BroadcastTarget,
  LiveSession,
  SessionControl,
  SessionObserver,
} from './session-control.js';

/** A live session's admin view. */
export function liveSessionOf(session: Session, node: string): LiveSession {
  const { type: _type, ...info } = session.info();
  return { ...info, metadata: session.metadata, node };
}

/** Whether `session` is one `target` names. */
export function isTargeted(session: Session, target: BroadcastTarget): boolean {
  if ('all' in target) return true;
  if ('sessionId' in target) return session.id === target.sessionId;
  const userId = session.metadata.userId;
  return userId !== undefined && userId !== null && String(userId) === target.userId;
}

/** {@link SessionControl} over the sessions of this process only: a single node. */
export class LocalSessionControl implements SessionControl {
  constructor(
    readonly node: string,
    private readonly registry: SessionRegistry,
    private readonly events: ServerEvents,
  ) {}

  async listLive(filter: { readonly userId?: string } = {}): Promise<LiveSession[]> {
    const { userId } = filter;
    return this.registry
      .list()
      .filter((s) => userId === undefined || isTargeted(s, { userId }))
      .map((s) => liveSessionOf(s, this.node));
  }

  async getLive(id: string): Promise<LiveSession | undefined> {
    const session = this.registry.get(id);
    return session && liveSessionOf(session, this.node);
  }

  async end(id: string): Promise<LiveSession | undefined> {
    const session = this.registry.get(id);
    if (!session) return undefined;
    await session.end('ended', CloseCode.SessionEnded);
    return liveSessionOf(session, this.node);
  }

  async broadcast(target: BroadcastTarget, payload: unknown): Promise<number> {
    const reached = this.registry.list().filter((s) => isTargeted(s, target));
    for (const session of reached) session.broadcast(payload);
    return reached.length;
  }

  async observe(id: string, observer: SessionObserver): Promise<() => void> {
    const listener = (event: { sessionId: string; message: Parameters<SessionObserver>[0] }) => {
      if (event.sessionId === id) observer(event.message);
    };
    this.events.on('session_message', listener);
    return () => this.events.off('session_message', listener);
  }
}
