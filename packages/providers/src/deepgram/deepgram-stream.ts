import type { DeepgramClient } from '@deepgram/sdk';
import type { Logger, Word } from '@earshot/protocol';
import { providerFailure } from '../shared/provider-failure.js';
import { ProviderStream } from '../shared/provider-stream.js';
import { SegmentSequencer, type SequencedResult } from '../shared/segment-sequencer.js';
import { closeFailure, invalidMessage, openAborted, openFailure } from './deepgram-errors.js';
import {
  type DeepgramResults,
  isMetadata,
  isResults,
  isSpeechStarted,
  isUtteranceEnd,
  parseDeepgramMessage,
} from './deepgram-wire.js';

/** The SDK's live socket (`client.listen.v1.connect(…)`). */
export type DeepgramListenSocket = Awaited<ReturnType<DeepgramClient['listen']['v1']['connect']>>;

/** Options of {@link DeepgramSttStream}; the provider fills them in. */
export interface DeepgramSttStreamOptions {
  /** Prefix of this stream's segment ids, unique per stream. */
  readonly streamId: string;
  /** Whether to emit interim transcripts (Deepgram may send them for `UtteranceEnd` alone). */
  readonly interimResults: boolean;
  /** How long `end()` waits for Deepgram's close after `CloseStream`. */
  readonly closeTimeoutMs: number;
  readonly logger?: Logger;
}

type State = 'opening' | 'open' | 'ending';

/**
 * One Deepgram live stream on the SDK's socket (its auto-reconnect disabled by the provider).
 *
 * Deepgram finalises audio in windows: `is_final` results never change, and are pieces of an
 * utterance until `speech_final` (endpointing heard a pause), `from_finalize` (a `Finalize`)
 * or `UtteranceEnd` closes it. The pieces are held by a {@link SegmentSequencer} so each
 * utterance gets one segment id and exactly one Earshot final.
 */
export class DeepgramSttStream extends ProviderStream {
  private state: State = 'opening';
  private readonly segments: SegmentSequencer;
  private lastFinalId: string | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  /** The SDK reports a socket error right after the close it causes; kept for that close. */
  private socketError: Error | undefined;
  private settleOpen: ((error?: Error) => void) | undefined;

  constructor(
    private readonly socket: DeepgramListenSocket,
    private readonly options: DeepgramSttStreamOptions,
  ) {
    super(options.logger);
    this.segments = new SegmentSequencer(options.streamId);
    socket.on('open', () => this.onOpen());
    socket.on('message', (message) => this.onMessage(message));
    socket.on('close', (event) => this.onClose(event.code, event.reason ?? ''));
    socket.on('error', (error) => {
      this.socketError = error;
    });
  }

  /**
   * Connects and resolves once Deepgram accepted the upgrade. Rejects with a
   * `providerFailure` (and releases everything) on a refusal, an unreachable endpoint, no
   * answer within `timeoutMs`, or `signal` aborting.
   */
  connect(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => this.settleOpen?.(openAborted(signal as AbortSignal));
      const timer = setTimeout(
        () =>
          this.settleOpen?.(
            providerFailure('unreachable', `Deepgram did not answer within ${timeoutMs} ms`, {
              provider: 'deepgram',
            }),
          ),
        timeoutMs,
      );
      this.settleOpen = (error) => {
        this.settleOpen = undefined;
        clearTimeout(timer);
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
      this.socket.connect();
    });
  }

  /** Sends audio as one binary frame. Ignored once ending or closed, and when empty. */
  write(chunk: Uint8Array): void {
    // An empty binary frame asks Deepgram to close the stream: never send one.
    if (this.state !== 'open' || this.isOver || chunk.byteLength === 0) return;
    this.send(() => this.socket.sendMedia(chunk));
  }

  /** Sends `Finalize`: Deepgram flushes what it holds, and the utterance gets its final. */
  finalize(): void {
    if (this.state !== 'open' || this.isOver) return;
    this.send(() => this.socket.sendFinalize({ type: 'Finalize' }));
  }

  /** Sends `KeepAlive` (a text frame), which resets Deepgram's 10 s idle timeout (NET-0001). */
  keepAlive(): void {
    if (this.state !== 'open' || this.isOver) return;
    this.send(() => this.socket.sendKeepAlive({ type: 'KeepAlive' }));
  }

  /**
   * Sends `CloseStream` and resolves once Deepgram has sent its last results and closed (1000).
   * If it has not closed within `closeTimeoutMs`, the stream fails with a `timeout`.
   */
  end(): Promise<void> {
    if (this.state === 'open' && !this.isOver) {
      this.state = 'ending';
      this.send(() => this.socket.sendCloseStream({ type: 'CloseStream' }));
      this.closeTimer = setTimeout(() => {
        this.fail(
          providerFailure(
            'timeout',
            `Deepgram did not close within ${this.options.closeTimeoutMs} ms of CloseStream`,
            { provider: 'deepgram' },
          ),
        );
      }, this.options.closeTimeoutMs);
    }
    return this.closed;
  }

  protected releaseUpstream(): void {
    clearTimeout(this.closeTimer);
    for (const event of ['open', 'message', 'close', 'error'] as const)
      this.socket.on(event, undefined);
    // Closes the socket (1000) or cancels the attempt; the SDK never reconnects after close().
    this.socket.close();
  }

  private send(action: () => void): void {
    try {
      action();
    } catch (error) {
      // The socket is closing under us; its close event reports why.
      this.logger.debug({ error: String(error) }, 'deepgram send failed');
    }
  }

  private onOpen(): void {
    this.settleOpen?.();
  }

  private onClose(code: number, reason: string): void {
    // The SDK emits a close (1000) before the socket error that caused it: decide once both
    // have been seen.
    queueMicrotask(() => {
      const error = this.socketError;
      this.socketError = undefined;
      if (this.settleOpen) {
        this.settleOpen(openFailure(error));
        return;
      }
      if (this.isOver) return;
      if (this.state === 'ending' && code === 1000 && error === undefined) {
        this.closeSegment();
        this.finish();
        return;
      }
      this.fail(closeFailure(error ? 1006 : code, error ? error.message : reason, error));
    });
  }

  private onMessage(raw: unknown): void {
    if (this.isOver) return;
    const parsed = parseDeepgramMessage(raw);
    if (!parsed.ok) {
      this.logger.warn({ problem: parsed.problem }, 'invalid deepgram message');
      this.fail(invalidMessage(parsed.problem, raw));
      return;
    }
    const message = parsed.message;
    if (isResults(message)) this.onResults(message);
    else if (isUtteranceEnd(message)) {
      const closedId = this.closeSegment();
      this.emitUtteranceEnd(message.last_word_end, closedId ?? this.lastFinalId);
    } else if (isSpeechStarted(message)) this.emitSpeechStarted(message.timestamp);
    else if (isMetadata(message)) {
      this.logger.debug(
        { requestId: message.request_id, duration: message.duration },
        'deepgram metadata',
      );
    } else this.logger.debug({ type: message.type }, 'deepgram message ignored');
  }

  private onResults(message: DeepgramResults): void {
    const result = toSequencedResult(message);
    const heard = result !== undefined && result.text.trim() !== '';
    const closes = message.speech_final === true || message.from_finalize === true;
    if (message.is_final !== true) {
      if (heard && this.options.interimResults) this.emitTranscript(this.segments.interim(result));
      return;
    }
    if (heard) {
      const piece = this.segments.appendFinal(result);
      // A piece shows as an interim of its utterance, unless the final follows at once.
      if (!closes && this.options.interimResults) this.emitTranscript(piece);
    }
    if (closes) this.closeSegment();
  }

  /** Emits the open utterance's final, if it has final pieces; returns its id. */
  private closeSegment(): string | undefined {
    if (!this.segments.hasOpenSegment) return undefined;
    const final = this.segments.closeSegment();
    if (final === undefined) return undefined;
    this.lastFinalId = final.segmentId;
    this.emitTranscript(final);
    return final.segmentId;
  }
}

/** A `Results` message as a {@link SequencedResult}: the first alternative, word-timed. */
function toSequencedResult(message: DeepgramResults): SequencedResult | undefined {
  const alternative = message.channel.alternatives[0];
  if (alternative === undefined) return undefined;
  const words: Word[] = alternative.words.map((w) => ({
    word: w.punctuated_word ?? w.word,
    start: w.start,
    end: w.end,
    confidence: w.confidence,
    ...(w.speaker === undefined ? {} : { speaker: w.speaker }),
  }));
  const first = words[0];
  const last = words[words.length - 1];
  const speaker = words.find((w) => w.speaker !== undefined)?.speaker;
  return {
    text: alternative.transcript,
    confidence: alternative.confidence,
    words,
    // Word times bound the speech; the window (which includes silence) is the fallback.
    start: first?.start ?? message.start,
    end: last?.end ?? message.start + message.duration,
    ...(speaker === undefined ? {} : { speaker }),
  };
}
