/** How reconnects are paced and rationed. */
export interface RetryPolicyOptions {
  /** First delay before a reconnect, ms. Default 200. */
  readonly initialDelayMs?: number;
  /** Longest delay, ms. Default 5000. */
  readonly maxDelayMs?: number;
  /** Growth per consecutive failure. Default 2. */
  readonly factor?: number;
  /** Fraction of each delay that is random (0–1), so many sessions do not reconnect in step. Default 0.5. */
  readonly jitter?: number;
  /** Reconnects allowed in a burst. Default 5. */
  readonly budget?: number;
  /**
   * A healthy stretch this long (ms, no failure) gives back one reconnect, up to `budget`:
   * routine reconnects over a long call never spend the budget a real outage needs. Default 30 000.
   */
  readonly refillAfterMs?: number;
  /** Random source in [0, 1), for tests. Default `Math.random`. */
  readonly random?: () => number;
  /** Clock in ms, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Backoff with jitter under a retry budget that refills after healthy stretches. One per
 * provider of a resilient stream.
 *
 * @example
 * ```ts
 * const policy = new RetryPolicy({ budget: 3 });
 * const delay = policy.take(); // ms to wait, or undefined when the budget is spent
 * ```
 */
export class RetryPolicy {
  private tokens: number;
  private consecutive = 0;
  private lastEvent: number;
  private readonly o: Required<RetryPolicyOptions>;

  constructor(options: RetryPolicyOptions = {}) {
    this.o = {
      initialDelayMs: options.initialDelayMs ?? 200,
      maxDelayMs: options.maxDelayMs ?? 5000,
      factor: options.factor ?? 2,
      jitter: options.jitter ?? 0.5,
      budget: options.budget ?? 5,
      refillAfterMs: options.refillAfterMs ?? 30_000,
      random: options.random ?? Math.random,
      now: options.now ?? Date.now,
    };
    this.tokens = this.o.budget;
    this.lastEvent = this.o.now();
  }

  /** Reconnects left now (after refilling for the healthy time since the last one). */
  get remaining(): number {
    this.refill();
    return this.tokens;
  }

  /** Spends one reconnect: the delay to wait (ms), or `undefined` when the budget is spent. */
  take(): number | undefined {
    this.refill();
    if (this.tokens < 1) return undefined;
    this.tokens--;
    const base = Math.min(
      this.o.maxDelayMs,
      this.o.initialDelayMs * this.o.factor ** this.consecutive,
    );
    this.consecutive++;
    this.lastEvent = this.o.now();
    return Math.round(base * (1 - this.o.jitter + this.o.jitter * this.o.random()));
  }

  /** The upstream works again: the next failure starts from the initial delay. */
  succeeded(): void {
    this.consecutive = 0;
    this.lastEvent = this.o.now();
  }

  private refill(): void {
    const healthy = this.o.now() - this.lastEvent;
    const earned = Math.floor(healthy / this.o.refillAfterMs);
    if (earned > 0 && this.tokens < this.o.budget) {
      this.tokens = Math.min(this.o.budget, this.tokens + earned);
      this.lastEvent += earned * this.o.refillAfterMs;
    }
  }
}
