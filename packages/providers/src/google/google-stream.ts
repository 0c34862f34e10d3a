import { EarshotError, type Logger, type Word } from '@earshot/protocol';
import { ProviderStream, providerFailure, SegmentSequencer } from '../shared/index.js';
import { googleFailure, openAborted } from './google-errors.js';
import {
  type GoogleResponse,
  type GoogleResult,
  type GoogleStreamingRequest,
  parseStreamingResponse,
} from './google-wire.js';

/**
 * The most audio one `StreamingRecognizeRequest` may carry: Google's quota is 25 KB per
 * request; bigger writes are split.
 */
export const GOOGLE_MAX_REQUEST_AUDIO_BYTES = 25_000;

const provider = 'google';

/** The SDK's bidirectional call (google-gax's `StreamProxy`), as much of it as the stream uses. */
export interface GoogleCall {
  write(request: GoogleStreamingRequest): boolean;
  end(): void;
  cancel(): void;
  on(event: string, listener: (value: unknown) => void): unknown;
  off(event: string, listener: (value: unknown) => void): unknown;
}

/** Options of {@link GoogleSttStream}; the provider fills them in. */
export interface GoogleSttStreamOptions {
  /** Prefix of this stream's segment ids, unique per stream. */
  readonly streamId: string;
  /** Whether to emit interim transcripts. */
  readonly interimResults: boolean;
  /** Interims below this `stability` (0–1) are skipped; 0 keeps them all. */
  readonly minStability: number;
  /** Whether speakers are labelled (Google then repeats earlier words in later finals). */
  readonly diarize: boolean;
  /** How long `end()` waits for Google's last results and the end of the call. */
  readonly closeTimeoutMs: number;
  /** Closes the SDK client: its channel and socket. */
  readonly closeClient: () => void;
  /**
   * Whether the channel under the call is connected. A server may send no response headers
   * before its first result; a connected channel with no error then counts as accepted.
   */
  readonly channelReady: () => Promise<boolean>;
  readonly logger?: Logger;
}

/** How {@link GoogleSttStream.connect} waits for Google to take the call. */
export interface GoogleConnectOptions {
  /** `host:port`, for messages. */
  readonly endpoint: string;
  /** Gives up with `unreachable` after this long. */
  readonly timeoutMs: number;
  /** After this long without headers or an error, a connected channel counts as accepted. */
  readonly acceptWindowMs: number;
  readonly signal?: AbortSignal;
}

type State = 'opening' | 'open' | 'ending';

/**
 * One Google `StreamingRecognize` call. Google sends, per utterance, interim results (with a
 * `stability`) and then one result with `is_final`: a {@link SegmentSequencer} gives them one
 * segment id and exactly one final. Times are `result_end_time` and word offsets, which count
 * from the call's start, i.e. seconds of the audio written to this stream.
 *
 * Google has no flush and no keepalive message: {@link finalize} does nothing (the final
 * comes at the speaker's pause, or at {@link end}), and a silent caller is kept alive with
 * silence.
 */
export class GoogleSttStream extends ProviderStream {
  private state: State = 'opening';
  private readonly segments: SegmentSequencer;
  private readonly callListeners: [string, (value: unknown) => void][] = [];
  private settleOpen: ((error?: EarshotError) => void) | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  /** Whether the call has ended (status received), so releasing it needs no cancel. */
  private callOver = false;
  /** Where the open utterance began, once known (speech event or first interim). */
  private segmentStart: number | undefined;
  /** The end of the last final: the next utterance cannot begin before it. */
  private lastFinalEnd = 0;
  private finalizeLogged = false;

  constructor(
    private readonly call: GoogleCall,
    private readonly options: GoogleSttStreamOptions,
  ) {
    super(options.logger);
    this.segments = new SegmentSequencer(options.streamId);
    this.listen('metadata', () => this.accepted());
    this.listen('data', (response) => {
      this.accepted();
      this.onResponse(response);
    });
    this.listen('error', (error) => this.onCallError(error));
    this.listen('end', () => this.onCallEnd());
  }

  /**
   * Resolves once Google has taken the call (response headers or a first response, or a
   * connected channel and no error within `acceptWindowMs`); rejects with the mapped failure
   * (a refused key is `auth`, a refused connection `unreachable`), on timeout or on abort.
   * The config must have been written already.
   */
  connect(options: GoogleConnectOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const { signal } = options;
      const onAbort = () => this.settleOpen?.(openAborted(signal as AbortSignal));
      const timer = setTimeout(
        () =>
          this.settleOpen?.(
            providerFailure(
              'unreachable',
              `Google did not answer at ${options.endpoint} within ${options.timeoutMs} ms`,
              { provider },
            ),
          ),
        options.timeoutMs,
      );
      let readyCheck: NodeJS.Timeout | undefined;
      const checkReady = () => {
        this.options.channelReady().then(
          (ready) => {
            if (!this.settleOpen) return;
            if (ready) this.settleOpen();
            else readyCheck = setTimeout(checkReady, 200);
          },
          () => {},
        );
      };
      readyCheck = setTimeout(checkReady, options.acceptWindowMs);
      this.settleOpen = (error) => {
        this.settleOpen = undefined;
        clearTimeout(timer);
        clearTimeout(readyCheck);
        signal?.removeEventListener('abort', onAbort);
        if (error === undefined) {
          this.state = 'open';
          resolve();
        } else {
          this.finish();
          reject(error);
        }
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Sends audio, split into requests of at most {@link GOOGLE_MAX_REQUEST_AUDIO_BYTES}.
   * Ignored once ending or closed, and when empty.
   */
  write(chunk: Uint8Array): void {
    if (this.state !== 'open' || this.isOver || chunk.byteLength === 0) return;
    for (let at = 0; at < chunk.byteLength; at += GOOGLE_MAX_REQUEST_AUDIO_BYTES) {
      // A copy: the request is queued until gRPC serializes it, and the caller may reuse
      // its buffer as soon as write() returns.
      const piece = Buffer.from(chunk.subarray(at, at + GOOGLE_MAX_REQUEST_AUDIO_BYTES));
      this.call.write({ audioContent: piece });
    }
  }

  /**
   * Does nothing: Google has no way to flush an utterance mid-call. Its final comes when the
   * speaker pauses, or at {@link end} (the resilient layer rotates streams for that).
   */
  finalize(): void {
    if (this.finalizeLogged) return;
    this.finalizeLogged = true;
    this.logger.debug({ provider }, 'google has no flush: finalize() waits for a pause or end()');
  }

  /**
   * Half-closes the request stream and resolves once Google has sent its last results and
   * ended the call. If it has not within `closeTimeoutMs`, the stream fails with `timeout`.
   */
  end(): Promise<void> {
    if (this.state === 'open' && !this.isOver) {
      this.state = 'ending';
      this.closeTimer = setTimeout(() => {
        this.fail(
          providerFailure(
            'timeout',
            `Google did not end the call within ${this.options.closeTimeoutMs} ms of the half-close`,
            { provider },
          ),
        );
      }, this.options.closeTimeoutMs);
      this.call.end();
    }
    return this.closed;
  }

  protected releaseUpstream(): void {
    clearTimeout(this.closeTimer);
    for (const [event, listener] of this.callListeners) this.call.off(event, listener);
    // The SDK reports the cancel below (and anything after) as an `error`: swallow it.
    this.call.on('error', () => {});
    if (!this.callOver) this.call.cancel();
    this.options.closeClient();
  }

  private listen(event: string, listener: (value: unknown) => void): void {
    this.callListeners.push([event, listener]);
    this.call.on(event, listener);
  }

  private accepted(): void {
    this.settleOpen?.();
  }

  private onCallError(error: unknown): void {
    this.callOver = true;
    if (this.settleOpen) {
      this.settleOpen(googleFailure(error, 'open'));
      return;
    }
    this.fail(googleFailure(error, 'stream'));
  }

  private onCallEnd(): void {
    this.callOver = true;
    if (this.settleOpen) {
      this.settleOpen(
        providerFailure('unreachable', 'Google ended the call before accepting it', { provider }),
      );
    } else if (this.state === 'ending') {
      this.finish();
    } else {
      // An OK status the stream did not ask for: the upstream is gone all the same.
      this.fail(providerFailure('dropped', 'Google ended the call before end()', { provider }));
    }
  }

  private onResponse(raw: unknown): void {
    const parsed = parseStreamingResponse(raw);
    if (!parsed.ok) {
      this.logger.warn({ problem: parsed.problem }, 'unreadable google response');
      this.fail(
        new EarshotError(
          'provider_error',
          `Google sent a response Earshot cannot read: ${parsed.problem}`,
          {
            fatal: false,
            details: { provider, message: raw },
          },
        ),
      );
      return;
    }
    const response = parsed.value;
    if (response.error) {
      this.fail(
        googleFailure({ code: response.error.code, details: response.error.message }, 'stream'),
      );
      return;
    }
    this.onSpeechEvent(response);
    for (const result of response.results.filter((r) => r.isFinal)) this.onFinal(result);
    this.onInterims(response.results.filter((r) => !r.isFinal));
  }

  private onSpeechEvent(response: GoogleResponse): void {
    const at = response.speechEventTime ?? this.lastFinalEnd;
    switch (response.speechEvent) {
      case 'SPEECH_EVENT_UNSPECIFIED':
        return;
      case 'SPEECH_ACTIVITY_BEGIN':
        if (!this.segments.hasOpenSegment) this.segmentStart = at;
        this.emitSpeechStarted(at);
        return;
      case 'SPEECH_ACTIVITY_END':
        this.emitUtteranceEnd(at);
        return;
      default:
        this.logger.debug({ event: response.speechEvent }, 'google speech event ignored');
    }
  }

  private onFinal(result: GoogleResult): void {
    const words = this.wordsOf(result);
    // An empty final with nothing open (Google's closing result) is no utterance.
    if (result.transcript.trim() === '' && !this.segments.hasOpenSegment) return;
    const start = words[0]?.start ?? this.segmentStart ?? this.lastFinalEnd;
    const end = Math.max(start, result.endTime ?? words[words.length - 1]?.end ?? start);
    const speaker = words.find((w) => w.speaker !== undefined)?.speaker;
    this.emitTranscript(
      this.segments.final({
        text: result.transcript.trim(),
        words,
        start,
        end,
        ...(result.confidence === undefined ? {} : { confidence: result.confidence }),
        ...(speaker === undefined ? {} : { speaker }),
      }),
    );
    this.lastFinalEnd = end;
    this.segmentStart = undefined;
  }

  private onInterims(results: readonly GoogleResult[]): void {
    if (!this.options.interimResults || results.length === 0) return;
    // Google orders interims from most to least stable; 0 means "not set" and is kept.
    const kept = results.filter(
      (r) => r.stability === 0 || r.stability >= this.options.minStability,
    );
    const text = kept
      .map((r) => r.transcript.trim())
      .filter((t) => t !== '')
      .join(' ');
    if (text === '') return;
    this.segmentStart ??= this.lastFinalEnd;
    const ends = kept.map((r) => r.endTime).filter((t): t is number => t !== undefined);
    const end = Math.max(this.segmentStart, ...ends);
    this.emitTranscript(this.segments.interim({ text, words: [], start: this.segmentStart, end }));
  }

  /** Earshot words of a final; with diarization, only this utterance's (Google repeats all). */
  private wordsOf(result: GoogleResult): Word[] {
    const from = this.options.diarize ? this.lastFinalEnd - 0.05 : Number.NEGATIVE_INFINITY;
    return result.words
      .filter((w) => w.start !== undefined && w.end !== undefined && w.start >= from)
      .map((w) => ({
        word: w.word,
        start: w.start as number,
        end: w.end as number,
        ...(w.confidence === undefined ? {} : { confidence: w.confidence }),
        ...(w.speaker === undefined ? {} : { speaker: w.speaker }),
      }));
  }
}
