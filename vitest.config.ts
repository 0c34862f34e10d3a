import { configDefaults, defineConfig } from 'vitest/config';

// Tests run on the TypeScript sources of the workspace packages (the "@earshot/source" export
// condition), so a test never sees a stale build.
const conditions = ['@earshot/source', 'import', 'module', 'node', 'default'];

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
    reporters: ['default'],
  },
});
