import { type AudioFormat, bytesPerSecond, EarshotError } from '@earshot/protocol';
import { ContainerSessionAudio } from './container-session-audio.js';
import { ReplayBuffer } from './replay-buffer.js';

/** What a new upstream is sent so it hears the session from a point on. */
export interface Replay {
  /** Session second where the replayed audio starts (at or before the point asked for). */
  readonly start: number;
  /** The bytes to write, in order: for a container, its header first. */
  readonly chunks: readonly Uint8Array[];
  /** Seconds of session audio in the replay. */
  readonly seconds: number;
}

/**
 * The session's audio as the resilient layer keeps it: how much has arrived, in seconds, and
 * the audio since the last final, ready to replay to a new upstream. Raw formats are kept as
 * bytes at their byte rate; containers (WebM/Opus, Ogg/Opus) are indexed as they arrive, so a
 * replay starts at a block or page boundary with the container header first.
 */
export interface SessionAudio {
  /** Seconds of session audio received so far. */
  readonly seconds: number;
  /** Keeps a chunk (by reference); returns the seconds of audio it completed. */
  push(chunk: Uint8Array, wallMs: number): number;
  /** The audio from session second `from` (or the oldest still held) to now. */
  replay(from: number): Replay;
  /** Forgets audio that ends before session second `seconds` (it is final). */
  trimBefore(seconds: number): void;
  /** When the audio at session second `seconds` arrived (ms), if it is still held. */
  wallTimeOf(seconds: number): number | undefined;
  /**
   * `seconds` of silence in the session's format, to keep an upstream without a keepalive
   * message alive; `undefined` for a container, where silence cannot be spliced in.
   */
  silence(seconds: number): { chunk: Uint8Array; seconds: number } | undefined;
}

/** The byte G.711 codes silence as (PCM16 silence is zeros). */
const SILENCE_BYTE: Partial<Record<AudioFormat['encoding'], number>> = { mulaw: 0xff, alaw: 0xd5 };

/** Keeps raw audio (pcm16, mulaw, alaw) as bytes; a second is `bytesPerSecond` of them. */
class RawSessionAudio implements SessionAudio {
  private readonly buffer: ReplayBuffer;
  private readonly frameBytes: number;

  constructor(
    private readonly format: AudioFormat,
    private readonly byteRate: number,
    maxSeconds: number,
  ) {
    this.frameBytes = (format.encoding === 'pcm16' ? 2 : 1) * format.channels;
    this.buffer = new ReplayBuffer(Math.ceil(maxSeconds * byteRate));
  }

  get seconds(): number {
    return this.buffer.position / this.byteRate;
  }

  push(chunk: Uint8Array, wallMs: number): number {
    this.buffer.push(chunk, wallMs);
    return chunk.byteLength / this.byteRate;
  }

  replay(from: number): Replay {
    const { start, chunks } = this.buffer.from(this.byteAt(from));
    const bytes = chunks.reduce((sum, c) => sum + c.byteLength, 0);
    return { start: start / this.byteRate, chunks, seconds: bytes / this.byteRate };
  }

  trimBefore(seconds: number): void {
    this.buffer.trimBefore(this.byteAt(seconds));
  }

  wallTimeOf(seconds: number): number | undefined {
    return this.buffer.wallTimeOf(Math.floor(seconds * this.byteRate));
  }

  silence(seconds: number): { chunk: Uint8Array; seconds: number } {
    const bytes = this.frameAligned(seconds);
    const chunk = new Uint8Array(bytes).fill(SILENCE_BYTE[this.format.encoding] ?? 0);
    return { chunk, seconds: bytes / this.byteRate };
  }

  /** The frame-aligned byte count of `seconds`. */
  private frameAligned(seconds: number): number {
    return Math.floor((seconds * this.byteRate) / this.frameBytes) * this.frameBytes;
  }

  /** The frame-aligned byte offset of session second `seconds`, no later than now. */
  private byteAt(seconds: number): number {
    return Math.min(this.frameAligned(seconds), this.buffer.position);
  }
}

/**
 * The session audio keeper for `format`, holding up to `maxSeconds` for replay.
 *
 * @throws EarshotError `unsupported_audio_format` for `wav` (the pipeline reads its header
 *   and passes the samples on as raw audio).
 */
export function createSessionAudio(format: AudioFormat, maxSeconds: number): SessionAudio {
  if (format.encoding === 'webm-opus' || format.encoding === 'ogg-opus') {
    return new ContainerSessionAudio(format.encoding, maxSeconds);
  }
  const byteRate = bytesPerSecond(format);
  if (byteRate === undefined) {
    throw new EarshotError(
      'unsupported_audio_format',
      `the resilient layer replays raw audio, WebM/Opus or Ogg/Opus, not ${format.encoding}`,
      { fatal: true },
    );
  }
  return new RawSessionAudio(format, byteRate, maxSeconds);
}
