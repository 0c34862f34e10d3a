import {
  AudioFormatSchema,
  type ErrorCode,
  MetadataSchema,
  SessionMetricsSchema,
  SessionSummarySchema,
  WordSchema,
} from '@earshot/protocol';
import { z } from 'zod';
import { httpStatusOf } from './http-json.js';
import { REST_ROUTES, type RestRouteSpec } from './rest-routes.js';
import {
  BroadcastRequestSchema,
  BroadcastResponseSchema,
  CreateSessionRequestSchema,
  CreateSessionResponseSchema,
  EndSessionResponseSchema,
  ErrorResponseSchema,
  HealthResponseSchema,
  JsonValueSchema,
  LiveSessionSchema,
  SessionDetailResponseSchema,
  SessionListItemSchema,
  SessionListResponseSchema,
  StoredEventSchema,
  StoredSegmentSchema,
  StoredSessionSchema,
} from './rest-schemas.js';

/** A JSON Schema or OpenAPI object, as plain JSON. */
/** A JSON object, as the OpenAPI document is. */
export type Json = { [key: string]: unknown };

const REF = (name: string) => `#/components/schemas/${name}`;

/** Named schemas of what the routes accept, rendered as zod parses them (input). */
const REQUEST_SCHEMAS: [string, z.ZodType | z.core.$ZodType][] = [
  ['CreateSessionRequest', CreateSessionRequestSchema],
  ['BroadcastRequest', BroadcastRequestSchema],
  ['JsonValue', JsonValueSchema],
  ['Metadata', MetadataSchema],
];

/** Named schemas of what the routes answer (output). */
const RESPONSE_SCHEMAS: [string, z.ZodType | z.core.$ZodType][] = [
  ['CreateSessionResponse', CreateSessionResponseSchema],
  ['SessionListResponse', SessionListResponseSchema],
  ['SessionListItem', SessionListItemSchema],
  ['SessionDetailResponse', SessionDetailResponseSchema],
  ['EndSessionResponse', EndSessionResponseSchema],
  ['BroadcastResponse', BroadcastResponseSchema],
  ['HealthResponse', HealthResponseSchema],
  ['ErrorResponse', ErrorResponseSchema],
  ['LiveSession', LiveSessionSchema],
  ['StoredSession', StoredSessionSchema],
  ['StoredSegment', StoredSegmentSchema],
  ['StoredEvent', StoredEventSchema],
  ['SessionMetrics', SessionMetricsSchema],
  ['SessionSummary', SessionSummarySchema],
  ['AudioFormat', AudioFormatSchema],
  ['Word', WordSchema],
  ['Metadata', MetadataSchema],
];

/** JSON Schemas of `named`, each referring to the others by `#/components/schemas/<name>`. */
function components(
  named: [string, z.ZodType | z.core.$ZodType][],
  io: 'input' | 'output',
): Record<string, Json> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of named) registry.add(schema, { id });
  const { schemas } = z.toJSONSchema(registry, { io, uri: REF, unrepresentable: 'any' }) as {
    schemas: Record<string, Json>;
  };
  if ('__shared' in schemas) {
    throw new Error('a schema used twice has no name: add it to the named schemas');
  }
  // Components of an OpenAPI document are not documents of their own.
  for (const schema of Object.values(schemas)) {
    delete schema.$schema;
    delete schema.$id;
  }
  return schemas;
}

/** A schema rendered alone (a query's parameters), its parts inline. */
function inline(schema: z.ZodType, io: 'input' | 'output'): Json {
  const json = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  delete json.$schema;
  return json;
}

function parameters(route: RestRouteSpec): Json[] {
  const found: Json[] = [];
  if (route.path.includes('{id}')) {
    found.push({
      name: 'id',
      in: 'path',
      required: true,
      description: 'The session id.',
      schema: { type: 'string', minLength: 1, maxLength: 256 },
    });
  }
  if (route.query) {
    const query = inline(route.query, 'input') as {
      properties?: Record<string, Json>;
      required?: string[];
    };
    for (const [name, property] of Object.entries(query.properties ?? {})) {
      const { description, ...schema } = property;
      found.push({
        name,
        in: 'query',
        required: (query.required ?? []).includes(name) && schema.default === undefined,
        description,
        schema,
      });
    }
  }
  return found;
}

function responses(route: RestRouteSpec): Json {
  const { answer } = route;
  const content = answer.schema
    ? { 'application/json': { schema: { $ref: REF(schemaName(answer.schema)) } } }
    : answer.contentType
      ? { [answer.contentType]: { schema: { type: 'string' } } }
      : undefined;
  const out: Json = {
    [answer.status]: { description: answer.description, ...(content ? { content } : {}) },
  };
  const byStatus = new Map<number, string[]>();
  const errors: [string, string][] = Object.entries(route.errors);
  if (route.admin) {
    errors.push(['unauthorized', 'No valid admin credentials, when the server sets `adminAuth`.']);
  }
  for (const [code, when] of errors) {
    const status = httpStatusOf(code as ErrorCode);
    byStatus.set(status, [...(byStatus.get(status) ?? []), `\`${code}\`: ${when}`]);
  }
  byStatus.set(405, ['`invalid_request`: another method than the path’s (they are in `Allow`).']);
  if (route.webSocket) {
    byStatus.set(426, ['`invalid_request`: a plain request, without `Upgrade: websocket`.']);
  }
  for (const [status, lines] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[status] = {
      description: lines.join(' '),
      content: { 'application/json': { schema: { $ref: REF('ErrorResponse') } } },
    };
  }
  return out;
}

function schemaName(schema: z.ZodType | z.core.$ZodType): string {
  const found = [...REQUEST_SCHEMAS, ...RESPONSE_SCHEMAS].find(([, s]) => s === schema);
  if (!found) throw new Error('a route names a schema that has no component name');
  return found[0];
}

function operation(route: RestRouteSpec): Json {
  return {
    operationId: route.operation,
    summary: route.summary,
    description: route.description,
    tags: [route.admin ? 'admin' : 'health'],
    ...(route.admin ? { security: [{ adminBearer: [] }, { adminApiKey: [] }] } : { security: [] }),
    ...(parameters(route).length > 0 ? { parameters: parameters(route) } : {}),
    ...(route.body
      ? {
          requestBody: {
            // A body whose every field is optional may be left out (an empty body reads as `{}`).
            required: !route.body.safeParse({}).success,
            content: { 'application/json': { schema: { $ref: REF(schemaName(route.body)) } } },
          },
        }
      : {}),
    responses: responses(route),
    ...(route.webSocket ? { 'x-websocket': true } : {}),
  };
}

/**
 * The OpenAPI 3.1 document of the REST admin, generated from the zod schemas the routes
 * validate with and answer by, so it cannot drift from the code. `docs/openapi.json` is this
 * document.
 */
export function restOpenApiDocument(): Json {
  const requests = components(REQUEST_SCHEMAS, 'input');
  const answers = components(RESPONSE_SCHEMAS, 'output');
  for (const [name, schema] of Object.entries(requests)) {
    if (name in answers && JSON.stringify(answers[name]) !== JSON.stringify(schema)) {
      throw new Error(`${name} differs as input and as output: name the two apart`);
    }
  }
  const paths: Record<string, Json> = {};
  for (const route of REST_ROUTES) {
    paths[route.path] = { ...paths[route.path], [route.method.toLowerCase()]: operation(route) };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Earshot REST admin',
      version: 'v1',
      description:
        'The admin API of an Earshot server (`@earshot/server`): mint sessions for clients, list and read sessions (live and stored), end them, broadcast to them, watch them live, read metrics. Every route validates its input and answers errors as `{ "error": { "code", "message" } }` with a stable code. With the server option `adminAuth`, every route but `/healthz` needs the admin key (`Authorization: Bearer <key>` or `x-api-key: <key>`) or whatever the app’s function accepts; without it the routes are open, which is for development.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    tags: [
      { name: 'admin', description: 'Guarded by `adminAuth` when the server sets it.' },
      { name: 'health', description: 'Always open.' },
    ],
    paths,
    components: {
      schemas: { ...answers, ...requests },
      securitySchemes: {
        adminBearer: {
          type: 'http',
          scheme: 'bearer',
          description: "The server's admin API key (`adminAuth: { apiKey }`).",
        },
        adminApiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description: "The server's admin API key (`adminAuth: { apiKey }`).",
        },
      },
    },
  };
}
