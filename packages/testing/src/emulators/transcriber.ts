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

/**
 * A 100 ms chunk of PCM16 (at `sampleRate`, mono) whose samples all hold its index + 1: near
 * silence that tells a stamped {@link scriptedTranscriber} where in the session it is.
 */
export function stampedAudio(index: number, sampleRate: number): Uint8Array {
  const samples = new Int16Array(Math.round(sampleRate * STAMP_SECONDS)).fill(index + 1);
  return new Uint8Array(samples.buffer);
}

class ScriptedSession extends EventEmitter<TranscriberEvents> implements TranscriberSession {
  private bytes = 0;
  private next = 0;
  private interimSent = false;
  private closed = false;
  private readonly byteRate: number;

  /** Stamped mode: session seconds of the script heard so far, and where this connection began. */
  private stampNow = 0;
  private stampBase: number | undefined;

  constructor(
    private readonly script: readonly ScriptedUtterance[],
    format: EmulatorAudioFormat,
    private readonly finalDelay: number,
    private readonly stamped: boolean,
  ) {
    super();
    this.byteRate = bytesPerSecond(format);
  }

  get audioSeconds(): number {
    return this.bytes / this.byteRate;
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    this.bytes += bytes.byteLength;
    if (this.stamped) this.readStamps(bytes);
    this.advance(false);
  }

  private readStamps(bytes: Uint8Array): void {
    const samples = new Int16Array(
      bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + (bytes.byteLength & ~1)),
    );
    for (const value of samples) {
      if (value <= 0) continue; // keepalive silence carries no stamp
      if (this.stampBase === undefined) {
        this.stampBase = (value - 1) * STAMP_SECONDS;
        // Utterances over before this connection began were heard by an earlier one.
        while ((this.script[this.next]?.end ?? Number.POSITIVE_INFINITY) <= this.stampBase) {
          this.next++;
        }
      }
      this.stampNow = value * STAMP_SECONDS;
    }
  }

  /** Where the script is now, in script (session) seconds. */
  private get scriptNow(): number {
    return this.stamped ? this.stampNow : this.audioSeconds;
  }

  /** Script seconds as seconds of this connection's audio. */
  private local(t: number): number {
    return this.stamped ? Math.max(0, t - (this.stampBase ?? 0)) : t;
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
