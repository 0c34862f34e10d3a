// Writes the REST admin reference (docs/openapi.json, docs/rest-api.md) from the zod schemas
// of @earshot/server's routes. Run: pnpm docs:openapi (also part of pnpm docs).
// Needs the workspace sources, not the builds: tsx --conditions=@earshot/source.
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderRestDocs } from './render-openapi.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
for (const [path, content] of Object.entries(renderRestDocs())) {
  writeFileSync(join(root, path), content);
  process.stdout.write(`wrote ${path}\n`);
}
