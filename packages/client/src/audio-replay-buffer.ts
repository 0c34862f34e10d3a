/**
 * The audio a client has sent but the server has not acknowledged (`ack`), kept so a
 * resumed session can be sent it again. Offsets are bytes of the session's audio. Bounded:
 * beyond `maxBytes` the oldest audio is dropped, and {@link AudioReplayBuffer.oldest} says
 * where what is held begins.
 */
export class AudioReplayBuffer {
  private chunks: { at: number; bytes: Uint8Array }[] = [];
  private held = 0;
  private end = 0;

  constructor(private readonly maxBytes: number) {}

  /** Bytes of session audio pushed so far (the session offset after the last byte). */
  get position(): number {
    return this.end;
  }

  /** The session offset of the oldest byte held. */
  get oldest(): number {
    return this.chunks[0]?.at ?? this.end;
  }

  /** Bytes held. */
  get size(): number {
    return this.held;
  }

  /** Keeps a copy of `chunk` (the caller may reuse its buffer). */
  push(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    this.chunks.push({ at: this.end, bytes: chunk.slice() });
    this.end += chunk.byteLength;
    this.held += chunk.byteLength;
    while (this.held > this.maxBytes && this.chunks.length > 1) {
      this.held -= this.chunks.shift()!.bytes.byteLength;
    }
  }

  /** Forgets audio before session offset `offset` (the server holds it). */
  trimBefore(offset: number): void {
    while (this.chunks.length > 0) {
      const first = this.chunks[0]!;
      if (first.at + first.bytes.byteLength > offset) break;
      this.chunks.shift();
      this.held -= first.bytes.byteLength;
    }
  }

  /** The audio from session offset `offset` (or the oldest held) to the end, in order. */
  from(offset: number): Uint8Array[] {
    // Searched from the newest: a sender asks for what it has not sent, usually the last
    // chunk, and this runs for every chunk sent.
    let first = this.chunks.length;
    while (
      first > 0 &&
      this.chunks[first - 1]!.at + this.chunks[first - 1]!.bytes.byteLength > offset
    ) {
      first--;
    }
    const out: Uint8Array[] = [];
    for (let i = first; i < this.chunks.length; i++) {
      const { at, bytes } = this.chunks[i]!;
      out.push(offset > at ? bytes.subarray(offset - at) : bytes);
    }
    return out;
  }

  /** Forgets everything (a new session). */
  clear(): void {
    this.chunks = [];
    this.held = 0;
    this.end = 0;
  }
}
