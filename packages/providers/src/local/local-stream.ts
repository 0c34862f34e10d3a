import { EarshotError, type Logger, silentLogger } from '@earshot/protocol';
import { EventEmitter } from 'eventemitter3';
import type { ProviderTranscript, SttStream, SttStreamEvents } from '../stt-provider.js';
import { meanConfidence, segmentsToWords } from './local-transcript.js';
import {
  BLOCK_BYTES,
  BLOCK_SAMPLES,
  FRAMES_PER_SECOND,
  type PocketSphinxDecoder,
} from './pocketsphinx-binding.js';

const SAMPLE_RATE = 16000;
const SAMPLES_PER_FRAME = SAMPLE_RATE / FRAMES_PER_SECOND;

/** How a stream hands its decoder back when it closes; the provider frees it. */
export type DecoderRelease = (decoder: PocketSphinxDecoder) => void;

/** Options of {@link LocalSttStream}; the provider fills them in. */
export interface LocalSttStreamOptions {
  /** Prefix of this stream's segment ids, unique per stream. */
  readonly streamId: string;
  /** Whether to emit interim transcripts. */
  readonly interimResults: boolean;
  /** Blocks of 2048 samples (128 ms) between two looks at the partial hypothesis. */
  readonly interimIntervalBlocks: number;
  readonly logger?: Logger;
  /** Called exactly once, just before `close`, with the decoder to free. */
  readonly release: DecoderRelease;
}

type QueueItem = Uint8Array | 'finalize' | 'end';
type State = 'open' | 'ending' | 'closed';
type UtteranceEndReason = 'pause' | 'finalize' | 'end';

/**
 * One recognition stream on a pooled PocketSphinx decoder.
 *
 * Audio is cut into the same 2048-sample blocks `pocketsphinx_continuous` reads, and
 * utterances are segmented as it does: an utterance starts when the detector hears speech
 * and ends at the block where it stops hearing it. So the finals equal what
 * `pocketsphinx_continuous -infile` prints for the same audio (on a fresh decoder).
 *
 * `write`, `finalize` and `end` only queue; one pump works through the queue in order, one
 * native call at a time, on koffi's worker threads.
 */
export class LocalSttStream extends EventEmitter<SttStreamEvents> implements SttStream {
  private readonly logger: Logger;
  private readonly queue: QueueItem[] = [];
  /** Bytes of the queue's first chunk already copied into the block. */
  private head = 0;
  /** Bytes in the decoder's block. */
  private fill = 0;
  private pumping = false;
  private state: State = 'open';
  private samplesFed = 0;
  private utteranceStarted = false;
  private utteranceCount = 0;
  private segmentId = '';
  private offsetFrames = 0;
  private lastInterim = '';
  private blocksSinceInterim = 0;
  /** End (seconds) of the last final: later words never start before it. */
  private lastFinalEnd = 0;
  private readonly closed: Promise<void>;
  private settleClosed!: { resolve: () => void; reject: (error: EarshotError) => void };
  private failure: EarshotError | undefined;

  constructor(
    private readonly decoder: PocketSphinxDecoder,
    private readonly options: LocalSttStreamOptions,
  ) {
    super();
    this.logger = options.logger ?? silentLogger;
    this.closed = new Promise<void>((resolve, reject) => {
      this.settleClosed = { resolve, reject };
    });
    // Nobody may await end(); a fatal error is also reported as an `error` event.
    this.closed.catch(() => {});
    decoder.startUtterance();
  }

  /** Queues audio (PCM16 16 kHz mono, any byte boundaries). Ignored once ending or closed. */
  write(chunk: Uint8Array): void {
    if (this.state !== 'open' || chunk.byteLength === 0) return;
    // A copy: the caller may reuse its buffer before the pump reaches this chunk.
    this.queue.push(new Uint8Array(chunk));
    this.kick();
  }

  /** Ends the current utterance once the audio written so far is decoded, emitting its final. */
  finalize(): void {
    if (this.state !== 'open') return;
    this.queue.push('finalize');
    this.kick();
  }

  /** Decodes everything written, emits the last final, releases the decoder and closes. */
  end(): Promise<void> {
    if (this.state === 'open') {
      this.state = 'ending';
      this.queue.push('end');
      this.kick();
    }
    return this.closed;
  }

  /** Drops pending audio and closes now; the decoder is recycled once its current call returns. */
  abort(reason?: unknown): void {
    if (this.state === 'closed') return;
    this.logger.debug({ streamId: this.options.streamId, reason }, 'local stream aborted');
    this.queue.length = 0;
    this.close();
  }

  private kick(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.pump().catch((error: unknown) => {
      this.pumping = false;
      this.fail(error);
    });
  }

  private get live(): boolean {
    return this.state !== 'closed';
  }

  /**
   * Works through the queue, one native call at a time. `pumping` is cleared in the same
   * synchronous step that finds the queue empty: cleared any later (in a `.finally`), a
   * `write` in between would find it still set and its audio would wait, and cleared twice
   * it could let two pumps share the decoder's block.
   */
  private async pump(): Promise<void> {
    const block = this.decoder.block;
    while (this.live) {
      const item = this.queue[0];
      if (item === undefined) {
        this.pumping = false;
        return;
      }
      if (item === 'finalize') {
        this.queue.shift();
        await this.flushPartialBlock();
        if (this.live && this.utteranceStarted) await this.endUtterance('finalize');
        continue;
      }
      if (item === 'end') {
        this.queue.shift();
        await this.flushPartialBlock();
        if (this.live) await this.endUtterance('end');
        if (this.live) this.close();
        return;
      }
      const n = Math.min(item.byteLength - this.head, BLOCK_BYTES - this.fill);
      block.set(item.subarray(this.head, this.head + n), this.fill);
      this.fill += n;
      this.head += n;
      if (this.head === item.byteLength) {
        this.queue.shift();
        this.head = 0;
      }
      if (this.fill === BLOCK_BYTES) {
        this.fill = 0;
        await this.processBlock(BLOCK_SAMPLES);
      }
    }
  }

  /** Decodes the samples of a partial block; an odd trailing byte waits for its pair. */
  private async flushPartialBlock(): Promise<void> {
    const samples = this.fill >> 1;
    if (samples === 0) return;
    const odd = this.fill & 1;
    this.fill = 0;
    await this.processBlock(samples);
    if (odd && this.live) {
      const block = this.decoder.block;
      block[0] = block[samples * 2] ?? 0;
      this.fill = 1;
    }
  }

  private async processBlock(samples: number): Promise<void> {
    await this.decoder.processBlock(samples);
    if (!this.live) return;
    this.samplesFed += samples;
    const inSpeech = this.decoder.inSpeech();
    if (inSpeech && !this.utteranceStarted) {
      this.startUtterance();
    } else if (!inSpeech && this.utteranceStarted) {
      await this.endUtterance('pause');
    } else if (this.utteranceStarted && this.options.interimResults) {
      this.blocksSinceInterim += 1;
      if (this.blocksSinceInterim >= this.options.interimIntervalBlocks) {
        this.blocksSinceInterim = 0;
        await this.emitInterim();
      }
    }
  }

  private startUtterance(): void {
    this.utteranceStarted = true;
    this.utteranceCount += 1;
    this.segmentId = `${this.options.streamId}-${this.utteranceCount}`;
    this.lastInterim = '';
    this.blocksSinceInterim = 0;
    // The decoder counts only the frames it kept. At the moment speech is detected those are
    // the detector's pre-speech window plus the speech so far, all contiguous and ending at
    // the audio fed: so frame 0 of the utterance sits that many frames before the end.
    const fedFrames = this.samplesFed / SAMPLES_PER_FRAME;
    this.offsetFrames = Math.max(0, fedFrames - this.decoder.frameCount());
    const timestamp = Math.max(this.lastFinalEnd, this.offsetFrames / FRAMES_PER_SECOND);
    this.emit('speech_started', { timestamp: Math.round(timestamp * 1000) / 1000 });
  }

  private transcript(text: string, isFinal: boolean): ProviderTranscript {
    const words = segmentsToWords(this.decoder.segments(), {
      offsetFrames: this.offsetFrames,
      floor: this.lastFinalEnd,
      ceiling: this.samplesFed / SAMPLE_RATE,
    });
    const first = words[0];
    const last = words[words.length - 1];
    const fallback = Math.max(this.lastFinalEnd, this.offsetFrames / FRAMES_PER_SECOND);
    const confidence = meanConfidence(words);
    return {
      segmentId: this.segmentId,
      isFinal,
      text,
      words,
      start: first?.start ?? fallback,
      end: last?.end ?? fallback,
      ...(confidence === undefined ? {} : { confidence }),
    };
  }

  private async emitInterim(): Promise<void> {
    const text = normalizeHypothesis(await this.decoder.hypothesis());
    if (!this.live || text === '' || text === this.lastInterim) return;
    this.lastInterim = text;
    this.emit('transcript', this.transcript(text, false));
  }

  private async endUtterance(reason: UtteranceEndReason): Promise<void> {
    const started = this.utteranceStarted;
    this.utteranceStarted = false;
    await this.decoder.endUtterance();
    if (!this.live) return;
    if (started) {
      const text = normalizeHypothesis(await this.decoder.hypothesis());
      if (!this.live) return;
      // No empty finals: an utterance of noise alone ends without one (its
      // `utterance_end` still names the segment, so interims shown for it can be cleared).
      if (text !== '') {
        const final = this.transcript(text, true);
        this.lastFinalEnd = final.end;
        this.emit('transcript', final);
      }
    }
    if (reason === 'end') return;
    this.decoder.startUtterance();
    if (reason === 'pause' && started) {
      const timestamp = Math.max(this.lastFinalEnd, this.samplesFed / SAMPLE_RATE);
      this.emit('utterance_end', {
        timestamp: Math.round(timestamp * 1000) / 1000,
        segmentId: this.segmentId,
      });
    }
  }

  private fail(cause: unknown): void {
    if (!this.live) return;
    const error = new EarshotError('provider_error', 'the PocketSphinx decoder failed', {
      cause,
      fatal: true,
    });
    this.logger.error({ streamId: this.options.streamId, err: cause }, 'local stream failed');
    this.failure = error;
    this.emit('error', error);
    this.close();
  }

  private close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.queue.length = 0;
    // Release first: a `close` listener may open the next stream into the freed slot.
    this.options.release(this.decoder);
    if (this.failure) this.settleClosed.reject(this.failure);
    else this.settleClosed.resolve();
    this.emit('close');
    this.removeAllListeners();
  }
}

/** PocketSphinx's hypothesis with whitespace tidied: what it prints, one line. */
function normalizeHypothesis(hyp: string): string {
  return hyp.trim().replace(/\s+/g, ' ');
}
