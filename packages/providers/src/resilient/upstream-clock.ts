/**
 * Maps an upstream's audio time onto the session's: the upstream started at session second
 * `offset`, and keepalive silence the session never received was inserted into it at known
 * points, which must not shift later transcript times.
 */
export class UpstreamClock {
  private readonly insertions: { at: number; seconds: number }[] = [];
  /** Seconds of audio written to the upstream (session audio and inserted silence). */
  upstreamSeconds = 0;

  constructor(readonly offset: number) {}

  /** Session audio was written to the upstream. */
  advance(seconds: number): void {
    this.upstreamSeconds += seconds;
  }

  /** Silence the session did not receive was written to the upstream. */
  insertSilence(seconds: number): void {
    this.insertions.push({ at: this.upstreamSeconds, seconds });
    this.upstreamSeconds += seconds;
  }

  /** Whether upstream times are session times (the first upstream, no silence inserted). */
  get isIdentity(): boolean {
    return this.offset === 0 && this.insertions.length === 0;
  }

  /** Session seconds of upstream time `t`. */
  toSession(t: number): number {
    let shift = 0;
    for (const i of this.insertions) {
      if (i.at >= t) break;
      shift += Math.min(i.seconds, t - i.at);
    }
    return this.offset + t - shift;
  }

  /** Seconds of session audio the upstream has received (what its stream limit counts too). */
  get sessionSeconds(): number {
    return this.upstreamSeconds;
  }
}
