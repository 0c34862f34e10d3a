import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { EarshotError, type Logger } from '@earshot/protocol';
import type { WebSocket, WebSocketServer } from 'ws';
import { Heartbeat } from './heartbeat.js';

/** Limits on WebSocket connections, all transports together. */
export interface ConnectionLimitOptions {
  /** Connections at once on this process; more are refused with HTTP 503. Default 10 000. */
  readonly maxConnections: number;
  /** Connections at once from one IP address; more are refused with HTTP 429. Default 100. */
  readonly maxConnectionsPerIp: number;
  /** Connections at once of one authenticated principal; more are refused with HTTP 429. Default 50. */
  readonly maxConnectionsPerPrincipal: number;
  /**
   * Seconds between WebSocket pings; a peer that answers none of two in a row is dropped (its
   * session then ends or waits for a resume as after any lost connection). 0 turns pings off.
   * Default 30.
   */
  readonly heartbeatSeconds: number;
  /**
   * Take the client's address from the first `X-Forwarded-For` entry: only behind a proxy you
   * run, which sets it. Default false (the socket's peer address).
   */
  readonly trustProxy: boolean;
}

/** Defaults of {@link ConnectionLimitOptions}. */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimitOptions = Object.freeze({
  maxConnections: 10_000,
  maxConnectionsPerIp: 100,
  maxConnectionsPerPrincipal: 50,
  heartbeatSeconds: 30,
  trustProxy: false,
});

/** Accepts WebSocket upgrades: what transports are given instead of the `ws` server itself. */
export interface UpgradeAcceptor {
  handleUpgrade(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    accepted: (ws: WebSocket) => void,
  ): void;
}

/**
 * Counts and watches every connection of the server: caps (total, per IP, per principal) are
 * checked before an upgrade is accepted, and every accepted socket is pinged on one shared
 * timer, so a peer whose network vanished (no close ever comes) is reaped.
 */
export class ConnectionGuard {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly heartbeat: Heartbeat | undefined;

  constructor(
    private readonly limits: ConnectionLimitOptions,
    private readonly logger: Logger,
  ) {
    if (limits.heartbeatSeconds > 0)
      this.heartbeat = new Heartbeat(limits.heartbeatSeconds, logger);
  }

  /** Connections held now. */
  get connections(): number {
    return this.total;
  }

  /** The client's address, as the limits see it. */
  addressOf(req: IncomingMessage): string {
    if (this.limits.trustProxy) {
      const forwarded = String(req.headers['x-forwarded-for'] ?? '')
        .split(',')[0]
        ?.trim();
      if (forwarded) return forwarded;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }

  /**
   * Takes a place for the upgrade on `socket`, or answers why not (`capacity`: 503,
   * `rate_limited`: 429). The place is given back when the socket closes, whether the upgrade
   * was accepted, refused by its transport, or dropped.
   */
  admit(req: IncomingMessage, socket: Duplex, principal?: string): EarshotError | undefined {
    const ip = this.addressOf(req);
    if (this.total >= this.limits.maxConnections) {
      return new EarshotError('capacity', 'the server holds as many connections as it may');
    }
    if ((this.perIp.get(ip) ?? 0) >= this.limits.maxConnectionsPerIp) {
      this.logger.warn({ ip }, 'connection refused: too many from one address');
      return new EarshotError('rate_limited', 'too many connections from this address');
    }
    if (
      principal !== undefined &&
      (this.perPrincipal.get(principal) ?? 0) >= this.limits.maxConnectionsPerPrincipal
    ) {
      this.logger.warn({ principal }, 'connection refused: too many of one principal');
      return new EarshotError('rate_limited', 'too many connections for this principal');
    }
    this.total++;
    bump(this.perIp, ip, 1);
    if (principal !== undefined) bump(this.perPrincipal, principal, 1);
    socket.once('close', () => {
      this.total--;
      bump(this.perIp, ip, -1);
      if (principal !== undefined) bump(this.perPrincipal, principal, -1);
    });
    return undefined;
  }

  /** `wss`, with every socket it accepts watched by the heartbeat. */
  acceptor(wss: WebSocketServer): UpgradeAcceptor {
    return {
      handleUpgrade: (req, socket, head, accepted) => {
        wss.handleUpgrade(req, socket, head, (ws) => {
          this.heartbeat?.watch(ws);
          accepted(ws);
        });
      },
    };
  }

  /** Stops the heartbeat (the server is closing). */
  close(): void {
    this.heartbeat?.close();
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const next = (counts.get(key) ?? 0) + by;
  if (next <= 0) counts.delete(key);
  else counts.set(key, next);
}
