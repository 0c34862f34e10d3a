// The REST admin's wire, as zod schemas: what each route accepts (validated on every request)
// and what it answers (the types the handlers must satisfy). docs/openapi.json and
// docs/rest-api.md are generated from these, so the reference cannot drift from the code.
import {
  AudioFormatSchema,
  EarshotError,
  ERROR_CODES,
  MetadataSchema,
  SESSION_STATUSES,
  SessionInfoMessageSchema,
  SessionMetricsSchema,
  SessionStatusSchema,
  SessionSummarySchema,
  WordSchema,
} from '@earshot/protocol';
import { z } from 'zod';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, STORED_EVENT_TYPES } from '../stores/store.js';

// The protocol's schemas are zod/mini schemas, without chainable methods: they are wrapped
// here with classic zod's functions (`z.optional(X)`, `z.nullable(X)`), which take any zod schema.

const id = () => z.string().min(1).max(256);
const isoTime = (text: string) => z.string().describe(`ISO 8601 time ${text}.`);

// Registered rather than `.describe()`d: a described copy would not be the schema its own
// arrays and objects refer to, and the JSON Schema would repeat it unnamed.
/** A JSON value, as a broadcast's `payload`. */
export const JsonValueSchema = z
  .json()
  .register(z.globalRegistry, { description: 'Any JSON value.' });

/** Body of `POST /v1/sessions`. */
export const CreateSessionRequestSchema = z
  .object({
    metadata: z.optional(MetadataSchema),
  })
  .strict()
  .describe(
    'What to keep with the new session: its `metadata` (e.g. `{ userId }`, which `GET /v1/sessions?userId=` and `POST /v1/broadcast` match). An empty body is `{}`.',
  );
/** Body of `POST /v1/sessions`. */
export type CreateSessionRequest = z.infer<typeof CreateSessionRequestSchema>;

/** Answer of `POST /v1/sessions`. */
export const CreateSessionResponseSchema = z
  .object({
    sessionId: z.string().describe('The new session’s id.'),
    token: z
      .string()
      .describe(
        'Signed, short-lived token that connects the session once (`?token=` or `Authorization: Bearer`).',
      ),
    expiresAt: isoTime('after which the token no longer connects'),
    url: z.string().describe('The WebSocket URL to connect to, token included.'),
  })
  .describe('A session minted for a client to connect to.');
/** Answer of `POST /v1/sessions`. */
export type CreateSessionResponse = z.infer<typeof CreateSessionResponseSchema>;

/** Query of `GET /v1/sessions`. */
export const ListSessionsQuerySchema = z
  .object({
    status: z.optional(SessionStatusSchema).describe('Only sessions in this status.'),
    userId: id().optional().describe('Only sessions whose `metadata.userId` is this.'),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_PAGE_SIZE)
      .default(DEFAULT_PAGE_SIZE)
      .describe('At most this many sessions in the page.'),
    cursor: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe('The `nextCursor` of the previous page, to read the next one.'),
  })
  .strict();
/** Query of `GET /v1/sessions`, defaults applied. */
export type ListSessionsQuery = z.infer<typeof ListSessionsQuerySchema>;

/** A live session as the admin sees it (`LiveSession`). */
export const LiveSessionSchema = z
  .object({
    ...SessionInfoMessageSchema.def.shape,
    metadata: MetadataSchema,
    node: z.string().describe('The server node that runs the session (its `nodeId`).'),
  })
  .omit({ type: true })
  .describe(
    "A live session's current figures, as its `session_info` message has them, with its metadata and the node that runs it. `startedAt` is when the session was created on that node.",
  );

/** A session as the store keeps it (`SessionRecord`). */
export const StoredSessionSchema = z
  .object({
    id: z.string(),
    status: SessionStatusSchema,
    createdAt: isoTime('the session was created (over REST, or on connect)'),
    startedAt: isoTime('audio streaming started (`ready` was sent)').optional(),
    endedAt: isoTime('the session ended').optional(),
    provider: z.string().optional(),
    audio: z.optional(AudioFormatSchema),
    language: z.string().optional(),
    metadata: MetadataSchema,
    endReason: z
      .string()
      .optional()
      .describe(
        'Why it ended: `stopped`, `ended`, `error`, `timeout`, `shutdown` or `disconnected`.',
      ),
    summary: z.optional(SessionSummarySchema),
    metrics: z.optional(SessionMetricsSchema),
  })
  .describe('A session as the store keeps it.');

/** One session in the answer of `GET /v1/sessions`. */
export const SessionListItemSchema = z
  .object({
    id: z.string(),
    status: z
      .enum(SESSION_STATUSES)
      .describe('The live status when the session is live, else the stored one.'),
    createdAt: isoTime('the session was created: the order of the list (newest first)'),
    startedAt: isoTime('audio streaming started').optional(),
    endedAt: isoTime('the session ended').optional(),
    provider: z.string().optional(),
    audio: z.optional(AudioFormatSchema),
    language: z.string().optional(),
    metadata: MetadataSchema,
    endReason: z.string().optional(),
    summary: z.optional(SessionSummarySchema),
    metrics: z
      .optional(SessionMetricsSchema)
      .describe('The live figures when the session is live, else the stored ones (if any).'),
    stored: z
      .boolean()
      .describe(
        'Whether the store holds the session: one minted over REST from the start, one that connected without a token once it starts streaming.',
      ),
    live: z
      .nullable(LiveSessionSchema)
      .describe('The live view when a node runs the session now, else `null`.'),
  })
  .describe(
    'A session in the admin list: the stored record merged with the live view, when there is one.',
  );
/** One session in the answer of `GET /v1/sessions`. */
export type SessionListItem = z.infer<typeof SessionListItemSchema>;

/** Answer of `GET /v1/sessions`. */
export const SessionListResponseSchema = z
  .object({
    sessions: z.array(SessionListItemSchema).describe('Newest first (by `createdAt`, then id).'),
    nextCursor: z
      .string()
      .optional()
      .describe(
        'Pass as `cursor` for the next page; absent on the last page. A page may hold fewer than `limit` sessions and still have a next one.',
      ),
  })
  .describe('One page of sessions: the live ones and the stored ones in one list.');
/** Answer of `GET /v1/sessions`. */
export type SessionListResponse = z.infer<typeof SessionListResponseSchema>;

/** A final transcript segment as the store keeps it. */
export const StoredSegmentSchema = z.object({
  segmentId: z.string(),
  seq: z.number().int().nonnegative().describe('Position of the segment in the session, from 0.'),
  text: z.string(),
  start: z.number().nonnegative().describe('Seconds of session audio.'),
  end: z.number().nonnegative().describe('Seconds of session audio.'),
  confidence: z.number().min(0).max(1).optional(),
  speaker: z.number().int().nonnegative().optional(),
  words: z.array(WordSchema),
  createdAt: isoTime('the final was stored'),
});

/** Something that happened in a session besides its transcript. */
export const StoredEventSchema = z.object({
  type: z
    .enum(STORED_EVENT_TYPES)
    .describe(
      'A voice command, an error reported to the client, a broadcast delivered, the outcome of the `onSessionEnd` hook, or a key pressed on a phone call.',
    ),
  at: isoTime('it happened'),
  data: z.record(z.string(), z.unknown()).describe("The event's JSON content."),
});

/** Answer of `GET /v1/sessions/:id`. */
export const SessionDetailResponseSchema = z
  .object({
    session: z
      .nullable(StoredSessionSchema)
      .describe('The stored record, or `null` while a live session is not stored yet.'),
    live: z
      .nullable(LiveSessionSchema)
      .describe('The live view when a node runs the session now, else `null`.'),
    transcript: z.string().describe('The final segments’ text, joined with spaces.'),
    segments: z.array(StoredSegmentSchema).describe('The stored final segments, in order.'),
    events: z.array(StoredEventSchema).describe('The stored events, in order.'),
    metrics: z
      .nullable(SessionMetricsSchema)
      .describe('The live figures when the session is live, else the stored ones, else `null`.'),
  })
  .describe('Everything known about one session.');
/** Answer of `GET /v1/sessions/:id`. */
export type SessionDetailResponse = z.infer<typeof SessionDetailResponseSchema>;

/** Answer of `POST /v1/sessions/:id/end`. */
export const EndSessionResponseSchema = z
  .object({
    sessionId: z.string(),
    status: SessionStatusSchema,
    final: z
      .nullable(LiveSessionSchema)
      .describe(
        "The session's live view at its end, or `null` for a session that never connected.",
      ),
  })
  .describe(
    'The session has ended: its client got `closed` (reason `ended`) and close 4000, and its last finals are stored.',
  );
/** Answer of `POST /v1/sessions/:id/end`. */
export type EndSessionResponse = z.infer<typeof EndSessionResponseSchema>;

/** Body of `POST /v1/broadcast`. */
export const BroadcastRequestSchema = z
  .object({
    // Described on the object: a described copy of the recursive schema would have no name.
    payload: JsonValueSchema,
    sessionId: id().optional().describe('Only this live session.'),
    userId: id().optional().describe('Only the live sessions whose `metadata.userId` is this.'),
  })
  .strict()
  .describe(
    'An application message for live sessions: its clients receive `{ "type": "broadcast", "payload": … }`. It goes to every live session when neither `sessionId` nor `userId` is given; giving both is `invalid_request`.',
  );
/** Body of `POST /v1/broadcast`. */
export type BroadcastRequest = z.infer<typeof BroadcastRequestSchema>;

/** Answer of `POST /v1/broadcast`. */
export const BroadcastResponseSchema = z.object({
  delivered: z.number().int().nonnegative().describe('How many live sessions it reached.'),
});
/** Answer of `POST /v1/broadcast`. */
export type BroadcastResponse = z.infer<typeof BroadcastResponseSchema>;

/** Answer of `GET /healthz`. */
export const HealthResponseSchema = z.object({
  status: z.literal('ok'),
  node: z.string().describe("This server's node id."),
  activeSessions: z.number().int().nonnegative().describe('Live sessions on this node.'),
  provider: z.string().describe('Name of the default provider.'),
  store: z.string().describe('Kind of store: `memory`, `sqlite`, `postgres`.'),
  storeWrites: z
    .object({
      degraded: z.boolean().describe('Whether writes are waiting for the store.'),
      pendingWrites: z
        .number()
        .int()
        .nonnegative()
        .describe('Writes held in memory while the store cannot be reached.'),
    })
    .optional(),
});
/** Answer of `GET /healthz`. */
export type HealthResponse = z.infer<typeof HealthResponseSchema>;

/** Every error answer. */
export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODES).describe('Stable: never renamed.'),
      message: z.string().describe('For people; for validation errors it names the field.'),
    }),
  })
  .describe('An error, with a stable code and the HTTP status the code implies.');
/** Every error answer. */
export type ErrorResponse = z.infer<typeof ErrorResponseSchema>;

/**
 * Parses `value` with `schema`, or throws `invalid_request` naming the fields that failed
 * (`invalid query: limit: Too big: expected number to be <=1000`).
 */
export function parseRequest<T extends z.ZodType>(
  schema: T,
  value: unknown,
  where: 'body' | 'query',
): z.infer<T> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues.slice(0, 3).map((issue) => {
    const path = issue.path.map(String).join('.');
    // A union (a JSON value) says only "Invalid input" when the field is missing.
    const message =
      issue.code === 'invalid_union' && valueAt(value, issue.path) === undefined
        ? 'Required'
        : issue.message;
    return path === '' ? message : `${path}: ${message}`;
  });
  const more = result.error.issues.length > issues.length ? ' (and more)' : '';
  throw new EarshotError('invalid_request', `invalid ${where}: ${issues.join('; ')}${more}`);
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}
