import { afterEach, beforeEach } from 'vitest';
import {
  describeLeaks,
  hasLeaks,
  killLeftoverProcesses,
  type LeakSnapshot,
  leaksSince,
  settledLeakSnapshot,
} from './leaks.js';

/**
 * Fails each test of the file that leaves a socket, server, ref'd timer or child process open
 * once its `afterEach` hooks have run (after waiting up to `timeoutMs`, 3 s by default, for
 * closing handles to go); a leftover child is killed. For fault tests whose every test cleans up
 * after itself — the suite's leak guard (`tests/support/leak-guard.ts`) checks each file as a
 * whole. Call it at the top of the file, before registering any `afterEach`: hooks run in
 * reverse order, so the check then runs after the file's own cleanup.
 */
export function expectNoLeaksAfterEach(options: { timeoutMs?: number } = {}): void {
  let before: LeakSnapshot | undefined;
  beforeEach(async () => {
    before = await settledLeakSnapshot();
  });
  afterEach(async () => {
    if (!before) return;
    const leaks = await leaksSince(before, { timeoutMs: options.timeoutMs });
    before = undefined;
    if (!hasLeaks(leaks)) return;
    killLeftoverProcesses(leaks);
    throw new Error(
      `This test left open (child processes now killed):\n${describeLeaks(leaks)}\n` +
        'Close what the test opened (servers, sockets, clients, timers, child processes) in the test or an afterEach.',
    );
  });
}

// The primitives as well, so a setup file can have them without loading the whole kit.
export {
  childProcesses,
  commandLine,
  describeLeaks,
  hasLeaks,
  killLeftoverProcesses,
  LEAK_KINDS,
  type LeakSnapshot,
  type Leaks,
  leakSnapshot,
  leaksSince,
  settledLeakSnapshot,
} from './leaks.js';
