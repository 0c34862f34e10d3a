/** A chunk of session audio and when it arrived. */
interface Entry {
  /** Session byte offset of the chunk's first byte. */
  readonly at: number;
  readonly bytes: Uint8Array;
  /** Wall clock (ms) when it was written. */
  readonly wallMs: number;
}

/**
 * The session's audio since the last final, kept so a new upstream can be given everything
 * the old one had not turned into finals. Positions are byte offsets on the session's audio
 * clock. Bounded: beyond `maxBytes` the oldest audio is dropped (and counted).
 */
export class ReplayBuffer {
  private entries: Entry[] = [];
  private held = 0;
  private end = 0;
  /** Bytes dropped because the buffer was full. */
  overflowBytes = 0;

  constructor(private readonly maxBytes: number) {}

  /** Session bytes written so far. */
  get position(): number {
    return this.end;
  }

  /** Session byte offset of the oldest byte held. */
  get oldest(): number {
    return this.entries[0]?.at ?? this.end;
  }

  /** Bytes held. */
  get size(): number {
    return this.held;
  }

  /** Appends a chunk (kept by reference: callers hand over their chunk). */
  push(bytes: Uint8Array, wallMs: number): void {
    if (bytes.byteLength === 0) return;
    this.entries.push({ at: this.end, bytes, wallMs });
    this.end += bytes.byteLength;
    this.held += bytes.byteLength;
    while (this.held > this.maxBytes && this.entries.length > 1) {
      const first = this.entries.shift()!;
      this.held -= first.bytes.byteLength;
      this.overflowBytes += first.bytes.byteLength;
    }
  }

  /** Forgets audio before session byte `position` (it is final). */
  trimBefore(position: number): void {
    while (this.entries.length > 0) {
      const first = this.entries[0]!;
      const firstEnd = first.at + first.bytes.byteLength;
      if (firstEnd > position) break;
      this.entries.shift();
      this.held -= first.bytes.byteLength;
    }
  }

  /** The audio from session byte `position` (or the oldest held) to now, in order. */
  from(position: number): { start: number; chunks: Uint8Array[] } {
    const chunks: Uint8Array[] = [];
    let start = this.end;
    for (const e of this.entries) {
      const eEnd = e.at + e.bytes.byteLength;
      if (eEnd <= position) continue;
      const skip = Math.max(0, position - e.at);
      if (chunks.length === 0) start = e.at + skip;
      chunks.push(skip > 0 ? e.bytes.subarray(skip) : e.bytes);
    }
    return { start, chunks };
  }

  /** When the byte at session `position` was written (ms), if it is still held. */
  wallTimeOf(position: number): number | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.at <= position) return e.wallMs;
    }
    return undefined;
  }
}
