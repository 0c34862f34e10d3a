/**
 * The recent audio of a stream, by sample index on the stream's clock, so an utterance can be
 * cut out once the voice activity detector has placed it (its events lie in the past). Holds
 * the chunks as written (no copy on append); the owner trims what no utterance can need.
 */
export class PcmHistory {
  private chunks: Int16Array[] = [];
  /** Sample index of the first sample of `chunks[0]`. */
  private first = 0;
  private total = 0;

  /** Samples appended since the start: the stream's clock. */
  get end(): number {
    return this.total;
  }

  /** The earliest sample still held. */
  get start(): number {
    return this.first;
  }

  /** Takes the next samples; the caller must not change them afterwards. */
  append(samples: Int16Array): void {
    if (samples.length === 0) return;
    this.chunks.push(samples);
    this.total += samples.length;
  }

  /** Forgets whole chunks that end at or before `sample`. */
  trim(sample: number): void {
    let drop = 0;
    let first = this.first;
    for (const chunk of this.chunks) {
      if (first + chunk.length > sample) break;
      first += chunk.length;
      drop++;
    }
    if (drop > 0) {
      this.chunks.splice(0, drop);
      this.first = first;
    }
  }

  /**
   * Samples `[from, to)` as little-endian PCM16 bytes (from the earliest sample held, if
   * `from` was trimmed), at least `minSamples` long: the rest is silence.
   */
  copy(from: number, to: number, minSamples = 0): Uint8Array {
    const start = Math.max(from, this.first);
    const end = Math.min(Math.max(to, start), this.total);
    const out = new Int16Array(Math.max(end - start, minSamples));
    let at = this.first;
    for (const chunk of this.chunks) {
      const chunkEnd = at + chunk.length;
      if (chunkEnd > start && at < end) {
        const lo = Math.max(start, at);
        const hi = Math.min(end, chunkEnd);
        out.set(chunk.subarray(lo - at, hi - at), lo - start);
      }
      if (chunkEnd >= end) break;
      at = chunkEnd;
    }
    return new Uint8Array(out.buffer);
  }

  /** Drops everything held; the clock keeps its position. */
  clear(): void {
    this.chunks = [];
    this.first = this.total;
  }
}
