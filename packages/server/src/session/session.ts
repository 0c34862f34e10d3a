import {
  type AudioFormat,
  bytesPerSecond,
  CloseCode,
  describeAudioFormat,
  EarshotError,
  type Logger,
  type Metadata,
  PROTOCOL_VERSION,
  type ServerMessageInput,
  type SessionInfoMessage,
  type SessionStatus,
  type SessionSummary,
  type StartMessage,
  type TranscriptMessage,
} from '@earshot/protocol';
import type { ProviderTranscript, SttProvider, SttStream } from '@earshot/providers';
import { isResilientStream } from '@earshot/providers/resilient';
import { AudioPipeline, type AudioPipelineOptions } from '../audio/audio-pipeline.js';
import type { ServerEvents } from '../server-events.js';
import type { StoreWriter } from '../stores/store-writer.js';
import type { SessionTokens } from '../tokens/session-tokens.js';
import type { PlayAudio } from '../transports/twilio/phone-audio.js';
import type { PlayOutcome } from '../transports/twilio/twilio-player.js';
import { type CommandOptions, SessionCommands } from './command-runner.js';
import { RealtimePace } from './realtime-pace.js';
import { type EndedSession, runSessionEndHook, type SessionEndHook } from './session-end-hook.js';
import type { HandoverState } from './session-handover.js';
import type { SessionLimitOptions } from './session-limits.js';
import { type SessionMetrics, SessionMetricsTracker } from './session-metrics.js';
import type { SessionPeer } from './session-peer.js';
import { SessionRecorder } from './session-recorder.js';

/** Why a session ended, as stored and as sent in `closed`. */
export type SessionEndReason = 'stopped' | 'ended' | 'error' | 'timeout' | 'shutdown';

/** What a {@link Session} needs from the server that owns it. */
export interface SessionDeps {
  readonly id: string;
  /** The client's connection; none for a session taken over from another node until it attaches. */
  readonly peer?: SessionPeer;
  /** Where the session's record, finals and events are written. */
  readonly writer: StoreWriter;
  /** Where the session reports what happens in it (observers, metrics). */
  readonly events: ServerEvents;
  readonly tokens: SessionTokens;
  readonly limits: SessionLimitOptions;
  readonly logger: Logger;
  /** Finds the provider for a `start` (by its optional `provider` name). */
  readonly resolveProvider: (name: string | undefined) => SttProvider | undefined;
  /** Whether the store already holds a record for this id (a session created over REST). */
  readonly preCreated: boolean;
  readonly metadata?: Metadata;
  /** How the audio pipeline decodes (e.g. Opus in process or with FFmpeg). */
  readonly audio: AudioPipelineOptions;
  /** Voice commands to detect in finals. */
  readonly commands?: CommandOptions;
  /** Run once the session has ended, with its whole transcript; its outcome is stored. */
  readonly onSessionEnd?: SessionEndHook;
  /** Called once, when the session has ended and released everything. */
  readonly onEnded: (session: Session) => void;
  /** Work that goes on after the session ended (the end hook), for the server to await on close. */
  readonly background: (work: Promise<unknown>) => void;
}

type Phase = 'created' | 'starting' | 'active' | 'ending' | 'ended';

const RESUME_TOKEN_TTL_SECONDS = 15 * 60;
// Finals kept to send again after a resume: far more than a client misses in a drop.
const MAX_RECENT_FINALS = 200;
const MAX_MISSED_MESSAGES = 200;
// Keywords passed to a provider: Deepgram takes up to 100 key terms, Google more.
const MAX_KEYWORDS = 100;

/**
 * One conversation: it owns its transport peer, provider stream, store writes, timers and
 * outbound order. Transports only translate wire formats into calls on this class; all
 * policy (ordering, storing finals before sending them, limits, ending) lives here.
 */
export class Session {
  readonly id: string;
  private created = new Date();
  private phase: Phase = 'created';
  private failed = false;
  private provider: SttProvider | undefined;
  private stream: SttStream | undefined;
  private format: AudioFormat | undefined;
  /** The `start` that opened the session, to open the provider again after a handover. */
  private startMessage: StartMessage | undefined;
  /** The opening of the provider that `start` began, while the session is `starting`. */
  private opening: Promise<void> | undefined;
  private byteRate = 0;
  /** Handovers between nodes so far: keeps segment ids of each node's provider stream apart. */
  private epoch = 0;
  /** Seconds of session audio before this node's provider stream began (after a handover). */
  private clockOffset = 0;
  private pipeline: AudioPipeline | undefined;
  private invalidAudioReported = 0;
  private audioBytes = 0;
  private ackedBytes = 0;
  private pendingAudio: Uint8Array[] = [];
  private pendingBytes = 0;
  /** A `finalize` that came while the provider was opening, for after the audio before it. */
  private finalizePending = false;
  private readonly pace: RealtimePace;
  private paceReportedAt = 0;
  private finalSegments = 0;
  private meta: Metadata;
  // Every message that depends on an earlier one (a final after its store write, `closed`
  // after the last final) goes through this chain, so the client sees them in order.
  private outbound: Promise<void> = Promise.resolve();
  private readonly timers = new Set<NodeJS.Timeout>();
  private idleTimer: NodeJS.Timeout | undefined;
  private ending: Promise<void> | undefined;
  /** The client's connection; none while a dropped session waits to be resumed. */
  private peer: SessionPeer | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  /** The last finals sent, by their sequence number, to send again to a resumed client. */
  private readonly recentFinals: { seq: number; message: TranscriptMessage }[] = [];
  /** Commands and broadcasts that came while no client was connected. */
  private missed: ServerMessageInput[] = [];
  private readonly recorder: SessionRecorder;
  /** Its voice commands: not resolved yet (`undefined`) or none (`null`). */
  private commands: SessionCommands | null | undefined;
  private readonly tracker: SessionMetricsTracker;

  constructor(private readonly deps: SessionDeps) {
    this.pace = new RealtimePace(deps.limits.maxRealtimeFactor, deps.limits.realtimeBurstSeconds);
    this.id = deps.id;
    this.peer = deps.peer;
    this.meta = { ...(deps.metadata ?? {}) };
    this.recorder = new SessionRecorder(
      this.id,
      deps.writer,
      (e) => this.sendError(e),
      deps.logger,
      // The finals are kept in memory only for an end hook, which is given them.
      deps.onSessionEnd !== undefined,
    );
    this.tracker = new SessionMetricsTracker(
      this.createdAt.getTime(),
      () => this.audioSeconds,
      () => (this.stream && isResilientStream(this.stream) ? this.stream.stats : undefined),
    );
    this.schedule(deps.limits.startTimeoutSeconds, () => {
      if (this.phase === 'created') {
        this.fail(
          new EarshotError('timeout', 'nothing started in time (no start message or first audio)', {
            fatal: true,
          }),
          CloseCode.Timeout,
          'timeout',
        );
      }
    });
  }

  /** When the session was created (on the first node, for a handed-over one). */
  get createdAt(): Date {
    return this.created;
  }

  /** The app's metadata of this session (from `POST /v1/sessions` and `start`). */
  get metadata(): Metadata {
    return this.meta;
  }

  /** The session's status as the protocol and the store name it. */
  get status(): SessionStatus {
    if (this.phase === 'ended') return this.failed ? 'failed' : 'ended';
    return this.phase === 'created' ? 'created' : 'active';
  }

  /** Seconds of audio received: the session's clock. */
  get audioSeconds(): number {
    if (this.byteRate > 0) return this.audioBytes / this.byteRate;
    // Container input (WebM, Ogg) has no fixed byte rate: count the audio it decoded to.
    return this.pipeline?.outputSeconds ?? 0;
  }

  /** Handles `start`: negotiates the format, opens the provider stream, answers `ready`. */
  async start(message: StartMessage): Promise<void> {
    if (message.resume) {
      this.resume(message.resume);
      return;
    }
    if (this.phase !== 'created') {
      this.sendError(
        new EarshotError('already_started', 'this session is already started; send stop first'),
      );
      return;
    }
    this.opening = this.open(message);
    return this.opening;
  }

  /** The part of `start` that opens the pipeline, the provider stream and the record. */
  private async open(message: StartMessage): Promise<void> {
    const provider = this.deps.resolveProvider(message.provider);
    if (!provider) {
      this.sendError(new EarshotError('invalid_message', `unknown provider "${message.provider}"`));
      return;
    }
    let pipeline: AudioPipeline;
    try {
      pipeline = new AudioPipeline(
        message.audio,
        provider.capabilities.inputFormats,
        this.pipelineSink(),
        this.deps.audio,
      );
    } catch (error) {
      this.sendError(EarshotError.from(error, 'unsupported_audio_format'));
      return;
    }
    this.pipeline = pipeline;
    this.phase = 'starting';
    this.provider = provider;
    this.format = message.audio;
    this.startMessage = message;
    this.byteRate = bytesPerSecond(message.audio) ?? 0;
    if (message.metadata) this.meta = { ...this.meta, ...message.metadata };

    if (!(await this.openStream(provider, pipeline, message))) return;

    try {
      // While the store is unreachable this resolves at once (the write waits in memory).
      await this.recorder.begin(
        {
          id: this.id,
          createdAt: this.createdAt.toISOString(),
          status: 'active',
          startedAt: new Date().toISOString(),
          provider: provider.name,
          audio: message.audio,
          language: message.language,
          metadata: this.meta,
        },
        this.deps.preCreated,
      );
    } catch (error) {
      this.fail(
        EarshotError.from(error, 'store_error').asFatal(),
        CloseCode.InternalError,
        'error',
      );
      return;
    }
    if (this.phase !== 'starting') return;

    this.phase = 'active';
    this.sendReady(false);
    this.deps.events.emit('session_started', {
      sessionId: this.id,
      provider: provider.name,
      metadata: this.meta,
    });
    const { limits } = this.deps;
    this.schedule(limits.maxSessionSeconds, () => void this.end('timeout', CloseCode.Normal));
    this.touchIdle();
    const pending = this.pendingAudio;
    this.pendingAudio = [];
    this.pendingBytes = 0;
    for (const chunk of pending) this.forward(chunk);
    if (this.finalizePending) {
      this.finalizePending = false;
      this.stream?.finalize();
    }
  }

  /**
   * Opens the provider stream for `message` and wires it. On failure the session fails; if the
   * session stopped starting meanwhile, the stream is dropped. Resolves whether it is open.
   */
  private async openStream(
    provider: SttProvider,
    pipeline: AudioPipeline,
    message: StartMessage,
  ): Promise<boolean> {
    let stream: SttStream;
    try {
      stream = await provider.open({
        audio: pipeline.plan.output,
        language: message.language,
        interimResults: message.interimResults,
        keywords: this.recognitionKeywords(provider, message.keywords),
        diarize: message.diarize,
        providerOptions: message.providerOptions,
        logger: this.deps.logger,
      });
    } catch (error) {
      const wrapped = EarshotError.from(error, 'provider_error');
      const code = wrapped.code === 'capacity' ? CloseCode.TryAgainLater : CloseCode.ProviderFailed;
      this.fail(
        new EarshotError(wrapped.code, wrapped.message, { fatal: true, cause: error }),
        code,
        'error',
      );
      return false;
    }
    if (this.phase !== 'starting') {
      // The peer left or the session was ended while the provider was opening.
      stream.abort();
      pipeline.destroy();
      return false;
    }
    this.stream = stream;
    this.wireStream(stream);
    return true;
  }

  /**
   * Hands this session over to another node (a client resumed there): the provider flushes
   * what it heard into finals (stored, kept for the new node to send), the connection still
   * attached is closed with 4002, and the session leaves this node without ending. Resolves
   * the state the other node continues from, or `undefined` when it cannot be handed over
   * (not resumable, or container audio, whose stream cannot be restarted mid-way).
   */
  async handOver(): Promise<HandoverState | undefined> {
    if (!this.resumable || this.byteRate === 0 || !this.startMessage) return undefined;
    this.phase = 'ending';
    this.ending = Promise.resolve();
    this.clearTimers();
    await this.drainProvider();
    const old = this.peer;
    this.peer = undefined;
    old?.close(CloseCode.Superseded, 'resumed on another node');
    this.phase = 'ended';
    this.deps.onEnded(this);
    this.deps.events.emit('session_handed_over', {
      sessionId: this.id,
      provider: this.provider?.name,
    });
    this.deps.logger.info({ sessionId: this.id }, 'session handed over to another node');
    return {
      sessionId: this.id,
      createdAt: this.createdAt.toISOString(),
      start: this.startMessage,
      metadata: this.meta,
      audioBytes: this.audioBytes,
      finalSegments: this.finalSegments,
      epoch: this.epoch,
      recentFinals: this.recentFinals,
      missed: this.missed,
      transcript: this.recorder.transcript,
      metrics: this.tracker.carried(),
    };
  }

  /**
   * Continues a session another node handed over: opens the provider again from where that
   * node stopped (the session clock and segment numbering go on), and waits for the client's
   * `start` with `resume`. Resolves whether the session is live here.
   */
  async continueFrom(state: HandoverState): Promise<boolean> {
    const provider = this.deps.resolveProvider(state.start.provider);
    if (!provider || this.phase !== 'created') return false;
    let pipeline: AudioPipeline;
    try {
      pipeline = new AudioPipeline(
        state.start.audio,
        provider.capabilities.inputFormats,
        this.pipelineSink(),
        this.deps.audio,
      );
    } catch {
      return false;
    }
    this.pipeline = pipeline;
    this.phase = 'starting';
    this.provider = provider;
    this.format = state.start.audio;
    this.startMessage = state.start;
    this.byteRate = bytesPerSecond(state.start.audio) ?? 0;
    this.meta = { ...state.metadata };
    this.created = new Date(state.createdAt);
    this.audioBytes = state.audioBytes;
    this.ackedBytes = state.audioBytes;
    this.finalSegments = state.finalSegments;
    this.epoch = state.epoch + 1;
    this.clockOffset = this.byteRate > 0 ? state.audioBytes / this.byteRate : 0;
    this.recentFinals.push(...state.recentFinals);
    this.missed = [...state.missed];
    this.recorder.carryOver(state.transcript);
    this.tracker.carryOver(state.metrics);
    if (!(await this.openStream(provider, pipeline, state.start))) return false;
    this.phase = 'active';
    const { limits } = this.deps;
    const elapsed = (Date.now() - this.created.getTime()) / 1000;
    this.schedule(
      Math.max(1, limits.maxSessionSeconds - elapsed),
      () => void this.end('timeout', CloseCode.Normal),
    );
    this.touchIdle();
    return true;
  }

  /**
   * Completes a resume on the connection {@link attach} gave this session: answers `ready`
   * (`resumed: true`), then `ack` with the audio bytes it holds, from which the client sends
   * again what it had sent, then the finals the client has not had and what it missed.
   */
  private resume(resume: NonNullable<StartMessage['resume']>): void {
    const claims = this.deps.tokens.verify(resume.resumeToken, 'resume');
    if (resume.sessionId !== this.id || claims?.sessionId !== this.id || !this.resumable) {
      this.sendError(
        new EarshotError(
          this.phase === 'created' ? 'session_not_found' : 'session_ended',
          'this session cannot be resumed here: connect with its resume token as the token',
        ),
      );
      return;
    }
    this.tracker.resumed();
    this.sendReady(true);
    this.send({ type: 'ack', audioBytes: this.audioBytes });
    this.ackedBytes = this.audioBytes;
    const from = resume.finals ?? 0;
    for (const final of this.recentFinals) if (final.seq >= from) this.send(final.message);
    const missed = this.missed;
    this.missed = [];
    for (const message of missed) this.send(message);
    this.deps.logger.info(
      { sessionId: this.id, audioBytes: this.audioBytes, clientBytes: resume.audioBytes },
      'session resumed',
    );
  }

  /** Sends a message to the client; while none is connected, keeps what a resume must deliver. */
  private send(message: ServerMessageInput): void {
    this.deps.events.emit('session_message', { sessionId: this.id, message });
    if (this.peer) {
      this.peer.send(message);
      return;
    }
    // Finals are sent again from `recentFinals`; interims, acks and events are moot by then.
    if (message.type === 'command' || message.type === 'broadcast') {
      if (this.missed.length < MAX_MISSED_MESSAGES) this.missed.push(message);
    }
  }

  /** Answers `ready`, with a fresh resume token. */
  private sendReady(resumed: boolean): void {
    const { token: resumeToken } = this.deps.tokens.mint(
      this.id,
      'resume',
      RESUME_TOKEN_TTL_SECONDS,
    );
    const { limits } = this.deps;
    const format = this.format!;
    this.send({
      type: 'ready',
      protocolVersion: PROTOCOL_VERSION,
      sessionId: this.id,
      resumeToken,
      audio: format,
      provider: this.provider!.name,
      providerAudio: this.pipeline!.plan.output,
      conversion: this.pipeline!.describe(),
      resumed,
      limits: {
        maxFrameBytes: limits.maxFrameBytes,
        maxSessionSeconds: limits.maxSessionSeconds,
        idleTimeoutSeconds: limits.idleTimeoutSeconds,
      },
    });
  }

  /** Handles one binary frame of audio. */
  audio(chunk: Uint8Array): void {
    if (!this.withinPace(chunk)) return;
    switch (this.phase) {
      case 'created':
        this.sendError(
          new EarshotError('not_started', 'audio arrived before start; send start first'),
        );
        return;
      case 'starting':
        if (this.pendingBytes + chunk.byteLength > this.deps.limits.maxPendingAudioBytes) {
          this.sendError(
            new EarshotError('rate_limited', 'too much audio before ready; audio dropped'),
          );
          return;
        }
        // Kept until the provider is open, so a client may stream right after `start`.
        this.pendingAudio.push(chunk);
        this.pendingBytes += chunk.byteLength;
        return;
      case 'active':
        this.forward(chunk);
        this.touchIdle();
        return;
      default:
        return; // ending: the provider no longer takes audio; dropping it is the contract of stop
    }
  }

  /** Whether `chunk` keeps the audio within the allowed pace; reports (at most once a second) when not. */
  private withinPace(chunk: Uint8Array): boolean {
    if (this.byteRate <= 0 || this.pace.admit(chunk.byteLength / this.byteRate)) return true;
    const now = Date.now();
    if (now - this.paceReportedAt >= 1000) {
      this.paceReportedAt = now;
      this.sendError(
        new EarshotError(
          'rate_limited',
          `audio faster than ${this.deps.limits.maxRealtimeFactor}× real time; audio dropped`,
        ),
      );
    }
    return false;
  }

  /** Handles `finalize`: the provider flushes the current utterance. */
  finalize(): void {
    if (this.phase === 'created') {
      this.sendError(new EarshotError('not_started', 'finalize before start'));
      return;
    }
    // While the provider opens, audio waits; so does the finalize that comes after it.
    if (this.phase === 'starting') this.finalizePending = true;
    else this.stream?.finalize();
  }

  /** Handles `stop`: every remaining final is stored and sent, then `closed`, then close 1000. */
  stop(): Promise<void> {
    if (this.phase === 'created') {
      this.sendError(new EarshotError('not_started', 'stop before start'));
      return Promise.resolve();
    }
    // A stop right after start waits for the provider to open: the audio sent meanwhile is
    // transcribed, not dropped.
    if (this.phase === 'starting' && this.opening) {
      return this.opening.then(() => this.end('stopped', CloseCode.Normal));
    }
    return this.end('stopped', CloseCode.Normal);
  }

  /** Handles `ping`. */
  ping(id?: string | number): void {
    this.send({ type: 'pong', id, timestamp: Date.now() });
  }

  /** Handles a `session_info` request. */
  sendInfo(): void {
    this.send(this.info());
  }

  /** The session's current figures. */
  info(): SessionInfoMessage {
    return {
      type: 'session_info',
      sessionId: this.id,
      status: this.status,
      provider: this.provider?.name,
      audio: this.format,
      audioBytes: this.audioBytes,
      audioSeconds: this.audioSeconds,
      finalSegments: this.finalSegments,
      startedAt: this.createdAt.toISOString(),
      metrics: this.tracker.snapshot(),
    };
  }

  /** The session's figures so far. */
  metrics(): SessionMetrics {
    return this.tracker.snapshot();
  }

  /**
   * Plays audio to the caller, on a transport that can (a bidirectional Twilio call): any
   * PCM, WAV or MP3 is converted. Resolves `played` once the caller heard it, `interrupted` if
   * the caller spoke over it (barge-in) or the call ended. Rejects with `invalid_request` on a
   * transport that cannot play.
   */
  play(audio: PlayAudio): Promise<PlayOutcome> {
    if (this.phase === 'ended' || this.ending) {
      return Promise.reject(new EarshotError('session_ended', 'the session has ended'));
    }
    if (!this.peer?.play) {
      return Promise.reject(
        new EarshotError('invalid_request', 'this session’s transport cannot play audio'),
      );
    }
    return this.peer.play(audio);
  }

  /** Records an event of the transport (a key pressed on a call) with the session. */
  noteEvent(type: 'dtmf', data: Readonly<Record<string, unknown>>): void {
    this.recorder.event(type, data);
  }

  /** Sends an application broadcast to this session's client. */
  broadcast(payload: unknown): void {
    if (this.phase === 'ended') return;
    this.send({ type: 'broadcast', payload });
    this.recorder.event('broadcast', { payload });
  }

  /** Tells the client about an error; unless it is fatal, the session goes on. */
  sendError(error: EarshotError): void {
    this.deps.logger.debug({ sessionId: this.id, code: error.code }, error.message);
    const wire = error.toWire();
    this.send(wire);
    this.tracker.error();
    // A store error is not stored: it is the store that failed.
    if (!error.code.startsWith('store_')) this.recorder.event('error', wire);
  }

  /**
   * Ends the session: flushes the provider so its last finals are stored (and sent, when the
   * client is still there), records the summary, sends `closed` and closes the connection.
   * Safe to call more than once; every call waits for the same end.
   */
  end(reason: SessionEndReason, closeCode: number = CloseCode.Normal): Promise<void> {
    this.ending ??= this.runEnd(reason, closeCode, true);
    return this.ending;
  }

  /**
   * The transport's connection `peer` is gone. A started session without `stop` waits
   * `resumeGraceSeconds` for the client to resume it (its finals are kept; its provider
   * connection closes until audio comes again); otherwise, or after that, it ends keeping what
   * was said.
   */
  peerGone(peer: SessionPeer): void {
    if (peer !== this.peer) return; // a connection a resume already replaced
    this.peer = undefined;
    const grace = peer.resumable === false ? 0 : this.deps.limits.resumeGraceSeconds;
    if (this.phase !== 'active' || this.ending || grace <= 0) {
      this.endDisconnected();
      return;
    }
    this.deps.logger.info(
      { sessionId: this.id, graceSeconds: grace },
      'client gone; awaiting resume',
    );
    // The client is away, not idle: the grace period is the one limit now.
    this.idleTimer = this.unschedule(this.idleTimer);
    this.graceTimer = this.schedule(grace, () => this.endDisconnected());
    // A provider connection must not outlive its client: it is paid for while open, and an
    // upstream left running after a dropped call is a known leak of speech relays. It closes
    // now, keeping the audio since the last final; the client's next audio opens a new one
    // that hears it again, so an utterance cut by the drop is transcribed whole.
    if (this.stream && isResilientStream(this.stream)) this.stream.suspend();
  }

  /** Whether a client may resume this session now. */
  get resumable(): boolean {
    return this.phase === 'active' && !this.ending;
  }

  /**
   * A new connection resumes this session (its resume token was checked at the upgrade). A
   * connection still attached (the old one, half-open after a network drop) is closed with
   * 4002. The client's `start.resume` then completes the resume.
   */
  attach(peer: SessionPeer): boolean {
    if (!this.resumable) return false;
    const old = this.peer;
    this.peer = peer;
    old?.close(CloseCode.Superseded, 'resumed on a newer connection');
    this.graceTimer = this.unschedule(this.graceTimer);
    this.touchIdle();
    return true;
  }

  private endDisconnected(): void {
    this.ending ??= this.runEnd('stopped', CloseCode.Normal, false, 'disconnected');
  }

  private async runEnd(
    reason: SessionEndReason,
    closeCode: number,
    peerPresent: boolean,
    storedReason: string = reason,
  ): Promise<void> {
    const wasStarted = this.phase === 'active' || this.phase === 'starting';
    this.phase = 'ending';
    this.clearTimers();
    await this.drainProvider();
    const summary = this.summary();
    const metrics = this.tracker.snapshot();
    if (wasStarted) {
      await this.recorder.end({
        status: this.failed ? 'failed' : 'ended',
        endedAt: new Date().toISOString(),
        endReason: storedReason,
        summary,
        metrics,
      });
    } else if (this.deps.preCreated) {
      // Minted over REST and connected, but never started: its record must not stay
      // `created`, or its token could connect again.
      await this.recorder.end({
        status: 'ended',
        endedAt: new Date().toISOString(),
        endReason: storedReason,
      });
    }
    this.phase = 'ended';
    if (peerPresent) {
      this.send({ type: 'closed', reason, summary });
      this.peer?.close(closeCode, reason);
    }
    if (wasStarted) {
      this.deps.events.emit('session_ended', {
        sessionId: this.id,
        provider: this.provider?.name,
        reason: storedReason,
        status: this.failed ? 'failed' : 'ended',
        metrics,
      });
    }
    if (wasStarted && this.deps.onSessionEnd) {
      this.runEndHook(this.deps.onSessionEnd, { reason: storedReason, summary, metrics });
    }
    this.deps.onEnded(this);
  }

  /**
   * Flushes the pipeline and the provider (within `stopTimeoutSeconds`), then waits until every
   * final they gave is stored and sent.
   */
  private async drainProvider(): Promise<void> {
    const stream = this.stream;
    if (stream && this.pipeline) {
      // What the pipeline still holds (a resampler's tail, queued Opus packets) is audio too.
      await this.pipeline.end().catch((error: unknown) => {
        this.deps.logger.warn({ sessionId: this.id, err: error }, 'audio pipeline failed to flush');
      });
    }
    this.pipeline?.destroy();
    if (stream) {
      const deadline = this.deps.limits.stopTimeoutSeconds * 1000;
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), deadline);
      });
      const outcome = await Promise.race([stream.end().then(() => 'done' as const), timedOut]);
      clearTimeout(timer);
      if (outcome === 'timeout') {
        this.deps.logger.warn(
          { sessionId: this.id },
          'provider did not flush in time; aborting it',
        );
        stream.abort();
      }
    }
    await this.outbound;
  }

  /** Runs the app's end hook after the session is over; its outcome is stored as an event. */
  private runEndHook(
    hook: SessionEndHook,
    end: Pick<EndedSession, 'reason' | 'summary' | 'metrics'>,
  ): void {
    const segments = this.recorder.transcript;
    const session: EndedSession = {
      sessionId: this.id,
      metadata: this.meta,
      transcript: segments
        .map((s) => s.text)
        .filter(Boolean)
        .join(' '),
      segments,
      ...end,
    };
    this.deps.background(
      runSessionEndHook(hook, session, this.deps.logger).then((outcome) =>
        this.recorder.event('session_end_hook', outcome),
      ),
    );
  }

  private fail(error: EarshotError, closeCode: number, reason: SessionEndReason): void {
    if (this.ending || this.phase === 'ending' || this.phase === 'ended') return;
    this.failed = true;
    this.deps.logger.warn({ sessionId: this.id, code: error.code }, error.message);
    this.send(error.toWire());
    this.tracker.error();
    this.recorder.event('error', error.toWire());
    void this.end(reason, closeCode);
  }

  private forward(chunk: Uint8Array): void {
    this.audioBytes += chunk.byteLength;
    this.tracker.audio(chunk.byteLength);
    this.pipeline?.write(chunk);
    // Acknowledge about once per second of audio: enough for a client to trim its replay
    // buffer, without a message per frame.
    const step = this.byteRate > 0 ? this.byteRate : 32_000;
    if (this.audioBytes - this.ackedBytes >= step) {
      this.ackedBytes = this.audioBytes;
      this.send({ type: 'ack', audioBytes: this.audioBytes });
    }
  }

  private pipelineSink() {
    return {
      data: (bytes: Uint8Array) => this.stream?.write(bytes),
      error: (error: EarshotError) => {
        if (error.fatal) {
          // Audio the client got wrong is 1003; a decoder that kept dying is the server's (1011).
          const code =
            error.code === 'audio_decoder_failed'
              ? CloseCode.InternalError
              : CloseCode.UnsupportedData;
          this.fail(error, code, 'error');
          return;
        }
        // Bad bytes tend to come in runs; a few reports tell the client, a flood would not.
        if (this.invalidAudioReported++ < 3) this.sendError(error);
      },
    };
  }

  private wireStream(stream: SttStream): void {
    stream.on('transcript', (t) => this.enqueue(() => this.deliverTranscript(t)));
    stream.on('speech_started', (e) =>
      this.enqueue(async () => this.send({ type: 'speech_started', timestamp: e.timestamp })),
    );
    stream.on('utterance_end', (e) =>
      this.enqueue(async () =>
        this.send({
          type: 'utterance_end',
          timestamp: e.timestamp,
          segmentId: e.segmentId,
        }),
      ),
    );
    stream.on('error', (error) => {
      this.deps.events.emit('provider_error', {
        sessionId: this.id,
        provider: this.provider?.name ?? 'unknown',
        code: error.code,
        fatal: error.fatal,
      });
      if (error.fatal) this.fail(error, CloseCode.ProviderFailed, 'error');
      else this.enqueue(async () => this.sendError(error));
    });
    stream.on('close', () => {
      // What the resilient layer went through (reconnects, replay, latencies), for operators.
      if (isResilientStream(stream)) {
        this.deps.logger.info(
          { sessionId: this.id, provider: stream.stats },
          'provider stream closed',
        );
      }
      if (this.phase === 'active') {
        this.fail(
          new EarshotError('provider_error', 'the provider closed the stream', { fatal: true }),
          CloseCode.ProviderFailed,
          'error',
        );
      }
    });
  }

  private async deliverTranscript(t: ProviderTranscript): Promise<void> {
    // After a handover this node's provider stream began mid-session: its times and segment
    // ids are moved onto the session's clock and numbering.
    const at = (seconds: number) => seconds + this.clockOffset;
    const message: TranscriptMessage = {
      type: 'transcript' as const,
      segmentId:
        this.epoch === 0 ? `${this.id}:${t.segmentId}` : `${this.id}:h${this.epoch}:${t.segmentId}`,
      isFinal: t.isFinal,
      text: t.text,
      confidence: t.confidence,
      words:
        this.clockOffset === 0
          ? // Shared with the provider's result, which is not used again: no copy per result.
            (t.words as TranscriptMessage['words'])
          : t.words.map((w) => ({ ...w, start: at(w.start), end: at(w.end) })),
      start: at(t.start),
      end: at(t.end),
      speaker: t.speaker,
    };
    const latencyMs = this.tracker.transcript(t.isFinal, message.end);
    if (t.isFinal) {
      this.deps.events.emit('final_transcript', {
        sessionId: this.id,
        provider: this.provider?.name ?? 'unknown',
        latencyMs,
      });
    }
    if (!t.isFinal) {
      if (this.phase === 'active') {
        this.send(message);
        this.voiceCommands()?.interim(message.segmentId, message.text);
      }
      return;
    }
    const seq = this.finalSegments++;
    await this.recorder.final({
      segmentId: message.segmentId,
      seq,
      text: message.text,
      start: message.start,
      end: message.end,
      confidence: message.confidence,
      speaker: message.speaker,
      words: message.words,
      createdAt: new Date().toISOString(),
    });
    this.recentFinals.push({ seq, message });
    if (this.recentFinals.length > MAX_RECENT_FINALS) this.recentFinals.shift();
    this.send(message);
    await this.voiceCommands()?.final(message.segmentId, message.text, message, {
      sessionId: this.id,
      metadata: this.meta,
      store: this.deps.writer.store,
      session: this,
    });
  }

  /**
   * The client's keywords, then (where the provider boosts keywords) the vocabulary of the
   * session's voice commands, so the wake word and drug names are heard as themselves.
   */
  private recognitionKeywords(provider: SttProvider, asked: readonly string[]): string[] {
    const vocabulary = provider.capabilities.keywordBoosting
      ? (this.voiceCommands()?.vocabulary ?? [])
      : [];
    return [...new Set([...asked, ...vocabulary])].slice(0, MAX_KEYWORDS);
  }

  /** The session's voice commands, resolved from its metadata once it has started. */
  private voiceCommands(): SessionCommands | undefined {
    if (this.commands === undefined) {
      this.commands =
        SessionCommands.for(
          this.deps.commands,
          this.meta,
          {
            send: (m) => this.send(m),
            record: (m) => this.recorder.event('command', m),
          },
          this.deps.logger,
        ) ?? null;
    }
    return this.commands ?? undefined;
  }

  private enqueue(task: () => Promise<void>): void {
    this.outbound = this.outbound.then(task).catch((error: unknown) => {
      this.deps.logger.error({ sessionId: this.id, err: error }, 'outbound task failed');
    });
  }

  private summary(): SessionSummary {
    return {
      audioSeconds: this.audioSeconds,
      finalSegments: this.finalSegments,
      durationSeconds: (Date.now() - this.createdAt.getTime()) / 1000,
    };
  }

  private touchIdle(): void {
    if (this.idleTimer) this.idleTimer.refresh();
    else {
      this.idleTimer = this.schedule(this.deps.limits.idleTimeoutSeconds, () => {
        this.sendError(new EarshotError('timeout', 'no audio for too long', { fatal: true }));
        void this.end('timeout', CloseCode.Timeout);
      });
    }
  }

  private schedule(seconds: number, action: () => void): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      action();
    }, seconds * 1000);
    timer.unref();
    this.timers.add(timer);
    return timer;
  }

  /** Cancels one timer made by {@link schedule}; returns `undefined` to clear its field. */
  private unschedule(timer: NodeJS.Timeout | undefined): undefined {
    if (timer) {
      clearTimeout(timer);
      this.timers.delete(timer);
    }
    return undefined;
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.idleTimer = undefined;
  }

  /** A short description for logs. */
  toString(): string {
    return `Session(${this.id}, ${this.phase}${this.format ? `, ${describeAudioFormat(this.format)}` : ''})`;
  }
}
