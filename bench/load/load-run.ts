// One run of the load bench: one server (the bare relay or Earshot) under one load shape, with
// its own emulator. This process is the orchestrator and the load generator; the emulator and
// the server under test each run in a child process, so the server's CPU and memory readings
// are its own. The three share the machine's cores, as they would share a small VM.
//
// Phases: warm-up (a few sessions, not measured: JIT, SDK loading, first connections) → idle
// reading → ramp to N sessions → hold (latency, CPU and memory measured over a window after
// the ramp settles) → drop all → `cycles` × (connect all, stream a few seconds, drop all) →
// idle reading again. Every drop is a network drop (no close frame, no `stop`), and the
// emulator reports when each session's upstream closed.
import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EmulatorStats } from './emulator-process.js';
import { type ClientsOutcome, LoadClients, type Wire } from './load-clients.js';
import type { ServerConfig, ServerStats } from './server-process.js';

/** What one run does. */
export interface LoadRunOptions {
  readonly server: 'bare' | 'earshot';
  /** Concurrent sessions. */
  readonly sessions: number;
  /** Milliseconds of audio per frame. */
  readonly frameMs: number;
  /** Seconds the sessions are held at full load (after the ramp settles). */
  readonly holdSeconds: number;
  /** Connect-drop cycles after the hold. */
  readonly cycles: number;
  /** Seconds each cycle's sessions stream before they are dropped. */
  readonly cycleSeconds: number;
  /** New connections per second, in the ramp and in every cycle. */
  readonly connectPerSecond: number;
  /** Earshot's store. */
  readonly store: ServerConfig['store'];
  /** Earshot's `limits.resumeGraceSeconds`. */
  readonly resumeGraceSeconds: number;
  /** Seconds of audio per utterance at the emulator (a final ends each). */
  readonly utteranceSeconds: number;
  /** Write a V8 CPU profile of the server process into this directory. */
  readonly cpuProfileDir?: string;
  /**
   * Write heap snapshots of the server here: idle (after the warm-up), at the plateau, and
   * before and after the cycles.
   */
  readonly heapSnapshotDir?: string;
  /** Take a memory reading (after a full GC) every this many seconds of the hold (soak). */
  readonly gcSampleSeconds?: number;
  /** Progress lines go here. */
  readonly log: (line: string) => void;
}

/** How fast the upstreams of dropped sessions were closed at the emulator. */
export interface UpstreamCloses {
  readonly dropped: number;
  readonly closedWithin1s: number;
  /** ms from a client's drop to its upstream's close: the slowest, and the median. */
  readonly maxMs: number;
  readonly p50Ms: number;
  /** Upstreams still open when the bench stopped waiting. */
  readonly notClosed: number;
  /** Upstreams opened again for a session after its client was dropped (reconnects). */
  readonly reopened: number;
}

/** A memory reading of the server process. */
export interface MemoryReading {
  readonly rssMb: number;
  readonly heapUsedMb: number;
  /** Buffers and other memory outside the V8 heap (ArrayBuffers included). */
  readonly externalMb: number;
  readonly sessions: number;
}

/** CPU over the measurement window, in cores (1 = one core busy all the time). */
export interface CpuReading {
  readonly server: number;
  readonly emulator: number;
  readonly generator: number;
  /** The whole machine (/proc/stat), other people's work included. */
  readonly machine: number;
}

/** What one run measured. */
export interface LoadRunResult {
  readonly options: Omit<LoadRunOptions, 'log'>;
  readonly hold: ClientsOutcome & {
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxMs: number;
    readonly samples: number;
    /** How late the generator sent frames (p99, ms): whether it kept up. */
    readonly sendLagP99Ms: number;
    readonly windowSeconds: number;
    /** Upstream connections the emulator had open at the end of the window. */
    readonly upstreamsOpen: number;
    /** Upstream connections made so far (warm-up included): a reconnect adds one. */
    readonly upstreamConnections: number;
    /** How the upstreams that ended so far were closed (warm-up included): { code: count }. */
    readonly upstreamCloseCodes: Record<string, number>;
  };
  readonly cpu: CpuReading;
  readonly idle: MemoryReading;
  /** Median over the second half of the window, no GC forced. */
  readonly plateau: MemoryReading;
  readonly peakRssMb: number;
  /** After the hold's sessions were dropped and after the cycles, both after a full GC. */
  readonly beforeCycles: MemoryReading;
  readonly afterCycles: MemoryReading;
  readonly holdDrop: UpstreamCloses;
  readonly cycles: readonly (ClientsOutcome & { readonly closes: UpstreamCloses })[];
  /** Frames that reached the emulator without their stamp at the start (re-chunked). */
  readonly unstampedFrames: number;
  /** How every upstream of the run was closed: { code: count }. */
  readonly upstreamCloseCodes: Record<string, number>;
  /** Memory readings through the hold: [seconds into the hold, reading] (soak). */
  readonly timeline: readonly [number, MemoryReading][];
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MB = 1024 * 1024;

/** A child process spoken to over IPC: requests answered by a message of a given type. */
class Child<M extends { type: string }> {
  private readonly waiting: { type: string; resolve: (m: M) => void }[] = [];
  readonly exited: Promise<void>;

  constructor(readonly process: ChildProcess) {
    process.on('message', (message: M) => {
      const i = this.waiting.findIndex((w) => w.type === message.type);
      if (i >= 0) this.waiting.splice(i, 1)[0]!.resolve(message);
    });
    this.exited = new Promise((resolve) => process.once('exit', () => resolve()));
  }

  static start<M extends { type: string }>(
    file: string,
    args: string[],
    execArgv: string[] = [],
  ): Child<M> {
    const child = fork(here(file), args, {
      execArgv: ['--conditions=@earshot/source', '--import', tsx, ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Child<M>(child);
  }

  next<T extends M>(type: T['type'], timeoutMs = 60_000): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${type} from ${this.process.pid}`)),
        timeoutMs,
      );
      this.waiting.push({
        type,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as T);
        },
      });
    });
  }

  request<T extends M>(message: { type: T['type']; [key: string]: unknown }): Promise<T> {
    const answer = this.next<T>(message.type);
    this.process.send(message);
    return answer;
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.connected)
      this.process.send({ type: 'exit' });
    const timer = setTimeout(() => this.process.kill(), 30_000);
    await this.exited;
    clearTimeout(timer);
  }
}

type EmulatorMessage = EmulatorStats | { type: 'ready'; endpoint: string; apiKey: string };
type ServerMessage =
  | ServerStats
  | { type: 'listening'; url: string }
  | { type: 'heap-snapshot'; path: string };

/** Busy and total jiffies of the whole machine. */
function machineJiffies(): { busy: number; total: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
  const values = fields.map(Number);
  const total = values.reduce((a, b) => a + b, 0);
  // idle and iowait
  return { busy: total - values[3]! - (values[4] ?? 0), total };
}

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;
const reading = (s: ServerStats): MemoryReading => ({
  rssMb: s.memory.rss / MB,
  heapUsedMb: s.memory.heapUsed / MB,
  externalMb: (s.memory.external + s.memory.arrayBuffers) / MB,
  sessions: s.sessions,
});
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
};

/** Runs one server under one load shape; see the file's comment. */
export async function runLoad(options: LoadRunOptions): Promise<LoadRunResult> {
  const { log, ...settings } = options;
  const N = options.sessions;
  const wire: Wire = options.server === 'bare' ? 'deepgram' : 'earshot';
  const emulator = Child.start<EmulatorMessage>('./emulator-process.ts', [
    String(options.utteranceSeconds),
  ]);
  const { endpoint, apiKey } =
    await emulator.next<Extract<EmulatorMessage, { type: 'ready' }>>('ready');
  const config: ServerConfig = {
    kind: options.server,
    upstream: endpoint,
    apiKey,
    store: options.store,
    resumeGraceSeconds: options.resumeGraceSeconds,
  };
  const server = Child.start<ServerMessage>(
    './server-process.ts',
    [JSON.stringify(config)],
    [
      '--expose-gc',
      ...(options.cpuProfileDir
        ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`, '--cpu-prof-interval=500']
        : []),
    ],
  );
  const { url } = await server.next<Extract<ServerMessage, { type: 'listening' }>>('listening');
  const serverStats = (gc = false) => server.request<ServerStats>({ type: 'stats', gc });
  const emulatorStats = () => emulator.request<EmulatorStats>({ type: 'stats' });
  let nextKey = 1;
  const group = () => {
    const clients = new LoadClients({ url, wire, frameMs: options.frameMs, apiKey }, nextKey);
    nextKey += N;
    return clients;
  };
  // Long enough for a grace period to run out, so a slow close is measured, not cut short.
  const closeWaitMs = (options.resumeGraceSeconds + 10) * 1000;
  const connectWaitMs = 30_000;

  /**
   * Waits for the emulator to report the upstreams of `dropped` sessions closed, and for the
   * server to hold no session. A session's upstream may be replaced after its client left (a
   * reconnect names the session again with its replayed audio): it counts as closed when its
   * last upstream has, and the server letting the session go is what says none will follow.
   */
  const upstreamCloses = async (dropped: Map<number, number>): Promise<UpstreamCloses> => {
    const open = new Map([...dropped.keys()].map((key) => [key, 1]));
    const lastClose = new Map<number, number>();
    let reopened = 0;
    const stillOpen = () => [...open.values()].filter((n) => n > 0).length;
    const deadline = performance.now() + closeWaitMs;
    let sessionsLeft = Number.POSITIVE_INFINITY;
    while ((stillOpen() > 0 || sessionsLeft > 0) && performance.now() < deadline) {
      await sleep(50);
      const stats = await emulatorStats();
      // Events from before a session's drop are its life, not its end.
      for (const [key, at] of stats.named) {
        const count = open.get(key);
        if (count === undefined || at < dropped.get(key)!) continue;
        open.set(key, count + 1);
        reopened++;
      }
      for (const [key, at] of stats.closes) {
        const count = open.get(key);
        if (count === undefined || at < dropped.get(key)!) continue;
        lastClose.set(key, at);
        open.set(key, Math.max(0, count - 1));
      }
      sessionsLeft = (await serverStats()).sessions;
    }
    const delays = [...lastClose]
      .filter(([key]) => open.get(key) === 0)
      .map(([key, at]) => at - dropped.get(key)!);
    return {
      dropped: dropped.size,
      closedWithin1s: delays.filter((d) => d <= 1000).length,
      maxMs: delays.length > 0 ? Math.max(...delays) : Number.NaN,
      p50Ms: median(delays),
      notClosed: stillOpen(),
      reopened,
    };
  };

  log(`${options.server}: warm-up`);
  const warm = group();
  await warm.connect(Math.min(N, 20), options.connectPerSecond, connectWaitMs);
  await sleep(3000);
  await warm.quiesce(2000);
  await upstreamCloses(warm.dropAll());
  const idle = reading(await serverStats(true));
  const heapSnapshot = (name: string) =>
    options.heapSnapshotDir
      ? server.request<Extract<ServerMessage, { type: 'heap-snapshot' }>>({
          type: 'heap-snapshot',
          path: join(options.heapSnapshotDir, `${name}.heapsnapshot`),
        })
      : undefined;
  await heapSnapshot('idle');

  log(`${options.server}: ramp to ${N} sessions`);
  const hold = group();
  await hold.connect(N, options.connectPerSecond, connectWaitMs);
  await sleep(Math.min(5000, (options.holdSeconds * 1000) / 4));

  log(`${options.server}: hold ${options.holdSeconds} s`);
  const rss: number[] = [];
  const samples: ServerStats[] = [];
  const timeline: [number, MemoryReading][] = [];
  const start = {
    at: performance.now(),
    server: (await serverStats()).cpu,
    emulator: (await emulatorStats()).cpu,
    generator: process.cpuUsage(),
    machine: machineJiffies(),
  };
  hold.measuring = true;
  const holdMs = options.holdSeconds * 1000;
  const gcEvery = (options.gcSampleSeconds ?? 0) * 1000;
  let nextGc = gcEvery;
  while (performance.now() - start.at < holdMs) {
    await sleep(Math.min(1000, holdMs - (performance.now() - start.at)));
    const elapsed = performance.now() - start.at;
    const gc = gcEvery > 0 && elapsed >= nextGc;
    if (gc) nextGc += gcEvery;
    const stats = await serverStats(gc);
    rss.push(stats.memory.rss);
    if (gc) timeline.push([elapsed / 1000, reading(stats)]);
    else if (elapsed >= holdMs / 2) samples.push(stats);
  }
  hold.measuring = false;
  const wall = (performance.now() - start.at) / 1000;
  // After the CPU window: a snapshot stops the server for seconds.
  const snapshotAt = performance.now();
  const end = {
    server: (await serverStats()).cpu,
    emulator: await emulatorStats(),
    generator: process.cpuUsage(start.generator),
    machine: machineJiffies(),
  };
  const machineCores =
    ((end.machine.busy - start.machine.busy) / (end.machine.total - start.machine.total)) *
    cpus().length;
  const cpu: CpuReading = {
    server: (cpuSeconds(end.server) - cpuSeconds(start.server)) / wall,
    emulator: (cpuSeconds(end.emulator.cpu) - cpuSeconds(start.emulator)) / wall,
    generator: cpuSeconds(end.generator) / wall,
    machine: machineCores,
  };
  await heapSnapshot('plateau');
  if (options.heapSnapshotDir)
    log(`heap snapshot took ${((performance.now() - snapshotAt) / 1000).toFixed(1)} s`);
  const plateauOf = (pick: (s: ServerStats) => number) => median(samples.map(pick)) / MB;
  const plateau: MemoryReading = {
    rssMb: plateauOf((s) => s.memory.rss),
    heapUsedMb: plateauOf((s) => s.memory.heapUsed),
    externalMb: plateauOf((s) => s.memory.external + s.memory.arrayBuffers),
    sessions: median(samples.map((s) => s.sessions)),
  };
  await hold.quiesce(3000);
  const holdOutcome = hold.outcome();
  log(`${options.server}: drop all`);
  const holdDrop = await upstreamCloses(hold.dropAll());
  const beforeCycles = reading(await serverStats(true));
  if (options.cycles > 0) await heapSnapshot('before-cycles');

  const cycles: (ClientsOutcome & { closes: UpstreamCloses })[] = [];
  for (let c = 1; c <= options.cycles; c++) {
    log(`${options.server}: cycle ${c}/${options.cycles}`);
    const clients = group();
    await clients.connect(N, options.connectPerSecond, connectWaitMs);
    await sleep(options.cycleSeconds * 1000);
    await clients.quiesce(2000);
    const outcome = clients.outcome();
    cycles.push({ ...outcome, closes: await upstreamCloses(clients.dropAll()) });
  }
  // Sessions end a little after their upstream closes: wait for the server to let them go.
  let afterStats = await serverStats(true);
  for (let i = 0; i < 50 && afterStats.sessions > 0; i++) {
    await sleep(100);
    afterStats = await serverStats(true);
  }
  const afterCycles = reading(afterStats);
  if (options.cycles > 0) await heapSnapshot('after-cycles');

  const final = await emulatorStats();
  await server.stop();
  await emulator.stop();
  return {
    options: settings,
    hold: {
      ...holdOutcome,
      p50Ms: hold.latency.percentile(50),
      p99Ms: hold.latency.percentile(99),
      maxMs: hold.latency.max,
      samples: hold.latency.count,
      sendLagP99Ms: hold.sendLag.percentile(99),
      windowSeconds: wall,
      upstreamsOpen: end.emulator.open,
      upstreamConnections: end.emulator.connections,
      upstreamCloseCodes: end.emulator.closeCodes,
    },
    cpu,
    idle,
    plateau,
    peakRssMb: Math.max(...rss) / MB,
    beforeCycles,
    afterCycles,
    holdDrop,
    cycles,
    unstampedFrames: final.unstampedFrames,
    upstreamCloseCodes: final.closeCodes,
    timeline,
  };
}
