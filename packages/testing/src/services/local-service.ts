import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

/** How to run one server program of a test (PostgreSQL, Redis) as a child process. */
export interface LocalServiceSpec {
  /** Name for error messages. */
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  /** Run as this user and group (PostgreSQL refuses to run as root). */
  readonly uid?: number;
  readonly gid?: number;
  /** The signal that stops it promptly, dropping its clients. Default SIGTERM. */
  readonly stopSignal?: NodeJS.Signals;
  /** Resolves `true` once the program answers. Polled until it does. */
  readonly ready: () => Promise<boolean>;
  /** How long start may take before it fails. Default 30 s. */
  readonly startTimeoutMs?: number;
}

/**
 * A server program started for tests, in the foreground as this process's child, so it never
 * outlives the test run as a stray daemon. It can be stopped and started again on the same
 * port and data: an outage, then a recovery.
 */
export class LocalService {
  private child: ChildProcess | undefined;
  private output = '';

  constructor(private readonly spec: LocalServiceSpec) {}

  /** Whether the program is running. */
  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts the program and waits until it answers. */
  async start(): Promise<void> {
    if (this.child) return;
    const { spec } = this;
    const child = spawn(spec.command, spec.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: spec.uid,
      gid: spec.gid,
    });
    this.child = child;
    this.output = '';
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    let exited = false;
    child.once('exit', () => {
      exited = true;
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + (spec.startTimeoutMs ?? 30_000);
    while (!(await spec.ready().catch(() => false))) {
      if (exited || Date.now() > deadline) {
        await this.stop();
        throw new Error(`${spec.name} did not start (${spec.command}):\n${this.output}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops the program (its stop signal, then SIGKILL after 10 s) and waits for it to exit. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = once(child, 'exit');
    // A paused program would only act on its stop signal once resumed.
    child.kill('SIGCONT');
    child.kill(this.spec.stopSignal ?? 'SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    this.child = undefined;
  }

  /**
   * Kills the program with SIGKILL, as a crash or the OOM killer does: no shutdown, its clients'
   * connections reset. Waits for it to exit.
   */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    this.child = undefined;
  }

  /**
   * Freezes the program (SIGSTOP): its port still accepts connections and takes requests, but
   * nothing answers, as with a hung server or a partition that drops packets. Undone by
   * {@link LocalService.resume}; {@link LocalService.stop} and {@link LocalService.kill} resume
   * it first.
   */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  /** Lets a paused program go on (SIGCONT). */
  resume(): void {
    this.child?.kill('SIGCONT');
  }

  /** What the program printed last, for diagnosing a failed start. */
  get log(): string {
    return this.output;
  }
}
