import type { ServerMessageInput } from '@earshot/protocol';

/**
 * The session's view of its transport: where its events go. A transport translates them onto
 * its own wire format; the session never knows which one it talks to.
 */
export interface SessionPeer {
  /** Delivers one protocol message to the client. */
  send(message: ServerMessageInput): void;
  /** Closes the connection with a WebSocket close code. */
  close(code: number, reason: string): void;
}
