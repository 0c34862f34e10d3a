import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
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

// Taken when this module loads, so a test that leaves fake timers installed cannot stall the
// wait in `leaksSince`.
const realSetTimeout = globalThis.setTimeout;

/**
 * The kinds of active resource a test can leave behind: TCP sockets and servers, pipes (a
 * child's stdio among them) and pipe servers, UDP sockets, child processes, timers, file
 * watchers and message ports. Requests (`ConnectWrap`, `FSReqCallback`, `WriteWrap`, …) are left
 * out: they end by themselves. Node lists only ref'd handles and timers, so an unref'd timer is
 * not seen at all; {@link leakSnapshot} still counts unref'd TCP sockets (by file descriptor) and
 * unref'd children (from `/proc`).
 */
export const LEAK_KINDS: readonly string[] = [
  'TCPSocketWrap',
  'TCPServerWrap',
  'PipeWrap',
  'UDPWrap',
  'ProcessWrap',
  'Timeout',
  'FSEventWrap',
  'StatWatcher',
  'MessagePort',
];

/** What a process holds at one moment, for {@link leaksSince}. */
export interface LeakSnapshot {
  /**
   * Active resources of the {@link LEAK_KINDS} (or the kinds asked for) by kind, and the TCP
   * sockets open by file descriptor.
   */
  readonly resources: ReadonlyMap<string, number>;
  /** Process ids of every descendant (children, their children, …). */
  readonly children: ReadonlySet<number>;
}

/** What was alive beyond a {@link LeakSnapshot}: `Kind +n` lines and processes with their command lines. */
export interface Leaks {
  readonly resources: readonly string[];
  readonly children: readonly { pid: number; command: string }[];
}

/**
 * Process ids of the descendants of `pid` (this process by default), read from
 * `/proc/<pid>/task/<tid>/children`, deepest last. Empty where `/proc` has no such file.
 */
export function childProcesses(pid: number = process.pid): number[] {
  const found: number[] = [];
  const visit = (parent: number) => {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${parent}/task`);
    } catch {
      return; // gone meanwhile, or no /proc
    }
    for (const task of tasks) {
      let list = '';
      try {
        list = readFileSync(`/proc/${parent}/task/${task}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const child of list.split(' ')) {
        const id = Number(child);
        if (child.trim() === '' || !Number.isInteger(id) || found.includes(id)) continue;
        found.push(id);
        visit(id);
      }
    }
  };
  visit(pid);
  return found;
}

/** The command line of process `pid` (`ffmpeg -i pipe:0 …`), or `''` once it is gone. */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

/**
 * How many of this process's own stdin, stdout and stderr are open as pipes. Node opens each the
 * first time something reads `process.stdin` or `process.stdout` (a test worker's stdio are
 * pipes: one `PipeWrap` each), and it stays open as long as the process: not a leak.
 */
function stdioPipes(): number {
  type Handle = { _handle?: { fd?: number; constructor?: { name?: string } } } | null;
  const handles = (process as unknown as { _getActiveHandles(): Handle[] })._getActiveHandles();
  return handles.filter((handle) => {
    const fd = handle?._handle?.fd;
    return (fd === 0 || fd === 1 || fd === 2) && handle?._handle?.constructor?.name === 'Pipe';
  }).length;
}

/** {@link countResources} of `kinds`, without the process's stdio pipes (see {@link stdioPipes}). */
function leakCounts(kinds: readonly string[]): Map<string, number> {
  const counts = countResources(kinds);
  const pipes = counts.get('PipeWrap');
  if (pipes !== undefined) {
    const left = pipes - stdioPipes();
    if (left > 0) counts.set('PipeWrap', left);
    else counts.delete('PipeWrap');
  }
  return counts;
}

/** The line {@link leaksSince} reports TCP sockets under, counted by file descriptor. */
const TCP_FDS = "TCP socket fds (unref'd ones too)";

/**
 * How many TCP sockets (connections and listeners) this process holds, by file descriptor:
 * unlike {@link countResources} this sees unref'd ones too, such as a gRPC channel's idle
 * connection. 0 where `/proc` has no such files.
 */
export function openTcpSockets(): number {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const link = readlinkSync(`/proc/self/fd/${fd}`);
        if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
      } catch {
        // closed meanwhile
      }
    }
  } catch {
    return 0;
  }
  let count = 0;
  for (const table of ['/proc/self/net/tcp', '/proc/self/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    // Columns: sl local remote st tx:rx tr:when retrnsmt uid timeout inode …
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode !== undefined && inodes.has(inode)) count++;
    }
  }
  return count;
}

/**
 * Whether a child process is one a library keeps for the whole process by design, not a leak:
 * esbuild's service (`esbuild --service=<version> --ping`), started by the first `build()` (the
 * demo server bundles its page with it) and shared by every later call. It is unref'd and exits
 * when this process does.
 */
function processGlobalChild(command: string): boolean {
  return /\/esbuild --service=\S+ --ping$/.test(command);
}

/** {@link leakCounts} plus the TCP sockets counted by file descriptor. */
function leakResources(kinds: readonly string[]): Map<string, number> {
  const counts = leakCounts(kinds);
  const tcp = openTcpSockets();
  if (tcp > 0) counts.set(TCP_FDS, tcp);
  return counts;
}

/**
 * The resources of `kinds` ({@link LEAK_KINDS} by default), the TCP sockets open (by file
 * descriptor, see {@link openTcpSockets}) and the child processes alive now. The process's own
 * stdin, stdout and stderr are left out: opened on first use, they live as long as the process.
 */
export function leakSnapshot(kinds: readonly string[] = LEAK_KINDS): LeakSnapshot {
  return { resources: leakResources(kinds), children: new Set(childProcesses()) };
}

/**
 * {@link leakSnapshot} once the timers pending now have had a moment (up to `settleMs`, 150 ms by
 * default) to fire: the fewest `Timeout`s seen in that time. A short-lived timer of the test runner
 * (vitest sends its task updates on a 100 ms throttle) or of a `console.log` would otherwise count
 * as the baseline and hide a timer the test then leaks.
 */
export async function settledLeakSnapshot(
  options: { settleMs?: number; kinds?: readonly string[] } = {},
): Promise<LeakSnapshot> {
  const snapshot = leakSnapshot(options.kinds);
  const resources = new Map(snapshot.resources);
  const timers = () => resources.get('Timeout') ?? 0;
  const polls = Math.ceil((options.settleMs ?? 150) / 10);
  for (let poll = 0; poll < polls && timers() > 0; poll++) {
    await new Promise((resolve) => realSetTimeout(resolve, 10));
    const now = countResources(['Timeout']).get('Timeout') ?? 0;
    if (now < timers()) {
      if (now > 0) resources.set('Timeout', now);
      else resources.delete('Timeout');
    }
  }
  return { resources, children: snapshot.children };
}

/**
 * Waits (up to `timeoutMs`, 3 s by default) for every resource and child process opened since
 * `before` to go — a destroyed socket's handle closes on a later turn of the loop, a killed child
 * is reaped a little later — and returns what is still there.
 */
export async function leaksSince(
  before: LeakSnapshot,
  options: { timeoutMs?: number; kinds?: readonly string[] } = {},
): Promise<Leaks> {
  const kinds = options.kinds ?? LEAK_KINDS;
  const look = (): Leaks => ({
    resources: [...leakResources(kinds)]
      .filter(([kind, n]) => n > (before.resources.get(kind) ?? 0))
      .map(([kind, n]) => `${kind} +${n - (before.resources.get(kind) ?? 0)}`),
    children: childProcesses()
      .filter((pid) => !before.children.has(pid))
      .map((pid) => ({ pid, command: commandLine(pid) }))
      // A process gone between the two reads (its command line unreadable) is not a leak.
      .filter((child) => child.command !== '' && !processGlobalChild(child.command)),
  });
  const polls = Math.ceil((options.timeoutMs ?? 3000) / 20);
  let leaks = look();
  for (let poll = 0; poll < polls && hasLeaks(leaks); poll++) {
    await new Promise((resolve) => realSetTimeout(resolve, 20));
    leaks = look();
  }
  return leaks;
}

/** Whether {@link leaksSince} found anything. */
export function hasLeaks(leaks: Leaks): boolean {
  return leaks.resources.length > 0 || leaks.children.length > 0;
}

/** Sends SIGKILL to each process of `leaks` (one already gone is skipped). */
export function killLeftoverProcesses(leaks: Leaks): void {
  for (const { pid } of leaks.children) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * A report of `leaks` for a failure message: one `Kind +n` line per resource kind, one
 * `child process <pid>: <command line>` line per process.
 */
export function describeLeaks(leaks: Leaks): string {
  return [
    ...leaks.resources,
    ...leaks.children.map(({ pid, command }) => `child process ${pid}: ${command}`),
  ]
    .map((line) => `  ${line}`)
    .join('\n');
}
