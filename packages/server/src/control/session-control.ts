import type { Metadata, ServerMessageInput, SessionInfoMessage } from '@earshot/protocol';

/** A live session as the admin sees it, on whichever node runs it. */
export interface LiveSession extends Omit<SessionInfoMessage, 'type'> {
  readonly metadata: Metadata;
  /** The node that runs it (its `nodeId`). */
  readonly node: string;
}

/** Whom a broadcast reaches. */
export type BroadcastTarget =
  | { readonly all: true }
  | { readonly sessionId: string }
  /** Every live session whose `metadata.userId` is this. */
  | { readonly userId: string };

/** Receives the messages a live session sends, as its client gets them. */
export type SessionObserver = (message: ServerMessageInput) => void;

/**
 * The admin's view of live sessions: on one node, the sessions of this process; with a
 * cluster bus, every node's, with `end` and `broadcast` carried out where the session runs.
 * The REST admin is written against this alone.
 */
export interface SessionControl {
  /** This node's id. */
  readonly node: string;
  /** Live sessions, optionally only one user's. */
  listLive(filter?: { readonly userId?: string }): Promise<LiveSession[]>;
  /** The live session with this id, wherever it runs. */
  getLive(id: string): Promise<LiveSession | undefined>;
  /**
   * Ends a live session wherever it runs (`closed` with reason `ended`). Resolves its figures
   * at the end, or `undefined` when no node runs it.
   */
  end(id: string): Promise<LiveSession | undefined>;
  /** Sends an application broadcast; resolves how many sessions it reached. */
  broadcast(target: BroadcastTarget, payload: unknown): Promise<number>;
  /**
   * Calls `observer` with every message the session sends from now on, wherever it runs.
   * Returns the function that stops it.
   */
  observe(id: string, observer: SessionObserver): Promise<() => void>;
}
