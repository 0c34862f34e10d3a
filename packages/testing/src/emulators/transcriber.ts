import { bytesPerSecond as rawBytesPerSecond } from '@earshot/protocol';
import { EventEmitter } from 'eventemitter3';

/** Raw audio an emulator received, as its vendor's parameters declared it. */
export interface EmulatorAudioFormat {
  readonly encoding: 'pcm16' | 'mulaw' | 'alaw';
  readonly sampleRate: number;
  readonly channels: number;
}

/** One recognised word; times in seconds of the connection's audio. */
export interface TranscribedWord {
  readonly word: string;
  readonly start: number;
  readonly end: number;
  readonly confidence: number;
}

/** An interim or final hypothesis of one utterance; times in seconds of the connection's audio. */
export interface TranscribedUtterance {
  /** Counts utterances of this session from 1; interims and the final share it. */
  readonly index: number;
  readonly isFinal: boolean;
  readonly text: string;
  readonly words: readonly TranscribedWord[];
  readonly start: number;
  readonly end: number;
  readonly confidence: number;
}

/** Events of a {@link TranscriberSession}. */
export interface TranscriberEvents {
  utterance: (utterance: TranscribedUtterance) => void;
  /** Speech began, at this many seconds of audio. */
  speech: (start: number) => void;
}

/** What an emulator does with one connection's audio. */
export interface TranscriberSession extends EventEmitter<TranscriberEvents> {
  /** Seconds of audio written so far. */
  readonly audioSeconds: number;
  write(bytes: Uint8Array): void;
  /** Ends the current utterance now (Deepgram `Finalize`, OpenAI `commit`). */
  finalize(): void;
  /** End of audio: every utterance still open gets its final. */
  end(): Promise<void>;
  /** Drops everything at once. */
  close(): void;
}

/**
 * Turns audio into transcripts for an emulator: scripted ({@link scriptedTranscriber}), or
 * real, through the local engine (tests/support/local-transcriber.ts), so the words a test
 * checks were really recognised from the audio sent.
 */
export interface Transcriber {
  open(format: EmulatorAudioFormat): TranscriberSession;
}

/** Bytes per second of raw audio in `format`. */
export function bytesPerSecond(format: EmulatorAudioFormat): number {
  // Raw formats always have a fixed byte rate; the protocol's function says how much.
  return rawBytesPerSecond(format) ?? 0;
}

/** One utterance of a script: its words, when they are spoken (seconds of audio). */
export interface ScriptedUtterance {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/**
 * A transcriber that "hears" a script: as the audio clock (bytes received ÷ byte rate)
 * passes the middle of an utterance it emits an interim with its first half, past its end
 * (plus `finalDelaySeconds`) the final. `finalize()` and `end()` finalise what has begun.
 * Words are spread evenly over the utterance.
 *
 * @example
 * ```ts
 * const transcriber = scriptedTranscriber([{ text: 'hello world', start: 0.5, end: 1.5 }]);
 * ```
 */
export function scriptedTranscriber(
  script: readonly ScriptedUtterance[],
  options: ScriptedTranscriberOptions = {},
): Transcriber {
  return {
    open: (format) =>
      new ScriptedSession(
        script,
        format,
        options.finalDelaySeconds ?? 0.3,
        options.stamped ?? false,
      ),
  };
}

/** Options of {@link scriptedTranscriber}. */
export interface ScriptedTranscriberOptions {
  /** How long after an utterance's end its final comes, in seconds of audio. Default 0.3. */
  readonly finalDelaySeconds?: number;
  /**
   * Read the script's clock from the audio itself (PCM16 made by {@link stampedAudio}) instead
   * of counting bytes: a reconnected stream that is replayed audio from the middle of a session
   * then hears the script from that point, as a real recogniser would hear the same speech.
   * Reported times stay in seconds of the connection's own audio.
   */
  readonly stamped?: boolean;
}

/** Length of one {@link stampedAudio} chunk, seconds. */
export const STAMP_SECONDS = 0.1;

// A stamp opens each chunk: a marker of four alternating samples, then index + 1 in base 4,
// one digit (1..4) per sample. All within ±4 of zero, so a voice activity detector still
// hears silence, and a band-limited voiced body never alternates like the marker.
const STAMP_MARK = [3, -3, 3, -3] as const;
const STAMP_DIGITS = 7; // 4^7 chunks: 27 minutes of audio
const STAMP_LENGTH = STAMP_MARK.length + STAMP_DIGITS;
// The voiced body: a 140 Hz buzz with its first ten harmonics, well inside int16 so it never
// forms a stamp marker, loud enough that WebRTC VAD calls it speech.
const BUZZ_HZ = 140;
const BUZZ_HARMONICS = 10;
const BUZZ_LEVEL = 2500;

/** Options of {@link stampedAudio}. */
export interface StampedAudioOptions {
  /**
   * Fill the chunk with a voiced buzz rather than silence, so a voice activity detector
   * hears speech in it (for providers that only send what a VAD calls speech). Default false.
   */
  readonly voiced?: boolean;
}

/**
 * A 100 ms chunk of PCM16 (at `sampleRate`, mono) that tells a stamped
 * {@link scriptedTranscriber} where in the session it is: it opens with a short, quiet stamp
 * of its `index`; the rest is silence, or a voiced buzz with `voiced`.
 */
export function stampedAudio(
  index: number,
  sampleRate: number,
  options: StampedAudioOptions = {},
): Uint8Array {
  const length = Math.round(sampleRate * STAMP_SECONDS);
  const samples = new Int16Array(length);
  if (options.voiced) {
    const first = index * length;
    for (let i = STAMP_LENGTH; i < length; i++) {
      const t = (first + i) / sampleRate;
      let v = 0;
      for (let h = 1; h <= BUZZ_HARMONICS; h++) v += Math.sin(2 * Math.PI * BUZZ_HZ * h * t) / h;
      samples[i] = Math.round(v * BUZZ_LEVEL);
    }
  }
  samples.set(STAMP_MARK);
  for (let d = 0, n = index + 1; d < STAMP_DIGITS; d++, n = Math.floor(n / 4)) {
    samples[STAMP_LENGTH - 1 - d] = (n % 4) + 1;
  }
  return new Uint8Array(samples.buffer);
}

/** The index + 1 a stamp holds, if `samples` are one. */
function readStamp(samples: readonly number[]): number | undefined {
  for (let i = 0; i < STAMP_MARK.length; i++) if (samples[i] !== STAMP_MARK[i]) return undefined;
  let n = 0;
  for (let i = STAMP_MARK.length; i < STAMP_LENGTH; i++) {
    const digit = samples[i]! - 1;
    if (digit < 0 || digit > 3) return undefined;
    n = n * 4 + digit;
  }
  return n > 0 ? n : undefined;
}

/**
 * Reads {@link stampedAudio} stamps from PCM16 arriving in pieces of any size (a piece may
 * split a sample or a stamp), and keeps the session clock they imply.
 */
class StampReader {
  /** Session seconds where this connection's audio began, once a stamp has been read. */
  base: number | undefined;
  private lastStamp: number | undefined;
  private samplesSinceStamp = 0;
  private samplesBeforeFirst = 0;
  private carryByte: number | undefined;
  private readonly recent: number[] = [];
  private readonly chunkSamples: number;

  constructor(private readonly sampleRate: number) {
    this.chunkSamples = Math.round(sampleRate * STAMP_SECONDS);
  }

  /** Session seconds heard so far: the last stamp plus the samples after it, up to a chunk. */
  get now(): number {
    if (this.lastStamp === undefined) return 0;
    return this.lastStamp + Math.min(this.samplesSinceStamp, this.chunkSamples) / this.sampleRate;
  }

  push(bytes: Uint8Array): void {
    let i = 0;
    if (this.carryByte !== undefined && bytes.byteLength > 0) {
      this.sample((((bytes[0]! << 8) | this.carryByte) << 16) >> 16);
      this.carryByte = undefined;
      i = 1;
    }
    for (; i + 1 < bytes.byteLength; i += 2) {
      this.sample((((bytes[i + 1]! << 8) | bytes[i]!) << 16) >> 16);
    }
    if (i < bytes.byteLength) this.carryByte = bytes[i];
  }

  private sample(value: number): void {
    this.samplesSinceStamp++;
    if (this.base === undefined) this.samplesBeforeFirst++;
    const recent = this.recent;
    recent.push(value);
    if (recent.length > STAMP_LENGTH) recent.shift();
    const stamp = recent.length === STAMP_LENGTH ? readStamp(recent) : undefined;
    if (stamp !== undefined) {
      const chunkStart = (stamp - 1) * STAMP_SECONDS;
      this.lastStamp = chunkStart;
      this.samplesSinceStamp = STAMP_LENGTH;
      this.base ??= chunkStart - (this.samplesBeforeFirst - STAMP_LENGTH) / this.sampleRate;
    }
  }
}

class ScriptedSession extends EventEmitter<TranscriberEvents> implements TranscriberSession {
  private bytes = 0;
  private next = 0;
  private interimSent = false;
  private closed = false;
  private readonly byteRate: number;

  /** Stamped mode: the session clock read from the audio's stamps. */
  private readonly stamps: StampReader | undefined;

  constructor(
    private readonly script: readonly ScriptedUtterance[],
    format: EmulatorAudioFormat,
    private readonly finalDelay: number,
    stamped: boolean,
  ) {
    super();
    this.byteRate = bytesPerSecond(format);
    this.stamps = stamped ? new StampReader(format.sampleRate) : undefined;
  }

  get audioSeconds(): number {
    return this.bytes / this.byteRate;
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.bytes += bytes.byteLength;
    if (this.stamps) this.readStamps(this.stamps, bytes);
    this.advance(false);
  }

  private readStamps(stamps: StampReader, bytes: Uint8Array): void {
    const known = stamps.base !== undefined;
    stamps.push(bytes);
    if (known || stamps.base === undefined) return;
    // Utterances over before this connection began were heard by an earlier one.
    while ((this.script[this.next]?.end ?? Number.POSITIVE_INFINITY) <= stamps.base) this.next++;
  }

  /** Where the script is now, in script (session) seconds. */
  private get scriptNow(): number {
    return this.stamps ? this.stamps.now : this.audioSeconds;
  }

  /** Script seconds as seconds of this connection's audio. */
  private local(t: number): number {
    return this.stamps ? Math.max(0, t - (this.stamps.base ?? 0)) : t;
  }

  finalize(): void {
    this.advance(true);
  }

  async end(): Promise<void> {
    this.advance(true);
  }

  close(): void {
    this.closed = true;
    this.removeAllListeners();
  }

  private advance(force: boolean): void {
    const now = this.scriptNow;
    for (;;) {
      const u = this.script[this.next];
      if (u === undefined || this.closed) return;
      if (now < u.start) return;
      if (!this.interimSent) {
        this.emit('speech', this.local(u.start));
        if (now >= (u.start + u.end) / 2 || force) {
          this.interimSent = true;
          this.emit('utterance', this.hypothesis(u, this.next + 1, false));
        }
      }
      if (now >= u.end + this.finalDelay || force) {
        this.emit('utterance', this.hypothesis(u, this.next + 1, true));
        this.next++;
        this.interimSent = false;
        continue;
      }
      return;
    }
  }

  private hypothesis(u: ScriptedUtterance, index: number, isFinal: boolean): TranscribedUtterance {
    const all = u.text.split(/\s+/).filter(Boolean);
    const spoken = isFinal ? all : all.slice(0, Math.max(1, Math.ceil(all.length / 2)));
    const step = (u.end - u.start) / Math.max(1, all.length);
    const start = this.local(u.start);
    const words = spoken.map((word, i) => ({
      word,
      start: start + i * step,
      end: start + (i + 1) * step,
      confidence: 0.9,
    }));
    return {
      index,
      isFinal,
      text: spoken.join(' '),
      words,
      start,
      end: isFinal ? this.local(u.end) : (words[words.length - 1]?.end ?? start),
      confidence: 0.9,
    };
  }
}
