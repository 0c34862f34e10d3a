import { createServer } from 'node:net';

/**
 * Waits until `check` holds (or resolves true), polling every 10 ms; rejects after `timeoutMs`. A fired poll
 * timer is no longer an active resource, so it never shows up in {@link countResources}.
 */
export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A loopback port nothing listens on (bound, then released), for "unreachable" tests. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Active resources of this process (sockets, timers, …) by kind, or only the `kinds` given. */
export function countResources(kinds?: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (kinds === undefined || kinds.includes(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

/** What is alive now beyond `before` (from {@link countResources}), as `Kind +n` lines. */
export function resourcesAddedSince(
  before: ReadonlyMap<string, number>,
  kinds?: readonly string[],
): string[] {
  return [...countResources(kinds)]
    .filter(([kind, n]) => n > (before.get(kind) ?? 0))
    .map(([kind, n]) => `${kind} +${n - (before.get(kind) ?? 0)}`);
}

/**
 * Waits (up to `timeoutMs`) for every resource opened since `before` to go — a destroyed
 * socket's handle closes on a later turn of the loop — and returns what is still left.
 */
export async function leftoverResources(
  before: ReadonlyMap<string, number>,
  options: { timeoutMs?: number; kinds?: readonly string[] } = {},
): Promise<string[]> {
  const added = () => resourcesAddedSince(before, options.kinds);
  await until(() => added().length === 0, options.timeoutMs ?? 2000).catch(() => undefined);
  return added();
}

/** Whether a process with this id still exists (a reaped child does not). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
