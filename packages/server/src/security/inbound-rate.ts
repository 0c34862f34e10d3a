/**
 * A token bucket over one connection's inbound frames: `perSecond` frames (or bytes) a second
 * on average, with bursts up to `burst`. Cheap enough to run on every frame.
 */
export class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  /** Takes `amount` tokens; `false` (taking none) when the bucket holds fewer. */
  take(amount = 1): boolean {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }
}
