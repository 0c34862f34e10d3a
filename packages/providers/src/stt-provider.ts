import type { AudioFormat, EarshotError, Logger, Word } from '@earshot/protocol';
import type { EventEmitter } from 'eventemitter3';

/** What a provider is and what it takes. The server adapts to it, never the reverse. */
export interface ProviderCapabilities {
  /**
   * Audio formats the provider accepts as they are. The server's audio pipeline passes
   * audio through untouched when the client sends one of these, and converts otherwise.
   */
  readonly inputFormats: readonly AudioFormat[];
  /** Whether the provider emits interim (non-final) transcripts. */
  readonly interimResults: boolean;
  /** Whether finals carry per-word start and end times. */
  readonly wordTimings: boolean;
  /** Whether the provider can label speakers. */
  readonly diarization: boolean;
  /** Whether `keywords` boost recognition. */
  readonly keywordBoosting: boolean;
  /** BCP-47 tags the provider recognizes, or `'any'`. */
  readonly languages: readonly string[] | 'any';
  /** The longest single stream the provider allows, in seconds of audio, if limited. */
  readonly maxStreamSeconds?: number;
  /** How many streams may run at once in this process, if limited. */
  readonly maxConcurrentStreams?: number;
  /**
   * Seconds without audio after which the vendor closes a stream (Deepgram: 10), if it does.
   * The resilient layer keeps a silent upstream alive before then: with
   * {@link SttStream.keepAlive} where the stream has it, with silence otherwise.
   */
  readonly idleTimeoutSeconds?: number;
}

/** Options for one provider stream, derived from the client's `start`. */
export interface SttStreamOptions {
  /** The format of the bytes that will be written; one of `capabilities.inputFormats`. */
  readonly audio: AudioFormat;
  /** BCP-47 language tag. */
  readonly language: string;
  /** Whether the caller wants interim transcripts. */
  readonly interimResults: boolean;
  /** Words to boost, where the provider supports it. */
  readonly keywords: readonly string[];
  /** Whether to label speakers, where the provider supports it. */
  readonly diarize: boolean;
  /** Provider-specific options, passed through from the client or the server. */
  readonly providerOptions?: Readonly<Record<string, unknown>>;
  /** Where the provider logs. Silent when absent. */
  readonly logger?: Logger;
}

/**
 * A transcript as a provider emits it. Times are seconds of the audio written to this
 * stream; the session maps them onto its own clock.
 */
export interface ProviderTranscript {
  /** One id per utterance: its interims and its one final share it. */
  readonly segmentId: string;
  readonly isFinal: boolean;
  readonly text: string;
  readonly confidence?: number;
  readonly words: readonly Word[];
  readonly start: number;
  readonly end: number;
  readonly speaker?: number;
}

/** Events of an {@link SttStream}. */
export interface SttStreamEvents {
  /** An interim or final transcript. Exactly one final per `segmentId`, in spoken order. */
  transcript: (transcript: ProviderTranscript) => void;
  /** Speech began at `timestamp` seconds of stream audio. */
  speech_started: (event: { timestamp: number }) => void;
  /** The utterance ended (the speaker paused) at `timestamp` seconds of stream audio. */
  utterance_end: (event: { timestamp: number; segmentId?: string }) => void;
  /** A failure. A `fatal` error is followed by `close`; others leave the stream usable. */
  error: (error: EarshotError) => void;
  /** The stream is closed: no more events. Emitted exactly once. */
  close: () => void;
}

/** One live recognition stream. Owned by the session that opened it. */
export interface SttStream extends EventEmitter<SttStreamEvents> {
  /** Queues audio in the format given at open. Never blocks; never throws for a closed stream. */
  write(chunk: Uint8Array): void;
  /** Ends the current utterance now: its final is emitted without waiting for a pause. */
  finalize(): void;
  /** End of audio: resolves once every final has been emitted and the stream has closed. */
  end(): Promise<void>;
  /** Stops at once, dropping what is pending, and releases everything. Emits `close`. */
  abort(reason?: unknown): void;
  /**
   * Sends the vendor's own keepalive message (Deepgram `KeepAlive`), for providers that have
   * one; the resilient layer calls it while the client is silent. Absent: silence is sent.
   */
  keepAlive?(): void;
}

/**
 * A speech-to-text provider: declares what it takes and opens streams.
 *
 * @example
 * ```ts
 * const stream = await provider.open({ audio, language: 'en-US', interimResults: true,
 *   keywords: [], diarize: false });
 * stream.on('transcript', (t) => t.isFinal && console.log(t.text));
 * stream.write(pcm);
 * await stream.end();
 * ```
 */
export interface SttProvider {
  /** The version of this contract the provider implements. */
  readonly specificationVersion: 'v1';
  /** Short stable name (`local`, `deepgram`, …), reported to clients in `ready`. */
  readonly name: string;
  /** What the provider accepts and offers. */
  readonly capabilities: ProviderCapabilities;
  /**
   * Opens a stream, resolving once the vendor has accepted it (so a bad key or an
   * unreachable endpoint rejects here). Rejects with an {@link EarshotError}:
   * `provider_unavailable` when the engine or SDK is missing, the key is refused or the
   * endpoint unreachable, `capacity` when no stream slot is free, `provider_error` otherwise.
   * Cloud providers reject with `providerFailure(kind, …)` so the resilient layer knows
   * whether to retry; they never retry or reconnect on their own (one owner decides).
   */
  open(options: SttStreamOptions, signal?: AbortSignal): Promise<SttStream>;
  /** Releases shared resources (warm decoders, pooled connections). Streams must be closed first. */
  close?(): Promise<void>;
}
