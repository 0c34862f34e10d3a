import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, EarshotError, type ServerMessageInput } from '@earshot/protocol';
import type { WebSocket } from 'ws';
import type { UpgradeAcceptor } from '../security/connection-guard.js';
import { refuseUpgrade } from './http-json.js';
import type { RestContext } from './rest-router.js';
import { decodeSessionId } from './rest-router.js';
import { maySeeSession } from './session-access.js';

const OBSERVER_PATH = /^\/v1\/sessions\/([^/]+)\/events$/;

// How often an observer checks that its session still runs (a session whose client has gone
// ends without a `closed` message) and pings its socket (a dead observer is reaped).
const CHECK_INTERVAL_MS = 5_000;
// A slow observer is sent no interims or acks past this many unsent bytes, and is closed past
// the second: its socket never holds more than that.
const DROP_INTERIMS_BYTES = 1024 * 1024;
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/** Whether `pathname` is an observer socket's (`/v1/sessions/:id/events`). */
export function isObserverPath(pathname: string): boolean {
  return OBSERVER_PATH.test(pathname);
}

/**
 * Handles an upgrade to `GET /v1/sessions/:id/events`, the observer WebSocket: returns `false`,
 * touching nothing, when the path is another one.
 *
 * The upgrade is refused with an HTTP JSON error before any socket is accepted when the
 * admin credentials are missing (401), or the session is not live (404 `session_not_found`,
 * 409 `session_ended`). An accepted observer gets the session's current state first (a
 * `session_info` message with `metadata` and `node`), then every message the session sends,
 * each as one JSON text frame, through `ctx.control.observe`, wherever the session runs. After
 * the session's `closed` the socket closes with 1000 (1001 when the server shut down).
 */
export function handleObserverUpgrade(
  ctx: RestContext,
  wss: UpgradeAcceptor,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
): boolean {
  let pathname: string;
  try {
    pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return false;
  }
  const match = OBSERVER_PATH.exec(pathname);
  if (!match) return false;
  // Node removes its own error listener from an upgrade's socket: without one, a client that
  // resets the connection while this waits would crash the process.
  const onSocketError = () => socket.destroy();
  socket.on('error', onSocketError);
  admitObserver(ctx, req, match[1]).then(
    (id) => {
      socket.off('error', onSocketError);
      if (id === undefined) {
        refuseUpgrade(socket, new EarshotError('unauthorized', 'admin credentials required'), [
          'WWW-Authenticate: Bearer realm="earshot-admin"',
        ]);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        new SessionObserverSocket(ctx, id, ws).start();
      });
    },
    (error: unknown) => {
      socket.off('error', onSocketError);
      if (!EarshotError.isInstance(error)) {
        ctx.logger?.error({ err: error }, 'observer upgrade failed');
      }
      refuseUpgrade(socket, error);
    },
  );
  return true;
}

/**
 * The session id to observe, `undefined` without admin credentials or its owner's; rejects
 * when another principal asks (403) or it is not live.
 */
async function admitObserver(
  ctx: RestContext,
  req: IncomingMessage,
  rawId: string | undefined,
): Promise<string | undefined> {
  const id = decodeSessionId(rawId);
  if (!(await maySeeSession(ctx, req, id))) return undefined;
  if (await ctx.control.getLive(id)) return id;
  const record = await ctx.store.getSession(id);
  if (record?.status === 'ended' || record?.status === 'failed') {
    throw new EarshotError('session_ended', `session ${id} has ended`);
  }
  throw new EarshotError('session_not_found', `no live session ${id}`);
}

/** One observer's socket: forwards a live session's messages until either side is done. */
class SessionObserverSocket {
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private alive = true;
  private done = false;
  /** Messages that came while the first frame was being made; `undefined` once it is sent. */
  private held: ServerMessageInput[] | undefined = [];

  constructor(
    private readonly ctx: RestContext,
    private readonly sessionId: string,
    private readonly ws: WebSocket,
  ) {}

  start(): void {
    this.ws.on('close', () => this.stop());
    this.ws.on('error', () => this.stop());
    this.ws.on('pong', () => {
      this.alive = true;
    });
    this.subscribe().catch((error: unknown) => {
      this.ctx.logger?.error({ err: error, sessionId: this.sessionId }, 'observer failed');
      this.close(CloseCode.InternalError, 'could not observe the session');
    });
  }

  private async subscribe(): Promise<void> {
    // Subscribed before the state is read, so nothing the session sends in between is lost.
    const unsubscribe = await this.ctx.control.observe(this.sessionId, (m) => this.onMessage(m));
    if (this.done) {
      unsubscribe();
      return;
    }
    this.unsubscribe = unsubscribe;
    const state = await this.ctx.control.getLive(this.sessionId);
    if (this.done) return;
    if (state) this.send({ type: 'session_info', ...state } as ServerMessageInput);
    const held = this.held ?? [];
    this.held = undefined;
    for (const message of held) this.forward(message);
    if (!state && !this.done) {
      this.close(CloseCode.Normal, 'session ended');
      return;
    }
    this.timer = setInterval(() => void this.check(), CHECK_INTERVAL_MS);
    this.timer.unref();
  }

  private onMessage(message: ServerMessageInput): void {
    if (this.done) return;
    if (this.held) this.held.push(message);
    else this.forward(message);
  }

  private forward(message: ServerMessageInput): void {
    if (this.done) return;
    const buffered = this.ws.bufferedAmount;
    if (buffered > MAX_BUFFERED_BYTES) {
      this.close(CloseCode.PolicyViolation, 'observer too slow');
      return;
    }
    const moot =
      message.type === 'ack' || (message.type === 'transcript' && message.isFinal === false);
    if (buffered > DROP_INTERIMS_BYTES && moot) return;
    this.send(message);
    if (message.type === 'closed') {
      const shutdown = message.reason === 'shutdown';
      this.close(
        shutdown ? CloseCode.GoingAway : CloseCode.Normal,
        `session ended (${message.reason})`,
      );
    }
  }

  private send(message: ServerMessageInput): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** The session may have ended without a `closed` (its client had gone); the peer may be dead. */
  private async check(): Promise<void> {
    if (this.done) return;
    if (!this.alive) {
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
    const live = await this.ctx.control.getLive(this.sessionId).catch((error: unknown) => {
      // Not knowing is not an end: the next check asks again.
      this.ctx.logger?.warn({ err: error, sessionId: this.sessionId }, 'observer check failed');
      return true;
    });
    if (!live) this.close(CloseCode.Normal, 'session ended');
  }

  private close(code: number, reason: string): void {
    if (this.done) return;
    this.stop();
    this.ws.close(code, reason);
  }

  private stop(): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.timer);
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }
}
