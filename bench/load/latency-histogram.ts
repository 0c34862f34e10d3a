/**
 * Round-trip times in fixed buckets, so millions of samples cost a few hundred KB: 0.1 ms wide
 * below 1 s, 10 ms wide from 1 s to 60 s, one bucket beyond.
 */
export class LatencyHistogram {
  private readonly fine = new Uint32Array(10_000);
  private readonly coarse = new Uint32Array(5_901);
  count = 0;
  max = 0;

  record(ms: number): void {
    this.count++;
    if (ms > this.max) this.max = ms;
    if (ms < 1000) this.fine[Math.max(0, Math.floor(ms * 10))]!++;
    else this.coarse[Math.min(5_900, Math.floor((ms - 1000) / 10))]!++;
  }

  /** The `p`-th percentile (0–100) in ms, as the upper edge of its bucket. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.fine.length; i++) {
      seen += this.fine[i]!;
      if (seen >= rank) return (i + 1) / 10;
    }
    for (let i = 0; i < this.coarse.length; i++) {
      seen += this.coarse[i]!;
      if (seen >= rank) return 1000 + (i + 1) * 10;
    }
    return this.max;
  }

  reset(): void {
    this.fine.fill(0);
    this.coarse.fill(0);
    this.count = 0;
    this.max = 0;
  }
}
