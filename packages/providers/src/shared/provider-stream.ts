import { type EarshotError, type Logger, silentLogger } from '@earshot/protocol';
import { EventEmitter } from 'eventemitter3';
import type { ProviderTranscript, SttStream, SttStreamEvents } from '../stt-provider.js';

/**
 * What every cloud provider's stream shares, so none of them re-implements it: events that
 * stop after `close`, `close` emitted exactly once, a fatal error always followed by `close`,
 * and a promise that settles when the stream is closed (what `end()` waits for).
 *
 * A subclass speaks to its vendor; it calls {@link emitTranscript} and the other `emit*`
 * helpers as results arrive, {@link fail} when the upstream breaks, and {@link finish} once
 * the upstream is done. It releases its sockets and timers in {@link releaseUpstream}, which
 * runs exactly once, before `close`.
 */
export abstract class ProviderStream extends EventEmitter<SttStreamEvents> implements SttStream {
  /** Where the stream logs. */
  protected readonly logger: Logger;
  private isClosed = false;
  private resolveClosed!: () => void;
  /** Settles once `close` has been emitted. */
  protected readonly closed: Promise<void> = new Promise((resolve) => {
    this.resolveClosed = resolve;
  });

  protected constructor(logger: Logger | undefined) {
    super();
    this.logger = logger ?? silentLogger;
  }

  /** Whether `close` has been emitted: the stream is over and ignores everything. */
  get isOver(): boolean {
    return this.isClosed;
  }

  abstract write(chunk: Uint8Array): void;
  abstract finalize(): void;
  abstract end(): Promise<void>;

  /** Stops at once: releases the upstream, emits `close`. Idempotent. */
  abort(reason?: unknown): void {
    if (this.isClosed) return;
    this.logger.debug({ reason: String(reason ?? '') }, 'provider stream aborted');
    this.finish();
  }

  /** Releases the vendor connection, timers and buffers. Runs once, before `close`. */
  protected abstract releaseUpstream(): void;

  /** Emits a transcript unless the stream is over. */
  protected emitTranscript(transcript: ProviderTranscript): void {
    if (!this.isClosed) this.emit('transcript', transcript);
  }

  /** Emits `speech_started` unless the stream is over. */
  protected emitSpeechStarted(timestamp: number): void {
    if (!this.isClosed) this.emit('speech_started', { timestamp });
  }

  /** Emits `utterance_end` unless the stream is over. */
  protected emitUtteranceEnd(timestamp: number, segmentId?: string): void {
    if (!this.isClosed) {
      this.emit(
        'utterance_end',
        segmentId === undefined ? { timestamp } : { timestamp, segmentId },
      );
    }
  }

  /** Reports `error`; a fatal one also ends the stream (`close` follows). */
  protected fail(error: EarshotError): void {
    if (this.isClosed) return;
    this.emit('error', error);
    if (error.fatal) this.finish();
  }

  /** Ends the stream: releases the upstream once and emits `close` once. */
  protected finish(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      this.releaseUpstream();
    } catch (cause) {
      this.logger.warn({ error: String(cause) }, 'releasing a provider upstream failed');
    }
    this.emit('close');
    this.resolveClosed();
    this.removeAllListeners();
  }
}
