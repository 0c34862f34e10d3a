import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderRestDocs } from '../scripts/render-openapi.js';
import { restOpenApiDocument } from '../src/rest/rest-openapi.js';
import { REST_ROUTES } from '../src/rest/rest-routes.js';

const root = join(import.meta.dirname, '..', '..', '..');

/** Every `$ref` in `value`. */
function refs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refs);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, v]) =>
    key === '$ref' && typeof v === 'string' ? [v] : refs(v),
  );
}

describe('the generated REST reference', () => {
  it('is up to date with the routes and schemas (run pnpm docs:openapi after changing one)', () => {
    for (const [path, content] of Object.entries(renderRestDocs())) {
      expect(readFileSync(join(root, path), 'utf8'), path).toBe(content);
    }
  });

  it('describes every route, and every $ref in it names a component', () => {
    const doc = restOpenApiDocument() as {
      openapi: string;
      paths: Record<string, Record<string, { operationId: string }>>;
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.openapi).toBe('3.1.0');
    const described = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(
        ([method, op]) => `${method.toUpperCase()} ${path} ${op.operationId}`,
      ),
    );
    expect(described.sort()).toEqual(
      REST_ROUTES.map((r) => `${r.method} ${r.path} ${r.operation}`).sort(),
    );
    const missing = refs(doc).filter(
      (ref) => !(ref.replace('#/components/schemas/', '') in doc.components.schemas),
    );
    expect(missing).toEqual([]);
  });
});
