/**
 * When each point of a session's audio reached the server: (seconds of audio received, wall
 * time) pairs, oldest first, to time a final against the moment its audio had all arrived.
 *
 * Kept small on purpose. A session lives for hours at 50 frames a second; one object per frame
 * was ~4 KB per session-second of heap. Here the pairs sit in two typed arrays used as a ring
 * (16 bytes a pair), a pair is kept at most every {@link ARRIVAL_STEP_SECONDS} of audio, and
 * everything before a final's end is dropped when that final is timed, since finals come in
 * the order of their audio.
 */
export class ArrivalTimeline {
  private seconds = new Float64Array(INITIAL_CAPACITY);
  private at = new Float64Array(INITIAL_CAPACITY);
  private head = 0;
  private size = 0;

  /** Pairs held now (for tests and memory figures). */
  get length(): number {
    return this.size;
  }

  /** Audio up to `seconds` had arrived at wall time `at` (ms). Calls come in audio order. */
  record(seconds: number, at: number): void {
    if (this.size > 0 && seconds - this.secondsAt(this.size - 1) < ARRIVAL_STEP_SECONDS) return;
    if (this.size > 0 && seconds - this.secondsAt(0) > HISTORY_SECONDS) this.dropBefore(1);
    if (this.size === this.seconds.length) this.grow();
    const slot = (this.head + this.size) & (this.seconds.length - 1);
    this.seconds[slot] = seconds;
    this.at[slot] = at;
    this.size++;
  }

  /**
   * When the audio up to `end` had all arrived (to {@link ARRIVAL_STEP_SECONDS}), or nothing
   * when no recorded point reaches it. With `consume`, the pairs before it are dropped: a final
   * is timed once, and later finals end later.
   */
  arrivedAt(end: number, consume = false): number | undefined {
    const index = this.firstAtOrAfter(end);
    if (index === this.size) return undefined;
    const at = this.atAt(index);
    if (consume) this.dropBefore(index);
    return at;
  }

  private firstAtOrAfter(end: number): number {
    let low = 0;
    let high = this.size;
    while (low < high) {
      const mid = (low + high) >> 1;
      if (this.secondsAt(mid) >= end - 1e-6) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  private dropBefore(index: number): void {
    this.head = (this.head + index) & (this.seconds.length - 1);
    this.size -= index;
  }

  private secondsAt(index: number): number {
    return this.seconds[(this.head + index) & (this.seconds.length - 1)]!;
  }

  private atAt(index: number): number {
    return this.at[(this.head + index) & (this.at.length - 1)]!;
  }

  private grow(): void {
    const seconds = new Float64Array(this.seconds.length * 2);
    const at = new Float64Array(this.at.length * 2);
    for (let i = 0; i < this.size; i++) {
      seconds[i] = this.secondsAt(i);
      at[i] = this.atAt(i);
    }
    this.seconds = seconds;
    this.at = at;
    this.head = 0;
  }
}

/**
 * The finest step between kept arrivals, in seconds of audio: a final is timed to within it
 * (50 ms, under the jitter of any network path), and five minutes without a final hold at most
 * 6 000 pairs (96 KB).
 */
export const ARRIVAL_STEP_SECONDS = 0.05;

// Enough history to time a final whose audio ended this many seconds of audio ago.
const HISTORY_SECONDS = 300;

// A power of two, so ring positions wrap with a mask; about 3 s of audio at the finest step.
const INITIAL_CAPACITY = 64;
