import { EarshotError, type Logger } from '@earshot/protocol';
import type { Store } from './store.js';

/** What became of a write handed to {@link StoreWriter.write}. */
export type WriteOutcome =
  /** Committed before the call resolved. */
  | 'stored'
  /** The store is unreachable: the write waits in memory and is committed when it is back. */
  | 'queued'
  /** Not kept: the buffer of waiting writes is full. */
  | 'dropped';

/** One write of a session's data. */
export interface StoreWrite {
  readonly sessionId: string;
  /** For logs: `createSession`, `appendSegment`, … */
  readonly what: string;
  /** Performs the write on the store; may run again after an outage, so it is idempotent. */
  readonly run: (store: Store) => Promise<void>;
  /** Called if a write that was `queued` is given up later (the store refused it for good). */
  readonly onLost?: (error: EarshotError) => void;
}

/** Options of {@link StoreWriter}. */
export interface StoreWriterOptions {
  /** Most writes held while the store is unreachable. Default 10 000. */
  readonly maxPendingWrites?: number;
  /** First wait before trying the store again, in ms; doubles up to `maxRetryMs`. Default 250. */
  readonly retryMs?: number;
  readonly maxRetryMs?: number;
}

/**
 * Writes sessions' data to the store in order, and rides out an outage. While the store
 * answers, a write resolves `stored` once committed: the session sends a final only after
 * that. When a write fails because the store cannot be reached, it and every later write wait
 * in a bounded in-memory queue (resolving `queued`, so live sessions go on) and are committed,
 * still in order, when the store answers again. A write the store refuses while it otherwise
 * answers (`ping` succeeds) is given up rather than blocking everything behind it.
 */
export class StoreWriter {
  private readonly queue: StoreWrite[] = [];
  private draining: Promise<void> | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private wakeRetry: (() => void) | undefined;
  private closed = false;
  private readonly maxPending: number;
  private readonly retryMs: number;
  private readonly maxRetryMs: number;

  constructor(
    readonly store: Store,
    private readonly logger: Logger,
    options: StoreWriterOptions = {},
  ) {
    this.maxPending = options.maxPendingWrites ?? 10_000;
    this.retryMs = options.retryMs ?? 250;
    this.maxRetryMs = options.maxRetryMs ?? 5000;
  }

  /** Whether writes are waiting for the store to come back. */
  get degraded(): boolean {
    return this.queue.length > 0;
  }

  /** Writes waiting for the store. */
  get pending(): number {
    return this.queue.length;
  }

  /** Commits `write` now, or holds it until the store is back (see {@link WriteOutcome}). */
  async write(write: StoreWrite): Promise<WriteOutcome> {
    if (this.queue.length === 0 && !this.closed) {
      try {
        await write.run(this.store);
        return 'stored';
      } catch (error) {
        if (!(await this.isOutage(error))) throw error;
        this.logger.warn(
          { err: error, store: this.store.kind },
          'store unreachable; holding writes in memory until it is back',
        );
      }
    }
    if (this.queue.length >= this.maxPending) {
      this.logger.error(
        { sessionId: write.sessionId, what: write.what, pending: this.queue.length },
        'store write buffer full; write dropped',
      );
      return 'dropped';
    }
    this.queue.push(write);
    this.draining ??= this.drain().finally(() => {
      this.draining = undefined;
    });
    return 'queued';
  }

  /**
   * Waits up to `timeoutMs` for every held write to be committed. Resolves how many are
   * still waiting (0 when all are stored).
   */
  async flush(timeoutMs: number): Promise<number> {
    if (!this.draining) return this.queue.length;
    this.wakeRetry?.();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.draining,
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    return this.queue.length;
  }

  /** Stops retrying; writes still held are reported lost. */
  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.wakeRetry?.();
  }

  /** A failure is an outage when the store does not answer at all. */
  private async isOutage(error: unknown): Promise<boolean> {
    if (EarshotError.isInstance(error) && error.code !== 'store_error') return false;
    try {
      await this.store.ping();
      return false;
    } catch {
      return true;
    }
  }

  private async drain(): Promise<void> {
    let wait = this.retryMs;
    while (this.queue.length > 0) {
      if (this.closed) {
        this.giveUp(this.queue.splice(0), 'the server closed before the store came back');
        return;
      }
      const head = this.queue[0]!;
      try {
        await head.run(this.store);
        this.queue.shift();
        wait = this.retryMs;
        if (this.queue.length === 0)
          this.logger.info({ store: this.store.kind }, 'store is back; held writes stored');
        continue;
      } catch (error) {
        if (!(await this.isOutage(error))) {
          this.queue.shift();
          this.giveUp([head], `the store refused it: ${String(error)}`);
          continue;
        }
      }
      await new Promise<void>((resolve) => {
        this.wakeRetry = resolve;
        this.retryTimer = setTimeout(resolve, wait);
        this.retryTimer.unref();
      });
      this.wakeRetry = undefined;
      wait = Math.min(wait * 2, this.maxRetryMs);
    }
  }

  private giveUp(writes: StoreWrite[], why: string): void {
    for (const write of writes) {
      this.logger.error(
        { sessionId: write.sessionId, what: write.what },
        `store write lost: ${why}`,
      );
      write.onLost?.(new EarshotError('store_error', `${write.what} was not stored: ${why}`));
    }
  }
}
