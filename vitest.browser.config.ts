import { configDefaults, defineConfig } from 'vitest/config';
import base from './vitest.config.js';

// Tests that drive headless Chromium with a recording as its microphone. Chromium captures in
// real time: starved of CPU by the rest of the suite running in parallel, it drops audio and
// the words come out wrong. So they run after the rest, one file at a time.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ['tests/e2e/**/*.browser.test.ts', 'examples/*/test/**/*.browser.test.ts'],
    exclude: configDefaults.exclude,
    fileParallelism: false,
  },
});
