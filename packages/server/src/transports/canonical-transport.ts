import { type ClientMessage, parseClientMessage } from '@earshot/protocol';
import type { WebSocket } from 'ws';
import { droppable, type OutboundLimits, sendBounded } from '../security/outbound-gate.js';
import type { Session } from '../session/session.js';
import type { SessionPeer } from '../session/session-peer.js';
import { frameBytes } from './frame-bytes.js';

/**
 * A {@link SessionPeer} that writes protocol v1 messages as JSON text frames; a client that
 * reads too slowly loses interims first and is closed (1013) before memory grows unbounded.
 */
export function canonicalPeer(socket: WebSocket, outbound?: OutboundLimits): SessionPeer {
  return {
    send(message) {
      sendBounded(socket, JSON.stringify(message), droppable(message), outbound);
    },
    close(code, reason) {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING) {
        socket.close(code, reason);
      }
    },
  };
}

/**
 * The canonical transport (`/v1/listen`): binary frames are audio, text frames are protocol
 * v1 JSON. It only translates: every decision is the session's. `peer` is the session's view
 * of this socket (from {@link canonicalPeer}), so the session knows which connection left.
 */
export function bindCanonicalTransport(
  socket: WebSocket,
  session: Session,
  peer: SessionPeer,
): void {
  socket.on('message', (data, isBinary) => {
    const bytes = frameBytes(data);
    if (isBinary) {
      session.audio(bytes);
      return;
    }
    const parsed = parseClientMessage(bytes.toString('utf8'));
    if (!parsed.ok) {
      session.sendError(parsed.error);
      return;
    }
    dispatch(session, parsed.message);
  });
  socket.on('close', () => session.peerGone(peer));
  socket.on('error', () => session.peerGone(peer));
}

function dispatch(session: Session, message: ClientMessage): void {
  switch (message.type) {
    case 'start':
      void session.start(message);
      return;
    case 'finalize':
      session.finalize();
      return;
    case 'stop':
      void session.stop();
      return;
    case 'ping':
      session.ping(message.id);
      return;
    case 'session_info':
      session.sendInfo();
      return;
  }
}
