import { WebSocketServer } from 'ws';

/**
 * Most fragments one message may arrive in. Earshot's clients and the seeds' frontends never
 * fragment a message; `ws`'s own limit (16 384) lets one connection pin about 2 MB with a
 * message of one-byte fragments that never ends (GHSA-96hv-2xvq-fx4p, ws #2331). Past this,
 * the connection is closed with 1008.
 */
export const MAX_FRAGMENTS = 1024;

/**
 * A `noServer` WebSocket server for Earshot's upgrades: messages up to `maxPayload` bytes
 * (1009 past it), in at most {@link MAX_FRAGMENTS} fragments (1008 past it).
 */
export function createWebSocketServer(maxPayload: number): WebSocketServer {
  // `maxFragments` (ws ≥ 8.21) is not in @types/ws yet.
  const options = { noServer: true, maxPayload, maxFragments: MAX_FRAGMENTS };
  return new WebSocketServer(options);
}
