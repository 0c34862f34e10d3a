import type { Logger } from '@earshot/protocol';
import type { WebSocket } from 'ws';

/**
 * Pings a set of WebSockets on one shared timer and drops those that answered none of the
 * last two pings: a peer whose network vanished sends no close, and without this its socket
 * (and its session, and its provider stream) would be held until TCP gives up, hours later.
 */
export class Heartbeat {
  private readonly watched = new Map<WebSocket, { missed: number; alive: boolean }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    seconds: number,
    private readonly logger: Logger,
  ) {
    this.timer = setInterval(() => this.beat(), seconds * 1000);
    this.timer.unref();
  }

  /** Watches `ws` until it closes. */
  watch(ws: WebSocket): void {
    const state = { missed: 0, alive: true };
    this.watched.set(ws, state);
    ws.on('pong', () => {
      state.alive = true;
    });
    ws.once('close', () => this.watched.delete(ws));
  }

  /** Stops pinging. */
  close(): void {
    clearInterval(this.timer);
    this.watched.clear();
  }

  private beat(): void {
    for (const [ws, state] of this.watched) {
      if (state.alive) state.missed = 0;
      else if (++state.missed >= 2) {
        this.logger.info({}, 'heartbeat: a peer answered no ping; dropping it');
        this.watched.delete(ws);
        ws.terminate();
        continue;
      }
      state.alive = false;
      if (ws.readyState === ws.OPEN) ws.ping();
    }
  }
}
