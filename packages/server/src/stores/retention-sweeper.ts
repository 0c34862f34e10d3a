import { EarshotError, type Logger } from '@earshot/protocol';
import type { SessionControl } from '../control/session-control.js';
import { DEFAULT_DELETE_BATCH, type Store } from './store.js';

/**
 * How long stored sessions are kept (`retention` of `createEarshotServer`). Give one of
 * `maxAgeDays` and `maxAgeSeconds`.
 */
export interface RetentionOptions {
  /** Delete a session this many days after it ended (or started, if it never ended). */
  readonly maxAgeDays?: number;
  /** The same in seconds. */
  readonly maxAgeSeconds?: number;
  /** Seconds between sweeps, at most 24 days. Default 3600. The first sweep runs at start. */
  readonly sweepIntervalSeconds?: number;
}

/** What a started {@link RetentionSweeper} works with. */
export interface RetentionSweeperDeps {
  /** Where sessions are deleted from. */
  readonly store: Store;
  /** Tells which sessions are live, on every node: those are never deleted. */
  readonly control: Pick<SessionControl, 'listLive'>;
  /** Told each batch deleted (`info`), skipped sweeps (`warn`) and failed ones (`error`). */
  readonly logger: Logger;
}

const DAY_SECONDS = 24 * 60 * 60;
const DEFAULT_INTERVAL_SECONDS = 60 * 60;
// setTimeout fires at once for a longer delay (with a warning), which would sweep in a loop.
const MAX_INTERVAL_MS = 2 ** 31 - 1;

/**
 * Deletes stored sessions older than a maximum age, with their segments and events, on a
 * timer: a session's age counts from its end, or from its start when it never ended (a node
 * that crashed mid-session leaves it so). Live sessions are never deleted: each sweep first
 * asks `control` which are live, and skips the sweep if it cannot tell.
 *
 * Sweeps never overlap (the next is scheduled when one finishes, and {@link RetentionSweeper.sweep} joins one
 * already running), the timer never keeps the process alive, each batch deleted is logged at
 * `info` with its session ids, and a failed sweep is logged and tried again next time.
 * Options are checked when it is made; it sweeps from {@link RetentionSweeper.start} until {@link RetentionSweeper.close}.
 *
 * In a cluster, a node that does not answer cannot report its live sessions: keep the maximum
 * age well above `limits.maxSessionSeconds`, so no session that old can still be running.
 */
export class RetentionSweeper {
  /** Sessions whose age is more than this many milliseconds are deleted. */
  readonly maxAgeMs: number;
  /** Milliseconds from the end of one sweep to the start of the next. */
  readonly intervalMs: number;
  private deps: RetentionSweeperDeps | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<string[]> | undefined;
  private closed = false;

  /** Checks `options`; `invalid_request` when they are not usable. */
  constructor(options: RetentionOptions) {
    this.maxAgeMs = maxAgeMs(options);
    const interval = options.sweepIntervalSeconds ?? DEFAULT_INTERVAL_SECONDS;
    if (!(interval > 0) || interval * 1000 > MAX_INTERVAL_MS) {
      throw new EarshotError(
        'invalid_request',
        `retention.sweepIntervalSeconds must be more than 0 and at most ${Math.floor(MAX_INTERVAL_MS / 1000)} (24 days), not ${interval}`,
      );
    }
    this.intervalMs = interval * 1000;
  }

  /** Sweeps now, and then every interval until {@link RetentionSweeper.close}. */
  start(deps: RetentionSweeperDeps): void {
    if (this.deps || this.closed) return;
    this.deps = deps;
    this.schedule(0);
  }

  /**
   * Deletes every stored session older than the maximum age that is not live now; resolves
   * their ids. Joins the sweep already running, if any. Rejects with `store_error` when the
   * store fails (what was deleted before that stays deleted).
   */
  sweep(): Promise<string[]> {
    if (!this.deps) {
      return Promise.reject(new EarshotError('internal', 'the retention sweeper is not started'));
    }
    this.running ??= this.deleteOld(this.deps).finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** Stops sweeping; resolves once a sweep under way has finished its batch. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
  }

  private schedule(delayMs: number): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.sweep()
        .catch((error: unknown) =>
          this.deps?.logger.error({ err: error }, 'retention sweep failed; trying again later'),
        )
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async deleteOld({ store, control, logger }: RetentionSweeperDeps): Promise<string[]> {
    const before = new Date(Date.now() - this.maxAgeMs);
    let live: string[];
    try {
      live = (await control.listLive()).map((session) => session.sessionId);
    } catch (error) {
      // Without the live list a never-ended session could be one still running: skip.
      logger.warn(
        { err: error },
        'retention sweep skipped: could not tell which sessions are live',
      );
      return [];
    }
    const deleted: string[] = [];
    // In batches, so no single statement holds the database for long while sessions write.
    while (!this.closed) {
      const batch = await store.deleteSessionsBefore(before, {
        keep: live,
        limit: DEFAULT_DELETE_BATCH,
      });
      if (batch.length > 0) {
        deleted.push(...batch);
        logger.info(
          { sessionIds: batch, count: batch.length, before: before.toISOString() },
          'retention: deleted sessions older than the maximum age, with their segments and events',
        );
      }
      if (batch.length < DEFAULT_DELETE_BATCH) break;
    }
    return deleted;
  }
}

function maxAgeMs(options: RetentionOptions): number {
  const { maxAgeDays, maxAgeSeconds } = options;
  if ((maxAgeDays === undefined) === (maxAgeSeconds === undefined)) {
    throw new EarshotError(
      'invalid_request',
      'retention needs one of maxAgeDays and maxAgeSeconds (not both)',
    );
  }
  const seconds = maxAgeSeconds ?? maxAgeDays! * DAY_SECONDS;
  if (!(seconds > 0) || !Number.isFinite(seconds)) {
    throw new EarshotError(
      'invalid_request',
      `retention's maximum age must be a positive number, not ${maxAgeSeconds ?? maxAgeDays}`,
    );
  }
  return seconds * 1000;
}
