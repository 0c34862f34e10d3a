// What the Deepgram emulator of the load bench "hears": every stamped frame is answered at once
// with a result whose one word is the frame's stamp, so each frame makes one round trip. The
// results are shaped like a speaker's: an utterance opens (SpeechStarted), grows by an interim
// per frame, and every `utteranceSeconds` of audio closes with a final (`is_final` +
// `speech_final`), so the server under test stores finals and trims its replay buffer as it
// would on real speech, rather than holding every byte of a session that never finalises.
import type {
  EmulatorAudioFormat,
  TranscribedUtterance,
  Transcriber,
  TranscriberEvents,
  TranscriberSession,
} from '@earshot/testing';
import { readStamp, stampText } from './frame-stamp.js';
import { EventEmitter } from './testing-deps.js';

/** What the emulator's process reports about its connections. */
export interface EchoTranscriberEvents {
  /** A connection's first frame named its session (a reconnect's replay names it again). */
  named(key: number, atMs: number): void;
  /** A connection ended (closed by either side); `key` is its session's, if a frame named it. */
  closed(key: number | undefined, atMs: number): void;
}

/** Options of {@link echoTranscriber}. */
export interface EchoTranscriberOptions {
  /** Seconds of audio per utterance: a final closes each. */
  readonly utteranceSeconds: number;
  readonly events: EchoTranscriberEvents;
}

/** Counts kept across every connection of the emulator. */
export interface EchoCounts {
  /** Connections whose transcriber is still open. */
  open: number;
  /** Frames that did not start with a stamp (a server re-chunked the audio). */
  unstampedFrames: number;
}

/** A {@link Transcriber} that echoes each frame's stamp; see the file's comment. */
export function echoTranscriber(options: EchoTranscriberOptions): {
  transcriber: Transcriber;
  counts: EchoCounts;
} {
  const counts: EchoCounts = { open: 0, unstampedFrames: 0 };
  return {
    counts,
    transcriber: {
      open(format) {
        counts.open++;
        return new EchoSession(format, options, counts);
      },
    },
  };
}

/** Wall clock in ms that processes on one machine share (for drop → close times). */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

class EchoSession extends EventEmitter<TranscriberEvents> implements TranscriberSession {
  private bytes = 0;
  private readonly byteRate: number;
  private key: number | undefined;
  private index = 1;
  /** Start (seconds) of the open utterance, and its last word. */
  private utteranceStart = 0;
  private lastText: string | undefined;
  private lastWordStart = 0;
  private closed = false;

  constructor(
    format: EmulatorAudioFormat,
    private readonly options: EchoTranscriberOptions,
    private readonly counts: EchoCounts,
  ) {
    super();
    this.byteRate = format.sampleRate * 2 * format.channels;
  }

  get audioSeconds(): number {
    return this.bytes / this.byteRate;
  }

  write(bytes: Uint8Array): void {
    if (this.closed) return;
    const start = this.audioSeconds;
    this.bytes += bytes.byteLength;
    const stamp = readStamp(bytes);
    if (stamp === undefined) {
      this.counts.unstampedFrames++;
      return;
    }
    if (this.key === undefined) {
      this.key = stamp.key;
      this.options.events.named(stamp.key, wallMs());
    }
    if (this.lastText === undefined) this.emit('speech', this.utteranceStart);
    this.lastText = stampText(stamp.key, stamp.seq);
    this.lastWordStart = start;
    const end = this.audioSeconds;
    this.emit(
      'utterance',
      this.utterance(end - this.utteranceStart >= this.options.utteranceSeconds),
    );
  }

  finalize(): void {
    // Finalize and CloseStream flush the open utterance, as Deepgram's are.
    if (this.lastText !== undefined && !this.closed) this.emit('utterance', this.utterance(true));
  }

  async end(): Promise<void> {
    this.finalize();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.counts.open--;
    this.options.events.closed(this.key, wallMs());
    this.removeAllListeners();
  }

  private utterance(isFinal: boolean): TranscribedUtterance {
    const end = this.audioSeconds;
    const text = this.lastText ?? '';
    const utterance: TranscribedUtterance = {
      index: this.index,
      isFinal,
      text,
      words: [{ word: text, start: this.lastWordStart, end, confidence: 0.9 }],
      start: this.utteranceStart,
      end,
      confidence: 0.9,
    };
    if (isFinal) {
      this.index++;
      this.utteranceStart = end;
      this.lastText = undefined;
    }
    return utterance;
  }
}
