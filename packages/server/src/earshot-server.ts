import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import type { Duplex } from 'node:stream';
import {
  CloseCode,
  EarshotError,
  type Logger,
  type Metadata,
  silentLogger,
} from '@earshot/protocol';
import type { SttProvider } from '@earshot/providers';
import {
  createResilientProvider,
  type ResilientProviderOptions,
} from '@earshot/providers/resilient';
import type { AudioPipelineOptions } from './audio/audio-pipeline.js';
import { type ClusterOptions, ClusterSessionControl } from './cluster/cluster-session-control.js';
import { deferredControl } from './control/deferred-control.js';
import { LocalSessionControl } from './control/local-session-control.js';
import type { SessionControl } from './control/session-control.js';
import {
  createOpenTelemetryInstrumentation,
  createPrometheusMetrics,
  type PrometheusMetrics,
  type PrometheusMetricsOptions,
} from './observability/index.js';
import type { Responder } from './replies/responder.js';
import { type AdminAuth, isAdminRequest } from './rest/admin-auth.js';
import { refuseUpgrade } from './rest/http-json.js';
import { handleObserverUpgrade, isObserverPath } from './rest/observer-socket.js';
import { handleRestRequest, type RestContext } from './rest/rest-router.js';
import {
  type Authenticate,
  originAllowed,
  type Principal,
  presentedCredential,
} from './security/authentication.js';
import {
  ConnectionGuard,
  type ConnectionLimitOptions,
  DEFAULT_CONNECTION_LIMITS,
} from './security/connection-guard.js';
import { warnIfHttpTimeoutsOff } from './security/http-timeouts.js';
import { createWebSocketServer } from './security/websocket-server.js';
import { ServerEvents } from './server-events.js';
import type { CommandOptions } from './session/command-runner.js';
import { Session, type SessionDeps } from './session/session.js';
import type { SessionEndHook } from './session/session-end-hook.js';
import { DEFAULT_SESSION_LIMITS, type SessionLimitOptions } from './session/session-limits.js';
import { SessionRegistry } from './session/session-registry.js';
import { createMemoryStore } from './stores/memory-store.js';
import { type RetentionOptions, RetentionSweeper } from './stores/retention-sweeper.js';
import type { Store } from './stores/store.js';
import { StoreWriter, type StoreWriterOptions } from './stores/store-writer.js';
import { timedStore } from './stores/timed-store.js';
import { createSessionTokens } from './tokens/session-tokens.js';
import { bindCanonicalTransport, canonicalPeer } from './transports/canonical-transport.js';
import type { Dialect, DialectEndpoint } from './transports/dialects/dialect.js';
import {
  type TwilioCalls,
  TwilioEndpoint,
  type TwilioOptions,
} from './transports/twilio/twilio-endpoint.js';

/** Options of {@link createEarshotServer}. */
export interface EarshotServerOptions {
  /** The default speech-to-text provider. */
  readonly provider: SttProvider;
  /** More providers a client may pick by name in `start.provider`. */
  readonly providers?: readonly SttProvider[];
  /** Where sessions and finals are kept. Defaults to an in-memory store. */
  readonly store?: Store;
  /**
   * How writes ride out a store outage: while the store cannot be reached, finals (and every
   * write after them) wait in a bounded in-memory buffer and are stored, in order, when it is
   * back. Live sessions go on; a client is told `store_unavailable`, and `store_error` for a
   * final that could not be kept.
   */
  readonly storeWrites?: StoreWriterOptions;
  /**
   * Run when a started session ends, with its whole transcript (e.g. to extract answers or a
   * summary), retried on failure. What it resolves (or its last error) is stored as the
   * session's `session_end_hook` event.
   */
  readonly onSessionEnd?: SessionEndHook;
  /**
   * Run as one node of several that share a Redis (`ioredis` must be installed): a session
   * registry across nodes, the admin's list across all of them, `end` and `broadcast` routed to
   * the node that runs the session, observers on any node, and a client that reconnects to
   * another node resumes its session there. Needs a `tokenSecret` shared by every node. While
   * Redis is unreachable, each node serves its own sessions (and logs a warning).
   */
  readonly cluster?: ClusterOptions;
  /**
   * Prometheus metrics, served on `GET /metrics` (see docs/observability.md). On by default;
   * `false` turns them off; an object picks the registry (the app's own, to serve beside its
   * metrics), the name prefix (`earshot_`) and whether Node's process metrics are added.
   */
  readonly metrics?:
    | boolean
    | Pick<PrometheusMetricsOptions, 'registry' | 'prefix' | 'defaultMetrics'>;
  /**
   * OpenTelemetry spans (one per session) and metrics through the global API, when the app has
   * `@opentelemetry/api` installed (and an SDK registered). Default true; `false` turns it off.
   */
  readonly openTelemetry?: boolean;
  /**
   * Twilio Media Streams: phone calls' audio at `/v1/twilio` (the session's id is the call's
   * `callSid`), the voice webhook `POST /v1/twilio/voice` answering TwiML, signature checks with
   * the auth token, and playing audio back into a call (`session.play`). See docs/telephony.md.
   */
  readonly twilio?: TwilioOptions;
  /**
   * Wire dialects of existing frontends, each a thin translation onto the same sessions:
   * `conversationDialect()` (`/transcription`), `ambientDialect()` (`/ws/transcribe`, with its
   * REST paths), `sttStreamDialect()` (`/stt-stream`), `voiceAgentDialect()` (`/ws/:clientId`).
   * Checked in order: list `ambientDialect` before `voiceAgentDialect`, whose `/ws/:clientId`
   * would otherwise take `/ws/transcribe`. See docs/dialects/.
   */
  readonly dialects?: readonly Dialect[];
  /**
   * Answers final utterances (the voice-agent reply loop): `createOfflineResponder()` or
   * `createOpenAIResponder()`. Used by `voiceAgentDialect`, and by phone calls with
   * `twilio: { reply: true }` (the reply is played into the call).
   */
  readonly responder?: Responder;
  /** This server process's name in a cluster and in the admin's answers. Defaults to `<hostname>-<pid>`. */
  readonly nodeId?: string;
  /** Where the server logs (pino-compatible). Silent by default. */
  readonly logger?: Logger;
  /** Path of the canonical WebSocket. Defaults to `/v1/listen`. */
  readonly path?: string;
  /** Session limits and timers; unspecified ones keep their defaults. */
  readonly limits?: Partial<SessionLimitOptions>;
  /**
   * Deletes stored sessions, with their segments and events, once they are older than
   * `maxAgeDays` (or `maxAgeSeconds`), counted from their end (or start, if they never ended),
   * every `sweepIntervalSeconds` (default 3600). Live sessions are never deleted. See
   * docs/privacy.md.
   */
  readonly retention?: RetentionOptions;
  /**
   * Who may connect: runs at every WebSocket upgrade (the canonical socket, the dialects, the
   * observers; Twilio streams prove themselves with their signature) before a socket is
   * accepted. `undefined` is HTTP 401. Built in: `apiKeyAuth`, `jwtAuth` (through `jose`),
   * `anyOf`. Sessions are owned by their principal: only it (or an admin principal) may resume
   * or observe them; without `adminAuth`, the REST admin needs an admin principal.
   */
  readonly authenticate?: Authenticate;
  /**
   * Browser origins allowed to open WebSockets (`https://app.example.com`, or `*`): an upgrade
   * with another `Origin` is refused with 403 (cross-site WebSocket hijacking). Requests
   * without `Origin` (servers, phones) pass. Unset: every origin.
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Limits on connections, every transport together: in total (HTTP 503 above it), per IP and
   * per principal (HTTP 429), checked before a WebSocket is accepted; and the ping/pong
   * heartbeat that drops peers whose network vanished. See docs/security.md.
   */
  readonly connections?: Partial<ConnectionLimitOptions>;
  /** Secret that signs session tokens. Random per process when absent. */
  readonly tokenSecret?: string;
  /** Lifetime of a token minted by `POST /v1/sessions`, in seconds. Defaults to 300. */
  readonly tokenTtlSeconds?: number;
  /**
   * When true, a WebSocket upgrade must carry a token minted by `POST /v1/sessions`
   * (`?token=` or `Authorization: Bearer`); others are refused with HTTP 401. Default false.
   */
  readonly requireToken?: boolean;
  /**
   * Who may use the REST admin: every route but `GET /healthz`, the observer WebSocket
   * (`/v1/sessions/:id/events`) and `GET /metrics` included. `{ apiKey }` accepts
   * `Authorization: Bearer <key>` or `x-api-key: <key>` (compared in constant time); a function
   * decides from the request. Others get 401 `unauthorized`. Without it the admin routes are
   * open to anyone who reaches them: for development, or behind your own auth.
   */
  readonly adminAuth?: AdminAuth;
  /** Voice commands to detect in final transcripts (see `@earshot/commands`). */
  readonly commands?: CommandOptions;
  /**
   * How audio is converted for the provider: `opusDecoder` picks in-process WebAssembly
   * (`'wasm'`, the default: no child process, ~100 KB per session) or one FFmpeg process per
   * session (`'ffmpeg'`).
   */
  readonly audio?: AudioPipelineOptions;
  /**
   * The resilient layer every provider's streams go through (`@earshot/providers/resilient`):
   * reconnect with backoff under a refilling retry budget, replay of the audio since the last
   * final, rollover before a stream limit, keepalive while the client is silent, a bounded
   * wait for finals, and failover to `fallbacks`. On by default; `false` turns it off.
   */
  readonly resilience?: ResilientProviderOptions | false;
}

/** A mounted Earshot server: a WebSocket upgrade handler plus REST routes. */
export interface EarshotServer {
  /**
   * Handles an HTTP upgrade. Returns `false`, touching nothing, when the path is not
   * Earshot's, so the host can route it elsewhere.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Answers Earshot's REST routes. Resolves `false` when the request is not one of them. */
  handleRequest(req: IncomingMessage, res: ServerResponse): Promise<boolean>;
  /**
   * Mounts on a Node `http` server: takes its upgrades and the REST routes, and leaves every
   * other request to the server's other listeners (answering 404 when there are none).
   * Returns a function that detaches.
   */
  attach(server: Server): () => void;
  /**
   * What the server reports as it works: sessions starting and ending with their metrics,
   * every message sent to a client, finals with their latency, provider errors, store timings.
   */
  readonly events: ServerEvents;
  /**
   * The live sessions wherever they run (every node of a cluster): list, end, broadcast,
   * observe. The REST admin is built on it; an app may use it directly.
   */
  readonly control: SessionControl;
  /** The Prometheus metrics served on `GET /metrics`; absent when `metrics: false`. */
  readonly metrics: PrometheusMetrics | undefined;
  /**
   * The store's state: writes held in memory while it cannot be reached (`pendingWrites`,
   * `degraded` while there are any).
   */
  storeStatus(): { kind: string; degraded: boolean; pendingWrites: number };
  /** The Twilio calls on this node (when the `twilio` option is set). */
  readonly twilio: TwilioCalls | undefined;
  /** The live session with this id on this process. */
  getSession(id: string): Session | undefined;
  /** The live sessions on this process. */
  sessions(): Session[];
  /**
   * Shuts down gracefully. From the call on, upgrades and `POST /v1/sessions` are refused with
   * HTTP 503 `capacity` and `GET /healthz` answers 503; every session is ended as `stop` ends
   * it (the provider flushed within `stopTimeoutSeconds`, its last finals stored and sent),
   * with `closed` reason `shutdown` and close 1001; then end hooks and held store writes get up
   * to 10 s each. `shutdownOnSignals` (`@earshot/server/node`) calls it on SIGTERM.
   */
  close(): Promise<void>;
}

/**
 * Creates an Earshot server: the canonical WebSocket at `/v1/listen`; the REST admin
 * (`POST /v1/sessions`, `GET /v1/sessions`, `GET /v1/sessions/:id`,
 * `POST /v1/sessions/:id/end`, `POST /v1/broadcast`, the observer WebSocket
 * `GET /v1/sessions/:id/events`, `GET /metrics`, `GET /healthz`; see docs/rest-api.md);
 * sessions that store every final before sending it; and, with `cluster`, one node of several.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createEarshotServer, createSqliteStore } from '@earshot/server';
 * import { createLocalProvider } from '@earshot/providers/local';
 *
 * const earshot = createEarshotServer({
 *   provider: createLocalProvider(),
 *   store: await createSqliteStore({ path: './earshot.db' }),
 * });
 * const http = createServer();
 * earshot.attach(http);
 * http.listen(8787);
 * ```
 */
export function createEarshotServer(options: EarshotServerOptions): EarshotServer {
  const logger = options.logger ?? silentLogger;
  const events = new ServerEvents();
  const store = timedStore(options.store ?? createMemoryStore(), events);
  const ownsStore = options.store === undefined;
  const listenPath = options.path ?? '/v1/listen';
  const limits: SessionLimitOptions = { ...DEFAULT_SESSION_LIMITS, ...options.limits };
  const tokens = createSessionTokens(options.tokenSecret);
  const registry = new SessionRegistry();
  const writer = new StoreWriter(store, logger, options.storeWrites);
  const nodeId = options.nodeId ?? `${hostname()}-${process.pid}`;
  const local = new LocalSessionControl(nodeId, registry, events);
  // Checked before anything opens: bad options throw invalid_request here.
  const retention = options.retention && new RetentionSweeper(options.retention);
  if (options.cluster && !options.tokenSecret) {
    throw new EarshotError(
      'invalid_request',
      'a cluster needs a tokenSecret shared by every node, so a token minted on one node is valid on all',
    );
  }
  const cluster = options.cluster
    ? ClusterSessionControl.join(options.cluster, local, registry, events, logger).catch(
        (error: unknown) => {
          logger.error({ err: error }, 'could not join the cluster; running as a single node');
          return undefined;
        },
      )
    : undefined;
  const control: SessionControl = cluster ? deferredControl(cluster, local) : local;
  retention?.start({ store, control, logger });
  const metrics =
    options.metrics === false
      ? undefined
      : createPrometheusMetrics(events, {
          ...(typeof options.metrics === 'object' ? options.metrics : {}),
          logger,
          liveSessions: () => registry.size,
        });
  // Loaded with import(): a session that starts before it resolves is not traced.
  const openTelemetry =
    options.openTelemetry === false
      ? undefined
      : createOpenTelemetryInstrumentation(events, { logger }).catch((error: unknown) => {
          logger.error({ err: error }, 'could not load @opentelemetry/api');
          return undefined;
        });
  // Work that outlives a session (its end hook), awaited on close.
  const background = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    background.add(work);
    void work.finally(() => background.delete(work));
  };
  const providers = new Map<string, SttProvider>();
  for (const p of [options.provider, ...(options.providers ?? [])]) {
    providers.set(p.name, withResilience(p, options.resilience, logger));
  }
  const defaultProvider = providers.get(options.provider.name)!;

  const wss = createWebSocketServer(limits.maxFrameBytes);
  const guard = new ConnectionGuard(
    { ...DEFAULT_CONNECTION_LIMITS, ...options.connections },
    logger,
  );
  const accept = guard.acceptor(wss);
  let closing = false;

  // Without its own admin credentials, the REST admin takes admin principals.
  const authenticate = options.authenticate;
  const adminAuth: AdminAuth | undefined =
    options.adminAuth ??
    (authenticate ? async (req) => (await authenticate(req))?.admin === true : undefined);
  // Who each accepted upgrade is from, for the session it opens.
  const principals = new WeakMap<IncomingMessage, Principal>();
  const ownerOf = (req: IncomingMessage): Metadata => {
    const principal = principals.get(req);
    return principal ? { principalId: principal.id } : {};
  };

  const rest: RestContext = {
    registry,
    control,
    metrics,
    store,
    tokens,
    tokenTtlSeconds: options.tokenTtlSeconds ?? 300,
    listenPath,
    providerName: options.provider.name,
    newSessionId: randomUUID,
    adminAuth,
    authenticate,
    logger,
    storeStatus: () => ({ degraded: writer.degraded, pendingWrites: writer.pending }),
    draining: () => closing,
  };

  /**
   * The session a connection is for: one minted over REST (by its connect token), a live one
   * being resumed (by its resume token), or a new one.
   */
  async function admit(
    req: IncomingMessage,
    url: URL,
  ): Promise<
    | { id: string; preCreated: boolean; metadata?: Metadata }
    | { resume: Session }
    | { refused: EarshotError }
  > {
    const header = req.headers.authorization;
    const token =
      url.searchParams.get('token') ?? (header?.startsWith('Bearer ') ? header.slice(7) : null);
    if (!token) {
      if (options.requireToken)
        return { refused: new EarshotError('unauthorized', 'a session token is required') };
      return { id: randomUUID(), preCreated: false };
    }
    const resumeClaims = tokens.verify(token, 'resume');
    if (resumeClaims) {
      const session =
        registry.get(resumeClaims.sessionId) ?? (await takeOver(resumeClaims.sessionId));
      if (!session?.resumable) {
        return { refused: new EarshotError('session_not_found', 'no session to resume') };
      }
      if (!mayUse(req, session.metadata)) {
        return { refused: new EarshotError('forbidden', "this session is another principal's") };
      }
      return { resume: session };
    }
    const claims = tokens.verify(token, 'connect');
    if (!claims) {
      // The app's own credential (a JWT, an API key), already accepted by `authenticate`.
      if (principals.has(req)) return { id: randomUUID(), preCreated: false };
      return { refused: new EarshotError('unauthorized', 'invalid or expired token') };
    }
    const record = await store.getSession(claims.sessionId);
    if (record?.status !== 'created' || registry.get(claims.sessionId)) {
      return {
        refused: new EarshotError('unauthorized', 'token already used or session gone'),
      };
    }
    return { id: claims.sessionId, preCreated: true, metadata: record.metadata };
  }

  /**
   * Who an upgrade is from: Earshot's own session tokens first (a connect token minted by
   * `POST /v1/sessions`, or a resume token: each speaks for its one session's owner), then the
   * app's `authenticate`.
   */
  function principalOf(
    req: IncomingMessage,
  ): Principal | undefined | Promise<Principal | undefined> {
    const credential = presentedCredential(req);
    const claims =
      credential === undefined
        ? undefined
        : (tokens.verify(credential, 'resume') ?? tokens.verify(credential, 'connect'));
    if (claims) {
      const owner = registry.get(claims.sessionId)?.metadata.principalId;
      return { id: typeof owner === 'string' ? owner : `session:${claims.sessionId}` };
    }
    return authenticate?.(req);
  }

  /** Whether the upgrade's principal may use a session of `metadata`: its owner, or an admin. */
  function mayUse(req: IncomingMessage, metadata: Metadata): boolean {
    const owner = metadata.principalId;
    if (owner === undefined) return true;
    const principal = principals.get(req);
    return principal === undefined || principal.admin === true || principal.id === owner;
  }

  function newSession(
    own: Pick<SessionDeps, 'id' | 'peer' | 'preCreated' | 'metadata'>,
    ownLimits: Partial<SessionLimitOptions> = {},
  ): Session {
    return new Session({
      ...own,
      writer,
      events,
      tokens,
      limits: { ...limits, ...ownLimits },
      logger,
      commands: options.commands,
      audio: options.audio ?? {},
      resolveProvider: (name) => (name === undefined ? defaultProvider : providers.get(name)),
      onSessionEnd: options.onSessionEnd,
      onEnded: (s) => registry.remove(s),
      background: track,
    });
  }

  /** A session another node runs, handed over to this one for a client that resumed here. */
  async function takeOver(id: string): Promise<Session | undefined> {
    const state = await (await cluster)?.takeOver(id);
    if (!state) return undefined;
    const session = newSession({ id, preCreated: true, metadata: state.metadata });
    if (!(await session.continueFrom(state))) {
      logger.warn({ sessionId: id }, 'could not continue a handed-over session');
      return undefined;
    }
    registry.add(session);
    logger.info({ sessionId: id }, 'session taken over from another node');
    return session;
  }

  const twilio = options.twilio
    ? new TwilioEndpoint(options.twilio, {
        logger,
        responder: options.responder,
        openSession(callSid, peer, metadata) {
          if (registry.get(callSid)) return undefined;
          const session = newSession({ id: callSid, peer, preCreated: false, metadata });
          registry.add(session);
          logger.info({ sessionId: callSid }, 'phone call connected');
          return session;
        },
      })
    : undefined;

  // Session ids claimed by a dialect's upgrade and not yet opened, until when.
  const claims = new Map<string, number>();
  const dialects = (options.dialects ?? []).map((dialect) =>
    dialect.mount({
      logger,
      responder: options.responder,
      outbound: guard.outbound,
      openSession({ id, peer, metadata, preCreated, limits: ownLimits, request }) {
        if (id !== undefined) claims.delete(id);
        const session = newSession(
          {
            id: id ?? randomUUID(),
            peer,
            preCreated: preCreated ?? false,
            metadata: { ...metadata, dialect: dialect.name, ...(request ? ownerOf(request) : {}) },
          },
          ownLimits,
        );
        registry.add(session);
        logger.info({ sessionId: session.id, dialect: dialect.name }, 'session connected');
        return session;
      },
      sessions: () => registry.list(),
      async claimSessionId(id) {
        const now = Date.now();
        for (const [claimed, until] of claims) if (until <= now) claims.delete(claimed);
        if (registry.get(id) || claims.has(id)) return 'taken';
        // Held from here until its session opens: a second connection for the same id,
        // arriving while the store is asked, must not open a second session under it.
        claims.set(id, now + CLAIM_HOLD_MS);
        let record: Awaited<ReturnType<Store['getSession']>>;
        try {
          record = await store.getSession(id);
        } catch (error) {
          claims.delete(id);
          throw error;
        }
        if (!record) return 'free';
        if (record.status === 'created') return { minted: record.metadata };
        claims.delete(id);
        return 'taken';
      },
      adminAllowed: (req) => isAdminRequest(adminAuth, req),
    }),
  );

  // Dialects whose frontends send bigger frames than the server's limit get their own.
  const dialectServers = new Map(
    dialects
      .filter((d) => (d.maxFrameBytes ?? 0) > limits.maxFrameBytes)
      .map((d) => [d, createWebSocketServer(d.maxFrameBytes!)]),
  );
  const dialectAcceptors = new Map(
    [...dialectServers].map(([dialect, server]) => [dialect, guard.acceptor(server)]),
  );

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return false; // not a path of ours, whatever it is
    }
    const dialect = dialects.find((d) => d.ownsPath(url.pathname));
    const ours =
      url.pathname === listenPath ||
      twilio?.ownsPath(url.pathname) === true ||
      dialect !== undefined ||
      isObserverPath(url.pathname);
    if (!ours) return false;
    // Node leaves an upgrade's socket without an error listener: a client that resets the
    // connection while its admission is awaited would otherwise crash the process.
    socket.on('error', () => socket.destroy());
    if (closing) {
      refuseUpgrade(socket, new EarshotError('capacity', 'server is shutting down'));
      return true;
    }
    if (options.allowedOrigins && !originAllowed(req, options.allowedOrigins)) {
      logger.warn(
        { path: url.pathname, origin: req.headers.origin },
        'upgrade from a foreign origin refused',
      );
      refuseUpgrade(socket, new EarshotError('forbidden', 'this origin may not connect'));
      return true;
    }
    // Twilio's streams prove themselves with their signature, checked by its endpoint.
    const needsPrincipal = authenticate !== undefined && twilio?.ownsPath(url.pathname) !== true;
    Promise.resolve(needsPrincipal ? principalOf(req) : undefined).then(
      (principal) => {
        if (needsPrincipal && !principal) {
          refuseUpgrade(
            socket,
            new EarshotError('unauthorized', 'missing or invalid credentials'),
            ['WWW-Authenticate: Bearer'],
          );
          return;
        }
        if (principal) principals.set(req, principal);
        const refused = guard.admit(req, socket, principal?.id);
        if (refused) {
          refuseUpgrade(socket, refused);
          return;
        }
        route(req, url, socket, head, dialect);
      },
      (error: unknown) => {
        if (!EarshotError.isInstance(error)) logger.error({ err: error }, 'authenticate failed');
        refuseUpgrade(
          socket,
          EarshotError.isInstance(error)
            ? error
            : new EarshotError('internal', 'could not authenticate'),
        );
      },
    );
    return true;
  }

  /** Hands an admitted upgrade to its transport. */
  function route(
    req: IncomingMessage,
    url: URL,
    socket: Duplex,
    head: Buffer,
    dialect: DialectEndpoint | undefined,
  ): void {
    if (handleObserverUpgrade(rest, accept, req, socket, head)) return;
    if (twilio?.handleUpgrade(accept, req, socket, head)) return;
    if (dialect) {
      dialect.handleUpgrade(dialectAcceptors.get(dialect) ?? accept, req, socket, head);
      return;
    }
    admit(req, url).then(
      (admission) => {
        if ('refused' in admission) {
          refuseUpgrade(socket, admission.refused);
          return;
        }
        // close() began while the admission was awaited: its list of sessions to end is taken.
        if (closing) {
          refuseUpgrade(socket, new EarshotError('capacity', 'server is shutting down'));
          return;
        }
        accept.handleUpgrade(req, socket, head, (ws) => {
          const peer = canonicalPeer(ws, guard.outbound);
          if ('resume' in admission) {
            const { resume: session } = admission;
            if (!session.attach(peer)) {
              ws.close(CloseCode.SessionEnded, 'the session ended before it could be resumed');
              return;
            }
            bindCanonicalTransport(ws, session, peer);
            logger.info({ sessionId: session.id }, 'session reconnected');
            return;
          }
          const session = newSession({
            id: admission.id,
            peer,
            preCreated: admission.preCreated,
            // A session minted over REST keeps the owner its minter gave it.
            metadata: { ...ownerOf(req), ...admission.metadata },
          });
          registry.add(session);
          bindCanonicalTransport(ws, session, peer);
          logger.info({ sessionId: session.id }, 'session connected');
        });
      },
      (error: unknown) => {
        logger.error({ err: error }, 'upgrade failed');
        // A typed failure (the cluster unreachable for a resume, the store down) keeps its code.
        refuseUpgrade(
          socket,
          EarshotError.isInstance(error)
            ? error
            : new EarshotError('store_error', 'could not admit the session'),
        );
      },
    );
  }

  const handleRequest = async (req: IncomingMessage, res: ServerResponse) => {
    if (await twilio?.handleRequest(req, res)) return true;
    for (const dialect of dialects) {
      if (await dialect.handleRequest?.(req, res)) return true;
    }
    return handleRestRequest(rest, req, res);
  };

  return {
    handleUpgrade,
    handleRequest,
    attach(server) {
      warnIfHttpTimeoutsOff(server, logger);
      const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (!handleUpgrade(req, socket, head) && server.listenerCount('upgrade') === 1) {
          socket.destroy();
        }
      };
      const onRequest = (req: IncomingMessage, res: ServerResponse) => {
        handleRequest(req, res).then(
          (handled) => {
            if (!handled && server.listenerCount('request') === 1) {
              res.writeHead(404, { 'content-type': 'application/json' });
              res.end(JSON.stringify({ error: { code: 'not_found', message: 'no such route' } }));
            }
          },
          (error: unknown) => logger.error({ err: error }, 'request failed'),
        );
      };
      server.on('upgrade', onUpgrade);
      server.on('request', onRequest);
      return () => {
        server.off('upgrade', onUpgrade);
        server.off('request', onRequest);
      };
    },
    events,
    control,
    metrics,
    twilio,
    storeStatus: () => ({
      kind: store.kind,
      degraded: writer.degraded,
      pendingWrites: writer.pending,
    }),
    getSession: (id) => registry.get(id),
    sessions: () => registry.list(),
    async close() {
      closing = true;
      await retention?.close();
      // Each end is bounded by its provider's flush (stopTimeoutSeconds), but not its store
      // writes when the store hangs rather than fails: bounded here, so close() always ends.
      const ending = registry.list().map((s) => s.end('shutdown', CloseCode.GoingAway));
      if (!(await settleWithin(ending, limits.stopTimeoutSeconds * 1000 + 2 * SHUTDOWN_WAIT_MS)))
        logger.error({ sessions: registry.size }, 'sessions still ending at shutdown; cut short');
      await (await cluster)?.leave();
      // After the sessions ended, so their ends are counted.
      (await openTelemetry)?.close();
      metrics?.close();
      guard.close();
      for (const dialect of dialects) dialect.close?.();
      for (const server of [wss, ...dialectServers.values()]) {
        for (const client of server.clients) client.terminate();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      }
      await settleWithin([...background], SHUTDOWN_WAIT_MS);
      const unsaved = await writer.flush(SHUTDOWN_WAIT_MS);
      if (unsaved > 0)
        logger.error({ unsaved }, 'store still unreachable at shutdown; writes lost');
      writer.close();
      if (ownsStore) await store.close();
    },
  };
}

// How long a dialect's claim on a session id holds without its session opening (an upgrade
// completes in milliseconds; this only frees ids of upgrades that were abandoned).
const CLAIM_HOLD_MS = 10_000;

// How long close() waits for end hooks, and then for writes held during a store outage.
const SHUTDOWN_WAIT_MS = 10_000;

/** Waits for `work` to settle, or `ms`, whichever comes first; whether it all settled. */
async function settleWithin(work: Promise<unknown>[], ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const settled = await Promise.race([
    Promise.allSettled(work).then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), ms);
    }),
  ]);
  clearTimeout(timer);
  return settled;
}

/** Wraps `provider` in the resilient layer unless turned off; a provider is never its own fallback. */
function withResilience(
  provider: SttProvider,
  resilience: ResilientProviderOptions | false | undefined,
  logger: Logger,
): SttProvider {
  if (resilience === false) return provider;
  return createResilientProvider(provider, {
    logger,
    ...resilience,
    fallbacks: resilience?.fallbacks?.filter((fallback) => fallback !== provider),
  });
}
