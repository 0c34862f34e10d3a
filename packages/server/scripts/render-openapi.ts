// Renders docs/openapi.json and docs/rest-api.md from the REST admin's zod schemas, so the
// reference cannot drift from what the routes accept and answer. Written by
// scripts/generate-openapi.ts; a test compares the committed files with a fresh render.
import { restOpenApiDocument } from '../src/rest/rest-openapi.js';
import { REST_ROUTES } from '../src/rest/rest-routes.js';

type JsonSchema = {
  $ref?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  required?: string[];
  description?: string;
  default?: unknown;
  const?: unknown;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  items?: JsonSchema;
  type?: string | string[];
  minimum?: number;
  maximum?: number;
};

interface Operation {
  description: string;
  parameters?: {
    name: string;
    in: string;
    required: boolean;
    description?: string;
    schema: JsonSchema;
  }[];
  requestBody?: { required: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<
    string,
    { description: string; content?: Record<string, { schema: JsonSchema }> }
  >;
}

const nameOf = (ref: string) => ref.slice(ref.lastIndexOf('/') + 1);
const link = (ref: string) => `[${nameOf(ref)}](#${nameOf(ref).toLowerCase()})`;
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function describeType(p: JsonSchema): string {
  if (p.$ref) return link(p.$ref);
  if (p.const !== undefined) return `\`${JSON.stringify(p.const)}\``;
  if (p.enum) return p.enum.map((v) => `\`${JSON.stringify(v)}\``).join(' \\| ');
  if (p.anyOf) return p.anyOf.map(describeType).join(' \\| ');
  if (p.type === 'array') return `${describeType(p.items ?? {})}[]`;
  if (p.type === 'object') {
    if (p.properties) {
      return `object (${Object.keys(p.properties)
        .map((k) => `\`${k}\``)
        .join(', ')})`;
    }
    if (typeof p.additionalProperties === 'object') {
      return `object of ${describeType(p.additionalProperties)}`;
    }
    return 'object';
  }
  if (Array.isArray(p.type)) return p.type.join(' \\| ');
  const range =
    p.minimum !== undefined && p.maximum !== undefined && p.maximum < 2 ** 53 - 1
      ? ` (${p.minimum}–${p.maximum})`
      : '';
  return `${p.type ?? 'any JSON'}${range}`;
}

function fieldsTable(schema: JsonSchema): string {
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties ?? {}).map(([name, p]) => {
    const note = [
      p.description,
      p.default !== undefined ? `Default \`${JSON.stringify(p.default)}\`.` : '',
    ]
      .filter(Boolean)
      .join(' ');
    const isRequired = required.has(name) && p.default === undefined;
    return `| \`${name}\` | ${describeType(p)} | ${isRequired ? 'yes' : 'no'} | ${cell(note)} |`;
  });
  return ['| field | type | required | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

function routeSection(method: string, path: string, op: Operation): string {
  const parts = [`## \`${method} ${path}\``, op.description];
  const query = (op.parameters ?? []).filter((p) => p.in === 'query');
  if (query.length > 0) {
    parts.push(
      [
        '**Query**',
        '',
        '| parameter | type | required | meaning |',
        '|---|---|---|---|',
        ...query.map((p) => {
          const note = [
            p.description,
            p.schema.default !== undefined
              ? `Default \`${JSON.stringify(p.schema.default)}\`.`
              : '',
          ]
            .filter(Boolean)
            .join(' ');
          return `| \`${p.name}\` | ${describeType(p.schema)} | ${p.required ? 'yes' : 'no'} | ${cell(note)} |`;
        }),
      ].join('\n'),
    );
  }
  if (op.requestBody) {
    const schema = op.requestBody.content['application/json']!.schema;
    parts.push(
      `**Body**: ${describeType(schema)}${op.requestBody.required ? '' : ' (may be left out)'}.`,
    );
  }
  const rows = Object.entries(op.responses).map(([status, r]) => {
    const [type, c] = Object.entries(r.content ?? {})[0] ?? [];
    const body = c ? (c.schema.$ref ? describeType(c.schema) : `\`${type}\``) : '—';
    return `| ${status} | ${body} | ${cell(r.description)} |`;
  });
  parts.push(['| status | body | when |', '|---|---|---|', ...rows].join('\n'));
  return parts.join('\n\n');
}

/**
 * JSON as the repository's formatter (Biome) prints it, so `biome check` passes on the file:
 * objects one member a line, arrays of plain values on one line when they fit in 100 columns.
 */
export function formatJson(value: unknown, indent = '', prefix = 0): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const inner = `${indent}  `;
    if (value.every((v) => typeof v !== 'object' || v === null)) {
      const flat = `[${value.map((v) => JSON.stringify(v)).join(', ')}]`;
      // The line holds the indentation, the key before the array and a comma after it.
      if (prefix + flat.length + 1 <= 100) return flat;
    }
    const items = value.map((v) => `${inner}${formatJson(v, inner, inner.length)}`);
    return `[\n${items.join(',\n')}\n${indent}]`;
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined);
    if (entries.length === 0) return '{}';
    const inner = `${indent}  `;
    const members = entries.map(([k, v]) => {
      const head = `${inner}${JSON.stringify(k)}: `;
      return `${head}${formatJson(v, inner, head.length)}`;
    });
    return `{\n${members.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}

/** The generated files, by path from the repository root. */
export function renderRestDocs(): Record<string, string> {
  const doc = restOpenApiDocument() as {
    info: { description: string };
    paths: Record<string, Record<string, Operation>>;
    components: { schemas: Record<string, JsonSchema> };
  };
  const overview = REST_ROUTES.map((route) => {
    const op = doc.paths[route.path]![route.method.toLowerCase()]!;
    const success = op.responses[String(route.answer.status)]!;
    const [, c] = Object.entries(success.content ?? {})[0] ?? [];
    const body = c?.schema.$ref ? ` ${describeType(c.schema)}` : '';
    const anchor = `${route.method} ${route.path}`
      .toLowerCase()
      .replace(/[^a-z0-9 -]/g, '')
      .replaceAll(' ', '-');
    return `| [\`${route.method} ${route.path}\`](#${anchor}) | ${route.summary} | ${route.admin ? 'admin' : 'open'} | \`${route.answer.status}\`${body} |`;
  });
  const routes = REST_ROUTES.map((route) =>
    routeSection(route.method, route.path, doc.paths[route.path]![route.method.toLowerCase()]!),
  );
  const schemas = Object.entries(doc.components.schemas).map(([name, schema]) => {
    const body = schema.properties ? fieldsTable(schema) : `Type: ${describeType(schema)}.`;
    return `### \`${name}\`\n\n${schema.description ? `${schema.description}\n\n` : ''}${body}`;
  });

  const md = `<!-- Generated by packages/server/scripts/generate-openapi.ts from the REST schemas of @earshot/server. Do not edit. -->
# Earshot REST admin reference

${doc.info.description}

The same reference as an OpenAPI 3.1 document: [openapi.json](./openapi.json). How to mount and
guard the routes: [server guide](./server.md#rest-routes).

| route | what | guard | success |
|---|---|---|---|
${overview.join('\n')}

Error bodies are [ErrorResponse](#errorresponse); the codes are listed in the
[protocol reference](./protocol.md#error-codes). Validation errors (400 \`invalid_request\`) name
the field that failed, e.g. \`invalid query: limit: Too big: expected number to be <=1000\`.

${routes.join('\n\n')}

## Schemas

${schemas.join('\n\n')}
`;
  return {
    'docs/openapi.json': `${formatJson(doc)}\n`,
    'docs/rest-api.md': md,
  };
}
