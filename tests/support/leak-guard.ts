// The suite's leak guard, a vitest setup file (vitest.config.ts `setupFiles`), so it runs for
// every test file: "after every test, no leaked sockets, timers, child processes or provider
// connections". It snapshots the worker before the test file is loaded and checks again after
// the file's last `afterAll` hook (hooks run as a stack: this file's `afterAll`, registered
// first, runs last). Per file rather than per test, since many files share a server from
// `beforeAll` across their tests; fault tests that clean up after each test check each test too,
// with `expectNoLeaksAfterEach()` from `@earshot/testing/leak-guard`.
//
// A file fails when, 10 s after its hooks are done, it still has more open than before it began
// of: TCP sockets or servers (provider connections among them; counted by file descriptor as
// well, so unref'd ones count), pipes, UDP sockets, ref'd timers, file watchers, message ports,
// or child processes (leftover children are killed, so they do not outlive the run).
// EARSHOT_LEAK_GUARD=report prints the same report without failing the file.

import { relative } from 'node:path';
import {
  describeLeaks,
  hasLeaks,
  killLeftoverProcesses,
  type LeakSnapshot,
  leaksSince,
  settledLeakSnapshot,
} from '@earshot/testing/leak-guard';
import { afterAll } from 'vitest';

const reportOnly = process.env.EARSHOT_LEAK_GUARD === 'report';

// Taken as this setup file loads, before the test file is imported, so that what the file opens
// at its top level counts too.
const before: LeakSnapshot = await settledLeakSnapshot();

afterAll(async (suite) => {
  // Up to 10 s: on a loaded machine a closing handshake (ws waits for the peer's close frame
  // on a timer) can take seconds; what is still open after that was never going to close.
  const leaks = await leaksSince(before, { timeoutMs: 10_000 });
  if (!hasLeaks(leaks)) return;
  killLeftoverProcesses(leaks);
  const file = relative(process.cwd(), suite.file.filepath);
  const message =
    `Leak guard: ${file} left open after its afterAll hooks (child processes now killed):\n` +
    `${describeLeaks(leaks)}\n` +
    'Close what the file opened (servers, sockets, clients, providers, timers, child processes) ' +
    'in its afterAll/afterEach hooks; see CONTRIBUTING.md, "Leak guard".';
  if (!reportOnly) throw new Error(message);
  // biome-ignore lint/suspicious/noConsole: report mode prints what would fail the file.
  console.warn(`[leak-guard] ${message}`);
});
