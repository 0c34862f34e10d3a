import type { IncomingMessage, ServerResponse } from 'node:http';
import { CloseCode, EarshotError, MetadataSchema, SessionStatusSchema } from '@earshot/protocol';
import { z } from 'zod';
import type { SessionControl } from '../control/session-control.js';
import type { SessionRegistry } from '../session/session-registry.js';
import type { Store } from '../stores/store.js';
import type { SessionTokens } from '../tokens/session-tokens.js';
import { readJsonBody, sendError, sendJson } from './http-json.js';

/** Metrics in Prometheus' text format, as `GET /metrics` serves them. */
export interface MetricsExposition {
  /** The `content-type` of {@link MetricsExposition.render}'s text. */
  readonly contentType: string;
  render(): Promise<string>;
}

/** What the REST routes need from the server. */
export interface RestContext {
  readonly registry: SessionRegistry;
  /** Live sessions wherever they run: this node's, or the cluster's. */
  readonly control: SessionControl;
  /** The Prometheus exposition `GET /metrics` answers; absent when metrics are off. */
  readonly metrics?: MetricsExposition;
  readonly store: Store;
  readonly tokens: SessionTokens;
  readonly tokenTtlSeconds: number;
  readonly listenPath: string;
  readonly providerName: string;
  readonly newSessionId: () => string;
}

// The protocol's schemas are zod/mini schemas, without chainable methods: wrap them with
// classic zod's functions, which take any zod schema.
const CreateSessionBody = z.object({ metadata: z.optional(MetadataSchema) }).strict();
const ListQuery = z.object({
  status: z.optional(SessionStatusSchema),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

type Handler = (
  ctx: RestContext,
  req: IncomingMessage,
  res: ServerResponse,
  id: string,
) => Promise<void>;

const routes: { method: string; pattern: RegExp; handler: Handler }[] = [
  { method: 'GET', pattern: /^\/healthz$/, handler: health },
  { method: 'POST', pattern: /^\/v1\/sessions$/, handler: createSession },
  { method: 'GET', pattern: /^\/v1\/sessions$/, handler: listSessions },
  { method: 'GET', pattern: /^\/v1\/sessions\/([^/]+)$/, handler: getSession },
  { method: 'POST', pattern: /^\/v1\/sessions\/([^/]+)\/end$/, handler: endSession },
];

/**
 * Answers the server's REST routes. Resolves `false` when the request is not one of them, so
 * the host app can route it elsewhere.
 */
export async function handleRestRequest(
  ctx: RestContext,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<boolean> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const matching = routes.filter((r) => r.pattern.test(url.pathname));
  if (matching.length === 0) return false;
  const route = matching.find((r) => r.method === req.method);
  if (!route) {
    res.setHeader('allow', matching.map((r) => r.method).join(', '));
    sendJson(res, 405, {
      error: { code: 'invalid_request', message: `${req.method} not allowed here` },
    });
    return true;
  }
  const id = decodeURIComponent(route.pattern.exec(url.pathname)?.[1] ?? '');
  try {
    await route.handler(ctx, req, res, id);
  } catch (error) {
    sendError(res, error);
  }
  return true;
}

async function health(ctx: RestContext, _req: IncomingMessage, res: ServerResponse) {
  sendJson(res, 200, {
    status: 'ok',
    activeSessions: ctx.registry.size,
    provider: ctx.providerName,
    store: ctx.store.kind,
  });
}

async function createSession(ctx: RestContext, req: IncomingMessage, res: ServerResponse) {
  const body = CreateSessionBody.safeParse(await readJsonBody(req));
  if (!body.success) {
    throw new EarshotError('invalid_request', `invalid body: ${body.error.issues[0]?.message}`);
  }
  const sessionId = ctx.newSessionId();
  await ctx.store.createSession({
    id: sessionId,
    status: 'created',
    createdAt: new Date().toISOString(),
    metadata: body.data.metadata ?? {},
  });
  const { token, expiresAt } = ctx.tokens.mint(sessionId, 'connect', ctx.tokenTtlSeconds);
  const host = req.headers.host ?? 'localhost';
  const secure = 'encrypted' in req.socket && Boolean(req.socket.encrypted);
  sendJson(res, 201, {
    sessionId,
    token,
    expiresAt: new Date(expiresAt).toISOString(),
    url: `${secure ? 'wss' : 'ws'}://${host}${ctx.listenPath}?token=${encodeURIComponent(token)}`,
  });
}

async function listSessions(ctx: RestContext, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const query = ListQuery.safeParse(Object.fromEntries(url.searchParams));
  if (!query.success) {
    throw new EarshotError('invalid_request', `invalid query: ${query.error.issues[0]?.message}`);
  }
  // Without a status filter the answer is the live sessions of this node, with their figures.
  if (!query.data.status) {
    sendJson(res, 200, { sessions: ctx.registry.list().map((s) => s.info()) });
    return;
  }
  const page = await ctx.store.listSessions({
    status: query.data.status,
    limit: query.data.limit,
  });
  sendJson(res, 200, { sessions: page.sessions });
}

async function getSession(
  ctx: RestContext,
  _req: IncomingMessage,
  res: ServerResponse,
  id: string,
) {
  const record = await ctx.store.getSession(id);
  const live = ctx.registry.get(id);
  if (!record && !live) throw new EarshotError('session_not_found', `no session ${id}`);
  const segments = record ? await ctx.store.getSegments(id) : [];
  sendJson(res, 200, {
    session: record ?? null,
    live: live ? live.info() : null,
    transcript: segments.map((s) => s.text).join(' '),
    segments,
  });
}

async function endSession(
  ctx: RestContext,
  _req: IncomingMessage,
  res: ServerResponse,
  id: string,
) {
  const live = ctx.registry.get(id);
  if (live) {
    await live.end('ended', CloseCode.SessionEnded);
    sendJson(res, 200, { sessionId: id, status: live.status, summary: live.info() });
    return;
  }
  const record = await ctx.store.getSession(id);
  if (!record) throw new EarshotError('session_not_found', `no session ${id}`);
  if (record.status === 'created') {
    // Minted over REST but never connected: ending it voids its token's use.
    await ctx.store.updateSession(id, {
      status: 'ended',
      endedAt: new Date().toISOString(),
      endReason: 'ended',
    });
    sendJson(res, 200, { sessionId: id, status: 'ended' });
    return;
  }
  throw new EarshotError('session_ended', `session ${id} has already ended`);
}
