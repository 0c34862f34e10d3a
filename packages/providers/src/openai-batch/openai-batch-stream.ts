import { EarshotError, type Logger, type Word } from '@earshot/protocol';
import { providerFailure } from '../shared/provider-failure.js';
import { ProviderStream } from '../shared/provider-stream.js';
import { SegmentSequencer, type SequencedResult } from '../shared/segment-sequencer.js';
import type { VadEvent, VoiceActivityDetector } from '../vad/index.js';
import {
  encodeWav,
  parseWhisperTranscription,
  type WhisperTranscription,
} from './openai-batch-wire.js';
import { PcmHistory } from './pcm-history.js';

/**
 * Posts one utterance (a WAV file) and resolves with the response body. Rejects with an
 * {@link EarshotError} (a `providerFailure`) when the request fails; honours `signal`.
 */
export type TranscribeUtterance = (wav: Uint8Array, signal: AbortSignal) => Promise<unknown>;

/** Options of {@link OpenAIBatchSttStream}; the provider fills them in. */
export interface OpenAIBatchSttStreamOptions {
  /** Prefix of this stream's segment ids, unique per stream. */
  readonly streamId: string;
  /** The detector that cuts utterances; the stream owns it and closes it. */
  readonly detector: VoiceActivityDetector;
  readonly transcribe: TranscribeUtterance;
  /** Requests in flight at most. */
  readonly concurrency: number;
  /** An utterance longer than this (pre-roll included) is cut here and goes on in a new one. */
  readonly maxUtteranceSeconds: number;
  /** Audio before the detected start sent along, so a soft onset is not clipped. */
  readonly preRollSeconds: number;
  /** Audio after the detected end sent along, so a trailing consonant is not clipped. */
  readonly postRollSeconds: number;
  /** How far back the detector may place a start: pre-roll plus its start delay, seconds. */
  readonly lookbackSeconds: number;
  readonly logger?: Logger;
}

/** Why an utterance was cut: only a pause ends the speaker's turn (`utterance_end`). */
type CutReason = 'pause' | 'finalize' | 'max-length' | 'end';

/** One utterance on its way: cut, posted, answered, emitted; in spoken order. */
interface Job {
  readonly speechStart: number;
  readonly speechEnd: number;
  readonly clipStart: number;
  readonly clipEnd: number;
  readonly reason: CutReason;
  wav: Uint8Array | undefined;
  state: 'queued' | 'running' | 'settled';
  controller?: AbortController;
  body?: unknown;
  error?: EarshotError;
}

const SAMPLE_RATE = 16000;
// The API refuses files shorter than 0.1 s ("Audio file is too short"); shorter clips are
// padded with silence rather than failing the stream.
const MIN_CLIP_SAMPLES = SAMPLE_RATE / 10;
// While nobody speaks, audio goes to the detector in pieces this long, so a start is found
// within this much of being written, however large the chunks.
const IDLE_PIECE_SAMPLES = SAMPLE_RATE * 0.25;

const round = (seconds: number) => Math.round(seconds * 1000) / 1000;

/**
 * A streaming transcription on a non-streaming API, the way LiveKit's `StreamAdapter` does
 * it: Earshot's voice activity detector cuts the audio into utterances, each utterance is
 * posted as a WAV file, and each answer becomes that utterance's one final. Requests run
 * `concurrency` at a time; finals are emitted in spoken order whatever order the answers
 * come back in. No interims.
 */
export class OpenAIBatchSttStream extends ProviderStream {
  private readonly history = new PcmHistory();
  private readonly segments: SegmentSequencer;
  private readonly detector: VoiceActivityDetector;
  private readonly jobs: Job[] = [];
  private running = 0;
  private ending = false;
  /** A byte of a sample split across writes. */
  private oddByte: number | undefined;
  /** Where the clip of the utterance in progress begins, in samples; undefined in silence. */
  private clipStart: number | undefined;
  /** Where the last clip ended: the next one never reaches back before it. */
  private lastClipEnd = 0;
  private readonly maxSamples: number;
  private readonly preRollSamples: number;
  private readonly postRollSamples: number;
  private readonly lookbackSamples: number;

  constructor(private readonly options: OpenAIBatchSttStreamOptions) {
    super(options.logger);
    this.detector = options.detector;
    this.segments = new SegmentSequencer(options.streamId);
    this.maxSamples = Math.round(options.maxUtteranceSeconds * SAMPLE_RATE);
    this.preRollSamples = Math.round(options.preRollSeconds * SAMPLE_RATE);
    this.postRollSamples = Math.round(options.postRollSeconds * SAMPLE_RATE);
    this.lookbackSamples = Math.ceil(options.lookbackSeconds * SAMPLE_RATE);
  }

  /** Takes PCM16 16 kHz mono (any byte boundaries). Ignored once ending or closed. */
  write(chunk: Uint8Array): void {
    if (this.isOver || this.ending || chunk.byteLength === 0) return;
    const samples = this.toSamples(chunk);
    let offset = 0;
    while (offset < samples.length && !this.isOver) {
      const piece = samples.subarray(offset, offset + this.pieceLength(samples.length - offset));
      offset += piece.length;
      this.history.append(piece);
      this.handle(this.detector.push(piece), 'pause');
      if (this.clipStart !== undefined && this.history.end - this.clipStart >= this.maxSamples) {
        // Ends the open speech at the audio's end; the detector starts a new utterance when
        // the voice goes on.
        this.handle(this.detector.flush(), 'max-length');
      }
      this.trimHistory();
    }
  }

  /** Cuts the utterance in progress now and posts it; its final follows its answer. */
  finalize(): void {
    if (this.isOver || this.ending) return;
    this.handle(this.detector.flush(), 'finalize');
  }

  /** Posts the last utterance, waits for every answer, emits their finals, then closes. */
  end(): Promise<void> {
    if (!this.isOver && !this.ending) {
      this.ending = true;
      this.handle(this.detector.flush(), 'end');
      this.drain();
    }
    return this.closed;
  }

  protected releaseUpstream(): void {
    for (const job of this.jobs) job.controller?.abort();
    this.jobs.length = 0;
    this.detector.close();
    this.history.clear();
  }

  /** Copies the chunk into whole samples; an odd trailing byte waits for its pair. */
  private toSamples(chunk: Uint8Array): Int16Array {
    const lead = this.oddByte === undefined ? 0 : 1;
    const bytes = lead + chunk.byteLength;
    // A copy: the caller may reuse its buffer, and the history keeps these samples.
    const samples = new Int16Array(bytes >> 1);
    const out = new Uint8Array(samples.buffer);
    if (this.oddByte !== undefined) out[0] = this.oddByte;
    out.set(chunk.subarray(0, out.length - lead), lead);
    this.oddByte = bytes & 1 ? chunk[chunk.byteLength - 1] : undefined;
    return samples;
  }

  /** How much of the remaining input to push next: exactly up to the length cap when speaking. */
  private pieceLength(remaining: number): number {
    if (this.clipStart === undefined) return Math.min(remaining, IDLE_PIECE_SAMPLES);
    return Math.min(remaining, Math.max(1, this.clipStart + this.maxSamples - this.history.end));
  }

  private trimHistory(): void {
    const keepFrom =
      this.clipStart ?? Math.max(this.lastClipEnd, this.history.end - this.lookbackSamples);
    this.history.trim(keepFrom);
  }

  private handle(events: readonly VadEvent[], reason: CutReason): void {
    for (const event of events) {
      if (event.type === 'speech_started') {
        const start = Math.round(event.at * SAMPLE_RATE);
        this.clipStart = Math.max(start - this.preRollSamples, this.lastClipEnd);
        this.emitSpeechStarted(round(event.at));
      } else {
        this.cut(event.start, event.at, reason);
      }
    }
  }

  /** Cuts the utterance that was spoken from `speechStart` to `speechEnd` and queues it. */
  private cut(speechStart: number, speechEnd: number, reason: CutReason): void {
    const clipStart =
      this.clipStart ??
      Math.max(Math.round(speechStart * SAMPLE_RATE) - this.preRollSamples, this.lastClipEnd);
    const clipEnd = Math.min(
      Math.round(speechEnd * SAMPLE_RATE) + this.postRollSamples,
      this.history.end,
    );
    this.clipStart = undefined;
    this.lastClipEnd = clipEnd;
    const pcm = this.history.copy(clipStart, clipEnd, MIN_CLIP_SAMPLES);
    this.jobs.push({
      speechStart,
      speechEnd,
      clipStart: clipStart / SAMPLE_RATE,
      clipEnd: clipEnd / SAMPLE_RATE,
      reason,
      wav: encodeWav(pcm, SAMPLE_RATE),
      state: 'queued',
    });
    this.logger.debug(
      { streamId: this.options.streamId, start: round(speechStart), end: round(speechEnd), reason },
      'utterance cut',
    );
    this.pump();
  }

  /** Starts queued requests, earliest first, while fewer than `concurrency` are in flight. */
  private pump(): void {
    for (const job of this.jobs) {
      if (this.running >= this.options.concurrency) return;
      if (job.state === 'queued') this.start(job);
    }
  }

  private start(job: Job): void {
    const wav = job.wav;
    if (!wav) return;
    job.state = 'running';
    job.controller = new AbortController();
    this.running++;
    const settle = () => {
      job.state = 'settled';
      job.wav = undefined;
      this.running--;
      if (this.isOver) return;
      this.drain();
      this.pump();
    };
    this.options.transcribe(wav, job.controller.signal).then(
      (body) => {
        job.body = body;
        settle();
      },
      (error: unknown) => {
        job.error = EarshotError.isInstance(error)
          ? error
          : providerFailure('dropped', `a transcription request failed: ${String(error)}`, {
              cause: error,
              provider: 'openai-batch',
            });
        settle();
      },
    );
  }

  /** Emits the answers at the head of the queue, in spoken order; closes when ending is done. */
  private drain(): void {
    while (this.jobs[0]?.state === 'settled') {
      const job = this.jobs.shift() as Job;
      if (job.error) {
        // Finals before this utterance are out; the resilient layer replays from the last one.
        this.logger.warn(
          { streamId: this.options.streamId, code: job.error.code },
          'request failed',
        );
        this.fail(job.error.asFatal());
        return;
      }
      this.deliver(job);
    }
    if (this.ending && this.jobs.length === 0) this.finish();
  }

  private deliver(job: Job): void {
    const segmentId = this.segments.currentId;
    const transcription = parseWhisperTranscription(job.body);
    if (transcription === undefined) {
      this.logger.warn({ streamId: this.options.streamId }, 'unexpected transcription body');
      this.fail(
        new EarshotError(
          'provider_error',
          'OpenAI answered with an unexpected transcription body',
          {
            details: { provider: 'openai-batch', segmentId },
          },
        ),
      );
      this.segments.closeSegment();
    } else if (transcription.text.trim() === '') {
      // Noise the detector took for speech: no final, but the segment id is used up so ids
      // keep matching utterances.
      this.segments.closeSegment();
    } else {
      this.emitTranscript(this.segments.final(toResult(transcription, job)));
    }
    if (job.reason === 'pause') this.emitUtteranceEnd(round(job.speechEnd), segmentId);
  }
}

/** An answer as a result on the stream's clock: word times are offset by the clip's start. */
function toResult(transcription: WhisperTranscription, job: Job): SequencedResult {
  const clamp = (t: number) => round(Math.min(job.clipEnd, job.clipStart + t));
  const words: Word[] = transcription.words
    .map((w) => ({ word: w.word.trim(), start: clamp(w.start), end: clamp(w.end) }))
    .filter((w) => w.word !== '');
  const first = words[0];
  const last = words[words.length - 1];
  const logprobs = transcription.segments
    .map((s) => s.avgLogprob)
    .filter((p): p is number => p !== undefined);
  return {
    text: transcription.text.trim(),
    words,
    // The utterance spans its speech, widened to words the model placed in the pre-/post-roll.
    start: round(Math.min(job.speechStart, first?.start ?? job.speechStart)),
    end: round(Math.max(job.speechEnd, last?.end ?? job.speechEnd)),
    ...(logprobs.length > 0
      ? { confidence: round(Math.exp(logprobs.reduce((a, b) => a + b, 0) / logprobs.length)) }
      : {}),
  };
}
