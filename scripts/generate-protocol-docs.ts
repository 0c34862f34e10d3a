// Writes the protocol reference (docs/protocol.md, docs/protocol.schema.json) from the zod
// schemas of @earshot/protocol. Run: pnpm docs:protocol
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderProtocolDocs } from '../packages/protocol/scripts/render-protocol-docs.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const [path, content] of Object.entries(renderProtocolDocs())) {
  writeFileSync(join(root, path), content);
  console.log(`wrote ${path}`);
}
