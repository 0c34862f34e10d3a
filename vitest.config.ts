import { fileURLToPath } from 'node:url';
import { configDefaults, defineConfig } from 'vitest/config';

// Tests run on the TypeScript sources of the workspace packages (the "@earshot/source" export
// condition), so a test never sees a stale build.
// Vite adds `import`/`require` by how a module is loaded; listing `import` here would also
// reach Node's own `require` in external packages (vitest passes these as --conditions) and
// make `pg` load `pg-pool`'s ESM build with `require`.
const conditions = ['@earshot/source', 'module', 'node', 'development|production'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@earshot/source'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'examples/*/test/**/*.test.ts',
      'tests/e2e/**/*.test.ts',
      'tests/providers/**/*.test.ts',
    ],
    // Headless-Chromium tests run on their own afterwards: vitest.browser.config.ts.
    exclude: [...configDefaults.exclude, '**/*.browser.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two files at a time even on two cores: most tests wait on real time (speech streamed at
    // its pace, servers and timeouts), so a second worker nearly halves the run; vitest's
    // default here (cores - 1) is one.
    maxWorkers: 2,
    // Fails a test file that leaves sockets, servers, timers or child processes open once its
    // afterAll hooks have run (CONTRIBUTING.md, "Leak guard").
    setupFiles: [fileURLToPath(new URL('./tests/support/leak-guard.ts', import.meta.url))],
    reporters: ['default'],
  },
});
