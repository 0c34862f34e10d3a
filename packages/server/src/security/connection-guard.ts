import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { CloseCode, EarshotError, type Logger } from '@earshot/protocol';
import type { WebSocket, WebSocketServer } from 'ws';
import { Heartbeat } from './heartbeat.js';
import { TokenBucket } from './inbound-rate.js';
import type { OutboundLimits } from './outbound-gate.js';

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
   * Frames a connection may send a second, on average (bursts of twice that pass). A client
   * that keeps above it is closed with 1008. Default 1000: live audio is 4–50 frames a second
   * (Twilio 50), and a client streaming a file ahead of real time sends more, within the
   * session's `maxRealtimeFactor`.
   */
  readonly maxMessagesPerSecond: number;
  /**
   * Bytes a connection may send a second, on average (bursts of twice that pass); 1008 above.
   * Default 8 MiB: real-time audio is 16–200 KB/s, and seed 004 sends whole WAV files at once.
   */
  readonly maxBytesPerSecond: number;
  /**
   * A client that reads too slowly: past this many bytes waiting in its socket's send buffer,
   * interim transcripts are dropped (finals never are). Default 1 MiB.
   */
  readonly dropInterimsAboveBytes: number;
  /** …and past this many, the connection is closed with 1013 before memory grows. Default 16 MiB. */
  readonly maxBufferedBytes: number;
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
  maxMessagesPerSecond: 1000,
  maxBytesPerSecond: 8 * 1024 * 1024,
  dropInterimsAboveBytes: 1024 * 1024,
  maxBufferedBytes: 16 * 1024 * 1024,
  trustProxy: false,
});

/** Accepts WebSocket upgrades: what transports are given instead of the `ws` server itself. */
export interface UpgradeAcceptor {
  /** Completes the upgrade on `socket` and hands the accepted WebSocket to `accepted`. */
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

  /** What may wait in one connection's send buffer. */
  get outbound(): OutboundLimits {
    return {
      softBytes: this.limits.dropInterimsAboveBytes,
      hardBytes: this.limits.maxBufferedBytes,
    };
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
          this.meter(ws);
          accepted(ws);
        });
      },
    };
  }

  /**
   * Closes (1008) a connection that keeps sending faster than the limits: a flood would
   * otherwise cost parsing and provider money before any session-level limit sees it.
   */
  private meter(ws: WebSocket): void {
    const { maxMessagesPerSecond: messages, maxBytesPerSecond: bytes } = this.limits;
    const frames = new TokenBucket(messages, messages * 2);
    const volume = new TokenBucket(bytes, bytes * 2);
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const size = Array.isArray(data)
        ? data.reduce((sum, part) => sum + part.byteLength, 0)
        : data.byteLength;
      if (frames.take() && volume.take(size)) return;
      if (ws.readyState !== ws.OPEN) return;
      this.logger.warn({}, 'connection closed: it sent faster than the rate limits');
      ws.close(CloseCode.PolicyViolation, 'message rate exceeded');
    });
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
