/**
 * Whether audio arrives no faster than a multiple of real time: a provider bills by the audio
 * second, so a client pushing an hour of audio a minute costs sixty times what it should.
 * `burstSeconds` of audio pass at any speed (a file's first chunk, a replay after a resume);
 * beyond it, audio may run `factor` times faster than the wall clock since the first chunk.
 */
export class RealtimePace {
  private startedAt: number | undefined;
  private seconds = 0;

  constructor(
    private readonly factor: number,
    private readonly burstSeconds: number,
  ) {}

  /** Counts `seconds` of audio if they are within the pace; `false` (not counted) when not. */
  admit(seconds: number): boolean {
    const now = performance.now();
    this.startedAt ??= now;
    const allowed = this.burstSeconds + (this.factor * (now - this.startedAt)) / 1000;
    if (this.seconds + seconds > allowed) return false;
    this.seconds += seconds;
    return true;
  }
}
