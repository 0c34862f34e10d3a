import type { ClientRequest, IncomingMessage } from 'node:http';
import { EarshotError, type Logger } from '@earshot/protocol';
import { ProviderStream, SegmentSequencer } from '../shared/index.js';
import {
  closedUnexpectedly,
  errorEventFailure,
  fatalKindOfErrorEvent,
  malformedEvent,
  unreachable,
  upgradeRefused,
  vendorError,
} from './openai-errors.js';
import { type SpokenItem, SpokenItemOrder } from './openai-item-order.js';
import {
  type OpenAIServerEvent,
  parseServerEvent,
  type RealtimeLogprob,
  type RealtimeWireError,
  type TranscriptionSessionConfig,
} from './openai-wire.js';

/** The `ws` socket under `OpenAIRealtimeWS`, as far as the stream uses it. */
export interface RealtimeSocket {
  readonly readyState: number;
  send(data: string): void;
  terminate(): void;
  on(event: 'close', listener: (code: number, reason: Buffer) => void): unknown;
  on(
    event: 'unexpected-response',
    listener: (request: ClientRequest, response: IncomingMessage) => void,
  ): unknown;
  off(event: string, listener: (...args: never[]) => void): unknown;
}

/** `OpenAIRealtimeWS` (openai@7), as far as the stream uses it. */
export interface RealtimeConnection {
  readonly socket: RealtimeSocket;
  on(event: 'event', listener: (event: unknown) => void): unknown;
  on(event: 'error', listener: (error: Error & { error?: RealtimeWireError }) => void): unknown;
  off(event: 'event', listener: (event: unknown) => void): unknown;
  send(event: object): void;
  close(props?: { code: number; reason: string }): void;
}

/** What {@link OpenAISttStream} needs besides its connection. */
export interface OpenAIStreamConfig {
  /** Unique per stream: the prefix of its segment ids. */
  readonly streamId: string;
  readonly session: TranscriptionSessionConfig;
  /** Bytes per second of the audio written (to turn bytes into stream seconds). */
  readonly bytesPerSecond: number;
  readonly interimResults: boolean;
  /** Longest wait for `session.updated`, from the start of the connection. */
  readonly connectTimeoutMs: number;
  /** Longest wait in `end()` for outstanding transcriptions. */
  readonly endTimeoutMs: number;
  readonly logger?: Logger;
}

const OPEN = 1;
/** After our close frame, how long the server gets to answer before the socket is destroyed. */
const CLOSE_GRACE_MS = 2000;
/** OpenAI refuses to commit less audio than this (`input_audio_buffer_commit_empty`). */
const MIN_COMMIT_SECONDS = 0.1;
const SESSION_UPDATE_ID = 'earshot_session_update';

/**
 * One OpenAI Realtime transcription session. It configures the session once the server has
 * created it, streams audio as `input_audio_buffer.append`, and turns transcription items
 * into Earshot segments in spoken order ({@link SpokenItemOrder}): one segment per item, its
 * deltas as interims, its `completed` as the one final.
 */
export class OpenAISttStream extends ProviderStream {
  /** Settles when the session is configured (resolve) or cannot be (reject). */
  readonly opened: Promise<void>;
  private resolveOpened!: () => void;
  private rejectOpened!: (error: EarshotError) => void;
  private isOpen = false;
  private readonly segments: SegmentSequencer;
  private readonly order: SpokenItemOrder;
  private readonly serverVad: boolean;
  private writtenBytes = 0;
  private committedBytes = 0;
  private commitCount = 0;
  /**
   * Our commits not answered yet, oldest first: `event_id` → stream seconds at the commit
   * (the end of the item it makes, which has no `speech_stopped`).
   */
  private readonly awaitedCommits = new Map<string, number>();
  private lastEnd = 0;
  private ending = false;
  /** We have sent our close frame: the socket's close is expected. */
  private closing = false;
  private transportError: unknown;
  private connectTimer: NodeJS.Timeout | undefined;
  private endTimer: NodeJS.Timeout | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private readonly onEvent = (event: unknown) => this.handleEvent(event);
  private readonly onSocketClose = (code: number, reason: Buffer) =>
    this.handleSocketClose(code, reason.toString());
  private readonly onUnexpectedResponse = (_request: ClientRequest, response: IncomingMessage) => {
    response.resume();
    this.abandon(upgradeRefused(response.statusCode ?? 0));
  };

  constructor(
    private readonly connection: RealtimeConnection,
    private readonly config: OpenAIStreamConfig,
  ) {
    super(config.logger);
    this.opened = new Promise((resolve, reject) => {
      this.resolveOpened = resolve;
      this.rejectOpened = reject;
    });
    // Nobody may be awaiting yet when an early failure rejects it.
    this.opened.catch(() => {});
    this.segments = new SegmentSequencer(config.streamId);
    this.serverVad = config.session.audio.input.turn_detection !== null;
    this.order = new SpokenItemOrder({
      interim: (item) => this.emitInterim(item),
      utteranceEnd: (item) => this.emitUtteranceEnd(item.end ?? 0, this.segments.currentId),
      settle: (item) => this.settle(item),
    });
    connection.on('event', this.onEvent);
    // The SDK turns an `error` without a listener into an unhandled rejection, even after
    // the stream is over (a terminated socket reports one), so this listener stays.
    connection.on('error', (error) => this.handleSdkError(error));
    connection.socket.on('close', this.onSocketClose);
    // With a listener here `ws` leaves the refused upgrade to us, and we learn its status.
    connection.socket.on('unexpected-response', this.onUnexpectedResponse);
    this.connectTimer = setTimeout(
      () => this.abandon(unreachable(`no session within ${config.connectTimeoutMs} ms`)),
      config.connectTimeoutMs,
    );
  }

  /** Gives up opening: rejects {@link opened} and releases everything. */
  abandon(error: EarshotError): void {
    if (this.isOpen || this.isOver) return;
    this.rejectOpened(error);
    this.finish();
  }

  write(chunk: Uint8Array): void {
    if (!this.isOpen || this.ending || this.isOver || chunk.byteLength === 0) return;
    this.writtenBytes += chunk.byteLength;
    const audio = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString('base64');
    // Built by hand: base64 needs no escaping, and JSON.stringify would rescan the audio.
    this.sendRaw(`{"type":"input_audio_buffer.append","audio":"${audio}"}`);
  }

  finalize(): void {
    if (this.isOpen && !this.ending && !this.isOver) this.commitSpeech();
  }

  async end(): Promise<void> {
    if (this.isOver) return;
    if (!this.isOpen) {
      this.abandon(new EarshotError('provider_error', 'the stream ended before it opened'));
      return this.closed;
    }
    if (!this.ending) {
      this.ending = true;
      // Always: it flushes speech the server's VAD has not closed yet (the last words before
      // a hang-up), and its answer marks the end of the audio the server has taken.
      this.commit();
      this.endTimer = setTimeout(() => {
        this.logger.warn(
          { pending: this.order.size },
          'OpenAI did not complete every transcription in time; closing with what arrived',
        );
        this.awaitedCommits.clear();
        this.order.flush();
        this.closeUpstream();
      }, this.config.endTimeoutMs);
      this.closeIfDone();
    }
    return this.closed;
  }

  protected releaseUpstream(): void {
    clearTimeout(this.connectTimer);
    clearTimeout(this.endTimer);
    clearTimeout(this.closeTimer);
    this.connection.off('event', this.onEvent);
    const socket = this.connection.socket;
    socket.off('close', this.onSocketClose);
    socket.off('unexpected-response', this.onUnexpectedResponse);
    // Graceful closes have finished by now; anything else is cut at once.
    socket.terminate();
  }

  /**
   * `finalize()`: commits the audio that is still uncommitted speech. With turn detection,
   * only while someone is speaking (the server commits finished utterances itself, and
   * committing silence would make an empty item); without, any audio the server would take.
   */
  private commitSpeech(): void {
    const uncommitted = (this.writtenBytes - this.committedBytes) / this.config.bytesPerSecond;
    if (this.serverVad ? this.order.speaking : uncommitted >= MIN_COMMIT_SECONDS) this.commit();
  }

  /**
   * Sends `input_audio_buffer.commit`. Its answer (`committed`, or an `error` naming its
   * `event_id` when there was nothing to commit) also tells that the server has taken every
   * append sent before it: `end()` relies on that.
   */
  private commit(): void {
    this.commitCount += 1;
    const eventId = `earshot_commit_${this.commitCount}`;
    this.awaitedCommits.set(eventId, this.writtenSeconds);
    this.committedBytes = this.writtenBytes;
    this.connection.send({ type: 'input_audio_buffer.commit', event_id: eventId });
  }

  private get writtenSeconds(): number {
    return this.writtenBytes / this.config.bytesPerSecond;
  }

  private handleEvent(raw: unknown): void {
    if (this.isOver) return;
    const parsed = parseServerEvent(raw);
    if (parsed.kind === 'ignored') return;
    if (parsed.kind === 'invalid') {
      this.logger.warn({ type: parsed.type, problem: parsed.problem }, 'malformed OpenAI event');
      if (this.isOpen) this.fail(malformedEvent(parsed.type, parsed.problem));
      else this.abandon(malformedEvent(parsed.type, parsed.problem).asFatal());
      return;
    }
    const event = parsed.event;
    if (!this.isOpen) {
      this.handleOpeningEvent(event);
      return;
    }
    switch (event.type) {
      case 'input_audio_buffer.speech_started': {
        const start = event.audio_start_ms / 1000;
        this.emitSpeechStarted(start);
        this.order.speechStarted(event.item_id, start);
        break;
      }
      case 'input_audio_buffer.speech_stopped':
        this.order.speechStopped(event.item_id, event.audio_end_ms / 1000);
        break;
      case 'input_audio_buffer.committed':
        this.onCommitted(event.item_id, event.previous_item_id);
        break;
      case 'input_audio_buffer.cleared':
        this.order.cleared();
        break;
      case 'conversation.item.input_audio_transcription.delta':
        this.order.delta(event.item_id, event.delta ?? '');
        break;
      case 'conversation.item.input_audio_transcription.completed':
        this.order.completed(event.item_id, event.transcript, confidenceOf(event.logprobs));
        break;
      case 'conversation.item.input_audio_transcription.failed':
        this.order.failed(event.item_id, event.error);
        break;
      case 'error':
        this.onErrorEvent(event.error);
        break;
      default:
    }
    this.closeIfDone();
  }

  private handleOpeningEvent(event: OpenAIServerEvent): void {
    switch (event.type) {
      case 'session.created':
        this.connection.send({
          type: 'session.update',
          event_id: SESSION_UPDATE_ID,
          session: this.config.session,
        });
        return;
      case 'session.updated':
        clearTimeout(this.connectTimer);
        this.isOpen = true;
        this.resolveOpened();
        return;
      case 'error': {
        // The service refused the configuration (an unknown model, a bad language, …).
        const kind = fatalKindOfErrorEvent(event.error) ?? 'rejected';
        this.abandon(errorEventFailure(kind, event.error));
        return;
      }
      default:
    }
  }

  private onCommitted(itemId: string, previousId: string | null | undefined): void {
    // The server commits a paused utterance itself (after `speech_stopped`); any other
    // commit answers our oldest, and ends where that commit was made.
    const [oldest] = this.order.isStopped(itemId) ? [] : this.awaitedCommits;
    if (oldest) this.awaitedCommits.delete(oldest[0]);
    this.order.committed(itemId, previousId, oldest?.[1] ?? this.writtenSeconds);
  }

  private onErrorEvent(error: RealtimeWireError): void {
    const kind = fatalKindOfErrorEvent(error);
    if (kind) {
      this.fail(errorEventFailure(kind, error));
      return;
    }
    if (error.event_id && this.awaitedCommits.delete(error.event_id)) {
      // Our commit found nothing to commit (the server had committed it already).
      if (error.code === 'input_audio_buffer_commit_empty') {
        this.logger.debug({ message: error.message }, 'OpenAI had nothing to commit');
        return;
      }
    }
    this.logger.warn({ code: error.code, message: error.message }, 'OpenAI reported an error');
    this.fail(vendorError(error));
  }

  private handleSdkError(error: Error & { error?: RealtimeWireError }): void {
    // Server `error` events arrive through `event` too and are handled there.
    if (error.error || this.isOver) return;
    if (error.message.startsWith('could not parse')) {
      this.logger.warn({ error: error.message }, 'OpenAI sent a frame that is not JSON');
      if (this.isOpen) this.fail(malformedEvent('unparsable', error.message));
      return;
    }
    // A transport failure: the socket's close follows and reports it.
    this.transportError = error.cause ?? error;
    this.logger.debug({ error: error.message }, 'OpenAI socket error');
  }

  private handleSocketClose(code: number, reason: string): void {
    if (this.isOver) return;
    if (!this.isOpen) {
      const cause = this.transportError;
      const message = cause instanceof Error ? cause.message : `closed with ${code}`;
      this.abandon(unreachable(message, cause));
    } else if (this.closing) {
      this.finish();
    } else {
      this.fail(closedUnexpectedly(code, reason, this.transportError));
    }
  }

  /** After `end()`: closes once no transcription is outstanding. */
  private closeIfDone(): void {
    if (this.ending && !this.closing && this.order.size === 0 && this.awaitedCommits.size === 0) {
      this.closeUpstream();
    }
  }

  private closeUpstream(): void {
    if (this.closing || this.isOver) return;
    this.closing = true;
    clearTimeout(this.endTimer);
    this.connection.close({ code: 1000, reason: 'OK' });
    // `finish` runs on the socket's close; a server that never answers is cut off.
    this.closeTimer = setTimeout(() => this.finish(), CLOSE_GRACE_MS);
  }

  private sendRaw(data: string): void {
    if (this.connection.socket.readyState !== OPEN) return;
    try {
      this.connection.socket.send(data);
    } catch (cause) {
      this.logger.debug({ error: String(cause) }, 'sending to OpenAI failed');
    }
  }

  private emitInterim(item: SpokenItem): void {
    if (!this.config.interimResults || item.text.trim() === '') return;
    this.emitTranscript(
      this.segments.interim({ text: item.text.trim(), words: [], ...this.times(item) }),
    );
  }

  private settle(item: SpokenItem): void {
    const times = this.times(item);
    this.lastEnd = times.end;
    const outcome = item.outcome;
    const text = outcome?.kind === 'completed' ? outcome.transcript.trim() : '';
    if (outcome?.kind === 'failed') {
      this.fail(
        vendorError(outcome.error, { itemId: item.id, segmentId: this.segments.currentId }),
      );
    }
    if (text === '' && !this.segments.hasOpenSegment) {
      // Nothing was shown for this item (silence, or a failure): it has no segment to close.
      this.segments.closeSegment();
      return;
    }
    // A failed item whose interims were shown gets an empty final, so they are withdrawn.
    const confidence = outcome?.kind === 'completed' ? outcome.confidence : undefined;
    this.emitTranscript(
      this.segments.final({
        text,
        words: [],
        ...times,
        ...(confidence === undefined ? {} : { confidence }),
      }),
    );
  }

  private times(item: SpokenItem): { start: number; end: number } {
    const start = item.start ?? this.lastEnd;
    return { start, end: Math.max(start, item.end ?? this.writtenSeconds) };
  }
}

/** The mean token probability, when the session asked for logprobs. */
function confidenceOf(logprobs: readonly RealtimeLogprob[] | null | undefined): number | undefined {
  if (!logprobs || logprobs.length === 0) return undefined;
  const mean = logprobs.reduce((sum, p) => sum + p.logprob, 0) / logprobs.length;
  return Math.min(1, Math.max(0, Math.exp(mean)));
}
