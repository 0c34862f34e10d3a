import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// What a browser app pays for @earshot/client and its microphone capture: the entries bundled
// for the browser, minified, and gzipped. Nothing server-only may end up in it, nor classic zod:
// the protocol's schemas are zod/mini schemas, and classic zod alone would add over 400 KiB.
describe('the browser bundle of @earshot/client', () => {
  it('holds no ws, no Node built-ins, no classic zod; its size is printed', async () => {
    const result = await build({
      stdin: {
        contents: "export * from '@earshot/client';\nexport * from '@earshot/client/browser';\n",
        resolveDir: fileURLToPath(new URL('..', import.meta.url)),
        loader: 'ts',
      },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((path) => /node_modules\/(\.pnpm\/)?ws[@/]/.test(path))).toEqual([]);
    expect(inputs.filter((path) => path.startsWith('node:'))).toEqual([]);
    expect(inputs.filter((path) => /node_modules\/zod\/v4\/classic\//.test(path))).toEqual([]);
    const code = result.outputFiles[0]!.contents;
    const bySource = new Map<string, number>();
    const output = Object.values(result.metafile.outputs)[0]!;
    for (const [path, input] of Object.entries(output.inputs)) {
      const where = /node_modules\/(?:\.pnpm\/)?(@?[^/@]+(?:\/[^/@]+)?)/.exec(path)?.[1] ?? path;
      const key = where.startsWith('packages/') ? where.split('/').slice(0, 2).join('/') : where;
      bySource.set(key, (bySource.get(key) ?? 0) + input.bytesInOutput);
    }
    const top = [...bySource].sort((a, b) => b[1] - a[1]).slice(0, 5);
    console.log(
      `@earshot/client + /browser: ${(code.byteLength / 1024).toFixed(1)} KiB minified, ${(gzipSync(code).byteLength / 1024).toFixed(1)} KiB gzip; largest: ${top.map(([k, v]) => `${k} ${(v / 1024).toFixed(1)} KiB`).join(', ')}`,
    );
  });
});
