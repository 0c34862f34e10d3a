/**
 * Where an {@link EarshotClient} is in its life.
 *
 * - `idle`: created, no socket yet.
 * - `connecting`: the WebSocket handshake is under way.
 * - `open`: the socket is open; no session has been started (or `start` awaits `ready`).
 * - `streaming`: `ready` arrived; audio may flow.
 * - `reconnecting`: the connection dropped mid-session; the client is resuming the session on
 *   a new one (audio sent meanwhile is kept and sent once the server says what it holds).
 * - `stopping`: `stop` was sent; the remaining finals and `closed` are on their way.
 * - `closed`: the socket is closed and the session ended cleanly (or was closed by the caller).
 * - `error`: the session failed (a fatal server error, a refused connection, a dropped socket).
 */
export type ClientState =
  | 'idle'
  | 'connecting'
  | 'open'
  | 'streaming'
  | 'reconnecting'
  | 'stopping'
  | 'closed'
  | 'error';

/** Every {@link ClientState}, in lifecycle order. */
export const CLIENT_STATES: readonly ClientState[] = [
  'idle',
  'connecting',
  'open',
  'streaming',
  'reconnecting',
  'stopping',
  'closed',
  'error',
];

// The one table of legal moves, rather than state checks scattered through the client.
const TRANSITIONS: Readonly<Record<ClientState, readonly ClientState[]>> = {
  idle: ['connecting', 'closed'],
  connecting: ['open', 'closed', 'error'],
  open: ['streaming', 'closed', 'error'],
  streaming: ['stopping', 'reconnecting', 'closed', 'error'],
  reconnecting: ['streaming', 'stopping', 'closed', 'error'],
  stopping: ['reconnecting', 'closed', 'error'],
  closed: ['connecting'],
  error: ['connecting'],
};

/** Whether a client may move from `from` to `to`. */
export function canTransition(from: ClientState, to: ClientState): boolean {
  return TRANSITIONS[from].includes(to);
}

/** Whether the state is the end of a connection (nothing more will happen until `connect`). */
export function isTerminalState(state: ClientState): boolean {
  return state === 'closed' || state === 'error';
}
