import { CloseCode, type ServerMessageInput } from '@earshot/protocol';
import type { WebSocket } from 'ws';

/** How much may wait in one connection's send buffer (a client that reads too slowly). */
export interface OutboundLimits {
  /** Above this many buffered bytes, interim transcripts are dropped (finals never are). Default 1 MiB. */
  readonly softBytes: number;
  /** Above this, the connection is closed with 1013: memory must not grow without bound. Default 16 MiB. */
  readonly hardBytes: number;
}

/** Defaults of {@link OutboundLimits}. */
export const DEFAULT_OUTBOUND_LIMITS: OutboundLimits = Object.freeze({
  softBytes: 1024 * 1024,
  hardBytes: 16 * 1024 * 1024,
});

/** Whether a message may be dropped for a slow reader: an interim transcript (the next supersedes it). */
export function droppable(message: ServerMessageInput): boolean {
  return message.type === 'transcript' && !message.isFinal;
}

/**
 * Sends `text` unless the peer reads too slowly: past `softBytes` waiting in the socket's
 * buffer a `droppable` message is dropped; past `hardBytes` the connection is closed with 1013
 * (try again later), and the session ends or waits for a resume as after any lost connection.
 * Resolves whether it was sent.
 */
export function sendBounded(
  socket: WebSocket,
  text: string,
  canDrop: boolean,
  limits: OutboundLimits = DEFAULT_OUTBOUND_LIMITS,
): boolean {
  if (socket.readyState !== socket.OPEN) return false;
  const waiting = socket.bufferedAmount;
  if (waiting > limits.hardBytes) {
    socket.close(CloseCode.TryAgainLater, 'the client reads too slowly');
    return false;
  }
  if (canDrop && waiting > limits.softBytes) return false;
  socket.send(text);
  return true;
}
