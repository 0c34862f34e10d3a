import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger, Metadata } from '@earshot/protocol';
import type { Responder } from '../../replies/responder.js';
import type { UpgradeAcceptor } from '../../security/connection-guard.js';
import type { OutboundLimits } from '../../security/outbound-gate.js';
import type { Session } from '../../session/session.js';
import type { SessionLimitOptions } from '../../session/session-limits.js';
import type { SessionPeer } from '../../session/session-peer.js';

/**
 * A wire dialect: the protocol of an existing frontend (seeds 000, 001, 003, 004), translated
 * onto Earshot's one `Session`. An app lists the dialects it serves in the server's `dialects`
 * option; the server mounts each once.
 *
 * @example
 * ```ts
 * createEarshotServer({
 *   provider,
 *   dialects: [sttStreamDialect(), ambientDialect({ maxConnections: 100 })],
 * });
 * ```
 */
export interface Dialect {
  /** Short stable name (`conversation`, `ambient`, `stt-stream`, `voice-agent`), stored as the session's `metadata.dialect`. */
  readonly name: string;
  /** Binds the dialect to a server: what it serves from now on. */
  mount(host: DialectHost): DialectEndpoint;
}

/** A mounted dialect: its WebSocket path(s) and, for some, REST routes. */
export interface DialectEndpoint {
  /** Whether the upgrade of `pathname` is this dialect's. */
  ownsPath(pathname: string): boolean;
  /**
   * The largest frame its frontends legitimately send, when larger than the server's
   * `limits.maxFrameBytes` (seed 004's whole-utterance WAV in base64): its sockets get their
   * own WebSocket server with this `maxPayload`.
   */
  readonly maxFrameBytes?: number;
  /** Takes an upgrade whose path {@link ownsPath}: accepts it, or refuses it with an HTTP status. */
  handleUpgrade(wss: UpgradeAcceptor, req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Releases what the dialect holds (timers), when the server closes. */
  close?(): void;
  /** Answers the dialect's REST routes; resolves `false` for any other request. */
  handleRequest?(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
}

/** What the server gives a dialect. */
export interface DialectHost {
  readonly logger: Logger;
  /**
   * Makes and registers a live session for one connection. `id` defaults to a random UUID;
   * `metadata.dialect` is set to the dialect's name.
   */
  openSession(init: {
    readonly id?: string;
    readonly peer: SessionPeer;
    readonly metadata?: Metadata;
    /** Minted over REST (`POST /v1/sessions`) before connecting: its record exists. */
    readonly preCreated?: boolean;
    /** The dialect's own limits (seed 001's session length), over the server's. */
    readonly limits?: Partial<SessionLimitOptions>;
    /** The upgrade request: the session is owned by the principal it authenticated as. */
    readonly request?: IncomingMessage;
  }): Session;
  /** The live sessions of this process. */
  sessions(): Session[];
  /**
   * Whether `id` may name a new session: no live session has it and none is stored with it,
   * except one minted over REST and not yet connected (`minted`, with its metadata). A `free`
   * or `minted` answer holds the id for this caller until {@link DialectHost.openSession}
   * opens it (or a few seconds pass): a second claim meanwhile is `taken`.
   */
  claimSessionId(id: string): Promise<'free' | 'taken' | { minted: Metadata }>;
  /** Whether `req` may use admin routes (the server's `adminAuth`); dialect REST routes that end or broadcast ask it. */
  adminAllowed(req: IncomingMessage): Promise<boolean>;
  /** What may wait in a connection's send buffer (pass it to {@link DialectSocket}). */
  readonly outbound: OutboundLimits;
  /** The server's reply loop, where one is configured (`responder` option). */
  readonly responder: Responder | undefined;
}
