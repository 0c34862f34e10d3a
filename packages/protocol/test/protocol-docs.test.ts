import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderProtocolDocs } from '../scripts/render-protocol-docs.js';

const root = join(import.meta.dirname, '..', '..', '..');

describe('generated protocol docs', () => {
  it('are up to date with the schemas (run pnpm docs:protocol after changing a schema)', () => {
    for (const [path, content] of Object.entries(renderProtocolDocs())) {
      expect(readFileSync(join(root, path), 'utf8'), path).toBe(content);
    }
  });
});
