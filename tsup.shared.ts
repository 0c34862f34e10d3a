import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig, type Options } from 'tsup';

type ExportTarget = { '@earshot/source'?: string };

/**
 * One tsup config for every package, with its entry points read from the package's own
 * `exports` map (the `@earshot/source` condition), so the published map and the build cannot
 * drift apart.
 */
export function packageConfig(extraEntries: Record<string, string> = {}, overrides: Options = {}) {
  const dir = process.cwd();
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports: Record<string, ExportTarget>;
  };
  const entry: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    const source = target['@earshot/source'];
    if (!source) continue;
    const name = subpath === '.' ? 'index' : subpath.replace(/^\.\//, '');
    entry[name] = source;
  }
  Object.assign(entry, extraEntries);
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: true,
    treeshake: true,
    ...overrides,
  });
}
