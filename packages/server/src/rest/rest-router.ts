import type { IncomingMessage, ServerResponse } from 'node:http';
import { EarshotError, type Logger } from '@earshot/protocol';
import type { z } from 'zod';
import type { SessionControl } from '../control/session-control.js';
import type { Authenticate } from '../security/authentication.js';
import type { SessionRegistry } from '../session/session-registry.js';
import type { Store } from '../stores/store.js';
import type { SessionTokens } from '../tokens/session-tokens.js';
import { type AdminAuth, isAdminRequest } from './admin-auth.js';
import { readJsonBody, sendError, sendJson } from './http-json.js';
import { REST_ROUTES, type RestOperation, type RestRouteSpec } from './rest-routes.js';
import {
  BroadcastRequestSchema,
  type BroadcastResponseSchema,
  CreateSessionRequestSchema,
  type CreateSessionResponseSchema,
  type EndSessionResponseSchema,
  type HealthResponseSchema,
  ListSessionsQuerySchema,
  parseRequest,
  type SessionDetailResponseSchema,
} from './rest-schemas.js';
import { maySeeSession } from './session-access.js';
import { listSessionPage } from './session-listing.js';

/** Metrics in Prometheus' text format, as `GET /metrics` serves them. */
export interface MetricsExposition {
  /** The `content-type` of {@link MetricsExposition.render}'s text. */
  readonly contentType: string;
  /** The metrics as they are now, in the exposition format. */
  render(): Promise<string>;
}

/** What the REST routes need from the server. */
export interface RestContext {
  /** This process's sessions. The REST routes reach live sessions through `control` only. */
  readonly registry: SessionRegistry;
  /** Live sessions wherever they run: this node's, or the cluster's. */
  readonly control: SessionControl;
  /** The Prometheus exposition `GET /metrics` answers; absent when metrics are off. */
  readonly metrics?: MetricsExposition;
  /** Who may use the admin routes; every request when absent (development). */
  readonly adminAuth?: AdminAuth;
  /**
   * The server's `authenticate`: a principal may read, end and observe its own sessions
   * (routes with `owner`) without admin credentials.
   */
  readonly authenticate?: Authenticate;
  /** Where failures that are bugs (answered as `internal`) are logged. */
  readonly logger?: Logger;
  /** Writes held in memory while the store cannot be reached, for `/healthz`. */
  readonly storeStatus?: () => { readonly degraded: boolean; readonly pendingWrites: number };
  /**
   * Whether the server is shutting down: `POST /v1/sessions` is refused and `/healthz` answers
   * 503, so a load balancer sends new work elsewhere.
   */
  readonly draining?: () => boolean;
  readonly store: Store;
  readonly tokens: SessionTokens;
  readonly tokenTtlSeconds: number;
  readonly listenPath: string;
  readonly providerName: string;
  readonly newSessionId: () => string;
}

/** A route's path parameters. */
interface RouteParams {
  readonly id: string;
}

type Handler = (
  ctx: RestContext,
  req: IncomingMessage,
  res: ServerResponse,
  params: RouteParams,
) => Promise<void>;

/**
 * What a route may answer: the input of its response schema (the one the OpenAPI document is
 * made from), read-only, since answers are only serialized.
 */
type Answer<T extends z.ZodType> = ReadOnlyDeep<z.input<T>>;
type ReadOnlyDeep<T> = T extends (infer U)[]
  ? readonly ReadOnlyDeep<U>[]
  : T extends object
    ? { readonly [K in keyof T]: ReadOnlyDeep<T[K]> }
    : T;

const handlers: Record<RestOperation, Handler> = {
  getHealth: health,
  createSession,
  listSessions,
  getSession,
  endSession,
  observeSession: notAnUpgrade,
  broadcast,
  getMetrics: metrics,
};

/** A route's path template compiled: `{id}` matches one path segment. */
const compiled = REST_ROUTES.map((route) => ({
  route,
  pattern: new RegExp(`^${route.path.replace(/\{[a-z]+\}/g, '([^/]+)')}$`),
}));

/** The routes whose path template matches `pathname`, with the path's `{id}` (raw). */
export function matchRestPath(
  pathname: string,
): { route: RestRouteSpec; rawId: string | undefined }[] {
  const found: { route: RestRouteSpec; rawId: string | undefined }[] = [];
  for (const { route, pattern } of compiled) {
    const match = pattern.exec(pathname);
    if (match) found.push({ route, rawId: match[1] });
  }
  return found;
}

/** Decodes a path segment; malformed percent-encoding is `invalid_request`. */
export function decodeSessionId(raw: string | undefined): string {
  try {
    const id = decodeURIComponent(raw ?? '');
    if (id !== '' && id.length <= 256) return id;
  } catch {
    // fall through to the typed error
  }
  throw new EarshotError('invalid_request', 'the session id in the path is not valid');
}

/**
 * Answers the server's REST routes. Resolves `false` when the request is not one of them, so
 * the host app can route it elsewhere. Never rejects: every failure is answered as JSON.
 */
export async function handleRestRequest(
  ctx: RestContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  let pathname: string;
  try {
    pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
  } catch {
    return false;
  }
  const matching = matchRestPath(pathname);
  if (matching.length === 0) return false;
  try {
    const hit = matching.find((m) => m.route.method === req.method);
    if (matching.some((m) => m.route.admin) && !(await allowed(ctx, req, hit))) {
      res.setHeader('www-authenticate', 'Bearer realm="earshot-admin"');
      throw new EarshotError('unauthorized', 'admin credentials required');
    }
    if (!hit) {
      res.setHeader('allow', matching.map((m) => m.route.method).join(', '));
      sendJson(res, 405, {
        error: { code: 'invalid_request', message: `${req.method} not allowed here` },
      });
      return true;
    }
    const id = hit.rawId === undefined ? '' : decodeSessionId(hit.rawId);
    await handlers[hit.route.operation](ctx, req, res, { id });
  } catch (error) {
    if (!EarshotError.isInstance(error)) {
      // The path only: a query may carry a credential (`?token=`), which must never be logged.
      ctx.logger?.error(
        { err: error, path: new URL(req.url ?? '/', 'http://localhost').pathname },
        'REST request failed',
      );
    }
    sendError(res, error);
  }
  return true;
}

/** Whether `req` may use the route it asks for: an admin, or its session's owner where allowed. */
async function allowed(
  ctx: RestContext,
  req: IncomingMessage,
  hit: { route: RestRouteSpec; rawId?: string } | undefined,
): Promise<boolean> {
  if (hit?.route.owner && hit.rawId !== undefined) {
    return maySeeSession(ctx, req, decodeSessionId(hit.rawId));
  }
  return isAdminRequest(ctx.adminAuth, req);
}

/** The 503 `capacity` of a server that is draining. */
function shuttingDown(message: string): EarshotError {
  return new EarshotError('capacity', message);
}

function queryOf(req: IncomingMessage): Record<string, string> {
  return Object.fromEntries(new URL(req.url ?? '/', 'http://localhost').searchParams);
}

async function health(ctx: RestContext, _req: IncomingMessage, res: ServerResponse) {
  if (ctx.draining?.()) throw shuttingDown('draining: the server is shutting down');
  const { node } = ctx.control;
  const live = await ctx.control.listLive();
  sendJson(res, 200, {
    status: 'ok',
    node,
    activeSessions: live.filter((s) => s.node === node).length,
    provider: ctx.providerName,
    store: ctx.store.kind,
    ...(ctx.storeStatus ? { storeWrites: ctx.storeStatus() } : {}),
  } satisfies Answer<typeof HealthResponseSchema>);
}

async function createSession(ctx: RestContext, req: IncomingMessage, res: ServerResponse) {
  // Its client could not connect here any more: the token is for another node to mint.
  if (ctx.draining?.())
    throw shuttingDown('the server is shutting down; mint the session elsewhere');
  const body = parseRequest(CreateSessionRequestSchema, await readJsonBody(req), 'body');
  const sessionId = ctx.newSessionId();
  await ctx.store.createSession({
    id: sessionId,
    status: 'created',
    createdAt: new Date().toISOString(),
    metadata: body.metadata ?? {},
  });
  const { token, expiresAt } = ctx.tokens.mint(sessionId, 'connect', ctx.tokenTtlSeconds);
  const host = req.headers.host ?? 'localhost';
  const secure = 'encrypted' in req.socket && Boolean(req.socket.encrypted);
  sendJson(res, 201, {
    sessionId,
    token,
    expiresAt: new Date(expiresAt).toISOString(),
    url: `${secure ? 'wss' : 'ws'}://${host}${ctx.listenPath}?token=${encodeURIComponent(token)}`,
  } satisfies Answer<typeof CreateSessionResponseSchema>);
}

async function listSessions(ctx: RestContext, req: IncomingMessage, res: ServerResponse) {
  const query = parseRequest(ListSessionsQuerySchema, queryOf(req), 'query');
  sendJson(res, 200, await listSessionPage(ctx.store, ctx.control, query));
}

async function getSession(
  ctx: RestContext,
  _req: IncomingMessage,
  res: ServerResponse,
  { id }: RouteParams,
) {
  const [record, live] = await Promise.all([ctx.store.getSession(id), ctx.control.getLive(id)]);
  if (!record && !live) throw new EarshotError('session_not_found', `no session ${id}`);
  const [segments, events] = record
    ? await Promise.all([ctx.store.getSegments(id), ctx.store.getEvents(id)])
    : [[], []];
  sendJson(res, 200, {
    session: record ?? null,
    live: live ?? null,
    transcript: segments.map((s) => s.text).join(' '),
    segments,
    events,
    metrics: live?.metrics ?? record?.metrics ?? null,
  } satisfies Answer<typeof SessionDetailResponseSchema>);
}

async function endSession(
  ctx: RestContext,
  _req: IncomingMessage,
  res: ServerResponse,
  { id }: RouteParams,
) {
  const ended = await ctx.control.end(id);
  if (ended) {
    // A session minted over REST that connected but never started ends without a store
    // write of its own: its record is closed here, so its token cannot connect again.
    const record = await ctx.store.getSession(id);
    if (record?.status === 'created') await markEnded(ctx.store, id);
    sendJson(res, 200, {
      sessionId: id,
      status: ended.status === 'failed' ? 'failed' : 'ended',
      final: ended,
    } satisfies Answer<typeof EndSessionResponseSchema>);
    return;
  }
  const record = await ctx.store.getSession(id);
  if (!record) throw new EarshotError('session_not_found', `no session ${id}`);
  if (record.status === 'created') {
    // Minted over REST but never connected: ending it voids its token's use.
    await markEnded(ctx.store, id);
    sendJson(res, 200, {
      sessionId: id,
      status: 'ended',
      final: null,
    } satisfies Answer<typeof EndSessionResponseSchema>);
    return;
  }
  const what = record.status === 'active' ? 'is not live on any node' : 'has already ended';
  throw new EarshotError('session_ended', `session ${id} ${what} (stored as ${record.status})`);
}

function markEnded(store: Store, id: string): Promise<void> {
  return store.updateSession(id, {
    status: 'ended',
    endedAt: new Date().toISOString(),
    endReason: 'ended',
  });
}

async function broadcast(ctx: RestContext, req: IncomingMessage, res: ServerResponse) {
  const body = parseRequest(BroadcastRequestSchema, await readJsonBody(req), 'body');
  if (body.sessionId !== undefined && body.userId !== undefined) {
    throw new EarshotError(
      'invalid_request',
      'invalid body: give sessionId or userId (or neither, for every session), not both',
    );
  }
  const target =
    body.sessionId !== undefined
      ? { sessionId: body.sessionId }
      : body.userId !== undefined
        ? { userId: body.userId }
        : { all: true as const };
  const delivered = await ctx.control.broadcast(target, body.payload);
  if (body.sessionId !== undefined && delivered === 0) {
    throw new EarshotError('session_not_found', `no live session ${body.sessionId}`);
  }
  sendJson(res, 200, { delivered } satisfies Answer<typeof BroadcastResponseSchema>);
}

async function metrics(ctx: RestContext, _req: IncomingMessage, res: ServerResponse) {
  if (!ctx.metrics) throw new EarshotError('not_found', 'this server has no metrics');
  const text = await ctx.metrics.render();
  res.writeHead(200, {
    'content-type': ctx.metrics.contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

async function notAnUpgrade(_ctx: RestContext, _req: IncomingMessage, res: ServerResponse) {
  res.setHeader('upgrade', 'websocket');
  res.setHeader('connection', 'Upgrade');
  sendJson(res, 426, {
    error: {
      code: 'invalid_request',
      message: 'this route is a WebSocket: connect with Upgrade: websocket',
    },
  });
}
