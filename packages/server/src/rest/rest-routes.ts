import type { ErrorCode } from '@earshot/protocol';
import type { z } from 'zod';
import {
  BroadcastRequestSchema,
  BroadcastResponseSchema,
  CreateSessionRequestSchema,
  CreateSessionResponseSchema,
  EndSessionResponseSchema,
  HealthResponseSchema,
  ListSessionsQuerySchema,
  SessionDetailResponseSchema,
  SessionListResponseSchema,
} from './rest-schemas.js';

/** The name of one REST route (its OpenAPI `operationId`). */
export type RestOperation =
  | 'getHealth'
  | 'createSession'
  | 'listSessions'
  | 'getSession'
  | 'endSession'
  | 'observeSession'
  | 'broadcast'
  | 'getMetrics';

/** One REST route as data: the router answers it, the OpenAPI document describes it. */
export interface RestRouteSpec {
  readonly operation: RestOperation;
  readonly method: 'GET' | 'POST';
  /** Path template, OpenAPI style: `/v1/sessions/{id}`. */
  readonly path: string;
  readonly summary: string;
  readonly description: string;
  /** Whether `adminAuth`, when set, guards it. */
  readonly admin: boolean;
  /** Whether the principal that owns the session in its path may use it too (not only admins). */
  readonly owner?: boolean;
  readonly query?: z.ZodObject;
  readonly body?: z.ZodType;
  /** The success answer; `schema` is its JSON body, absent for other content. */
  readonly answer: {
    readonly status: number;
    readonly description: string;
    readonly schema?: z.ZodType;
    readonly contentType?: string;
  };
  /**
   * The error codes the route may answer, each with when, besides `unauthorized` (admin
   * routes) and 405 (another method).
   */
  readonly errors: Readonly<Partial<Record<ErrorCode, string>>>;
  /** A WebSocket upgrade rather than a plain request. */
  readonly webSocket?: boolean;
}

const STORE_ERRORS = {
  store_error: 'The store failed to read or write.',
  store_unavailable: 'The store cannot be reached.',
} as const;
const CLUSTER_ERROR = {
  cluster_unavailable:
    'In a cluster: Redis, or the node that runs the session, cannot be reached right now (retry).',
} as const;
const BAD_ID =
  'The session id in the path is not valid (malformed percent-encoding, over 256 characters).';

/** Every REST route of the server, in the order the reference lists them. */
export const REST_ROUTES: readonly RestRouteSpec[] = [
  {
    operation: 'createSession',
    method: 'POST',
    path: '/v1/sessions',
    summary: 'Mint a session and a token to connect to it',
    description:
      "Stores a new session (status `created`) with the body's metadata and answers a signed token that connects it once, before `expiresAt` (`tokenTtlSeconds`, 300 s by default). Your backend calls this after its own login check and hands the browser the `token` or the `url`.",
    admin: true,
    body: CreateSessionRequestSchema,
    answer: {
      status: 201,
      description: 'The session and its token.',
      schema: CreateSessionResponseSchema,
    },
    errors: {
      invalid_request:
        'The body is not JSON, is over 64 KiB, or is not `{ metadata? }` with flat metadata.',
      capacity: 'The server is shutting down (draining): mint the session on another node.',
      ...STORE_ERRORS,
    },
  },
  {
    operation: 'listSessions',
    method: 'GET',
    path: '/v1/sessions',
    summary: 'List sessions, live and stored',
    description:
      'One list, newest first: the stored sessions merged with the live ones (wherever they run), each live one with its current figures and node. A session that is connected but not started yet is listed from its live view alone (`stored: false`). Filter by `status` and `userId`; page with `limit` and `cursor`.',
    admin: true,
    query: ListSessionsQuerySchema,
    answer: {
      status: 200,
      description: 'One page of sessions.',
      schema: SessionListResponseSchema,
    },
    errors: {
      invalid_request:
        'A query parameter is out of range or unknown, or the cursor is not one this server returned.',
      ...STORE_ERRORS,
    },
  },
  {
    operation: 'getSession',
    method: 'GET',
    path: '/v1/sessions/{id}',
    summary: 'Read one session: record, live view, transcript, events, metrics',
    description:
      'The stored record and the live view (each `null` when there is none), the final transcript so far, its segments, the stored events (commands, errors, broadcasts, end hook) and the figures: live ones while the session runs, stored ones after.',
    admin: true,
    owner: true,
    answer: { status: 200, description: 'The session.', schema: SessionDetailResponseSchema },
    errors: {
      invalid_request: BAD_ID,
      forbidden:
        'An authenticated principal that does not own the session: only its owner or an admin may.',
      session_not_found: 'Neither the store nor any node knows the session.',
      ...CLUSTER_ERROR,
      ...STORE_ERRORS,
    },
  },
  {
    operation: 'endSession',
    method: 'POST',
    path: '/v1/sessions/{id}/end',
    summary: 'End a session',
    description:
      'Ends a live session wherever it runs: its last finals are stored and sent, its client gets `closed` (reason `ended`) and close 4000. A session minted over REST that never connected is marked ended, and its token no longer connects. A session that has already ended answers 409 `session_ended`.',
    admin: true,
    owner: true,
    answer: {
      status: 200,
      description: 'The session has ended.',
      schema: EndSessionResponseSchema,
    },
    errors: {
      invalid_request: BAD_ID,
      forbidden:
        'An authenticated principal that does not own the session: only its owner or an admin may.',
      session_not_found: 'Neither the store nor any node knows the session.',
      session_ended:
        'The session has already ended (or its record says it runs, but no node does).',
      ...CLUSTER_ERROR,
      ...STORE_ERRORS,
    },
  },
  {
    operation: 'observeSession',
    method: 'GET',
    path: '/v1/sessions/{id}/events',
    summary: 'Watch a live session (WebSocket)',
    description:
      "A WebSocket for observers (an admin dashboard, a supervisor's screen). The first text frame is the session's current state: a `session_info` message with its `metadata` and `node` added. Then every message the session sends its client, as it sends it, one JSON text frame each (`transcript`, `ack`, `command`, `broadcast`, `error`, …; see the protocol reference). After the session's `closed` message the socket closes with 1000 (1001 when the server shut down); it closes with 1000 too when the session ends without one (its client had gone). Observers send nothing; what they send is ignored. A session that is not live is refused before the upgrade: 404 `session_not_found`, or 409 `session_ended` once it has ended. A plain GET without `Upgrade: websocket` answers 426.",
    admin: true,
    owner: true,
    answer: { status: 101, description: 'Switching to the WebSocket protocol.' },
    errors: {
      invalid_request: BAD_ID,
      forbidden:
        'An authenticated principal that does not own the session: only its owner or an admin may.',
      session_not_found:
        'No node runs the session now, and it has not ended (unknown, or not connected yet).',
      session_ended: 'The session has ended.',
      ...CLUSTER_ERROR,
      ...STORE_ERRORS,
    },
    webSocket: true,
  },
  {
    operation: 'broadcast',
    method: 'POST',
    path: '/v1/broadcast',
    summary: 'Send an application message to live sessions',
    description:
      'Sends `{ "type": "broadcast", "payload": … }` to every live session, to one (`sessionId`), or to one user’s (`userId`, matched against `metadata.userId`), wherever they run. Each delivery is stored as a `broadcast` event of the session; a client that is away and resumes gets it then. A `sessionId` that is not live answers 404.',
    admin: true,
    body: BroadcastRequestSchema,
    answer: {
      status: 200,
      description: 'How many sessions it reached.',
      schema: BroadcastResponseSchema,
    },
    errors: {
      invalid_request:
        'The body is not JSON, is over 64 KiB, has no `payload`, has an unknown field, or names both `sessionId` and `userId`.',
      session_not_found: 'No live session has that `sessionId`.',
      ...CLUSTER_ERROR,
    },
  },
  {
    operation: 'getHealth',
    method: 'GET',
    path: '/healthz',
    summary: 'Health',
    description:
      'Whether the server answers, with its node, live sessions, provider and store. Never guarded by `adminAuth`. 503 while it shuts down, so a load balancer stops sending it new work.',
    admin: false,
    answer: { status: 200, description: 'The server is up.', schema: HealthResponseSchema },
    errors: {
      capacity: 'The server is shutting down (draining its sessions): send new work elsewhere.',
    },
  },
  {
    operation: 'getMetrics',
    method: 'GET',
    path: '/metrics',
    summary: 'Prometheus metrics',
    description:
      "The server's metrics in Prometheus' text exposition format, for a Prometheus scrape job. 404 `not_found` when the server has no metrics.",
    admin: true,
    answer: {
      status: 200,
      description: 'Metrics in Prometheus text format.',
      contentType: 'text/plain; version=0.0.4; charset=utf-8',
    },
    errors: { not_found: 'The server has no metrics (`metrics: false`).' },
  },
];
