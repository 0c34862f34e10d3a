import { EarshotError, type Logger, silentLogger } from '@earshot/protocol';
import { EventEmitter } from 'eventemitter3';
import { failureKindOf, isRetryableFailure } from '../shared/provider-failure.js';
import type {
  ProviderTranscript,
  SttProvider,
  SttStream,
  SttStreamEvents,
  SttStreamOptions,
} from '../stt-provider.js';
import type { RetryPolicy, RetryPolicyOptions } from './retry-policy.js';
import { createSessionAudio, type SessionAudio } from './session-audio.js';
import { TranscriptJoiner } from './transcript-joiner.js';
import { UpstreamClock } from './upstream-clock.js';

/** Settings of the resilient layer; every field has a safe default. */
export interface ResilienceSettings {
  /** Backoff and retry budget, per provider. */
  readonly retry?: RetryPolicyOptions;
  /** Audio kept for replay since the last final, seconds. Default 60. */
  readonly maxReplaySeconds?: number;
  /**
   * Open the next upstream this long before the provider's stream limit, and switch at the
   * first pause after that. Default: the smaller of 15 s and a quarter of the limit.
   */
  readonly rolloverLeadSeconds?: number;
  /**
   * At `end()`, wait for the last finals until the provider has been silent this long (it may
   * be working through a backlog); for a retired upstream, at most this long. Seconds; default 10.
   */
  readonly finalTimeoutSeconds?: number;
  /**
   * An open utterance with no event from the upstream for this long while audio flows means
   * the upstream stalled: it is replaced. Seconds; default 15.
   */
  readonly stallTimeoutSeconds?: number;
  /** How long to wait for an upstream to open, seconds. Default 10. */
  readonly openTimeoutSeconds?: number;
  readonly logger?: Logger;
}

/** What happened to one resilient stream, for metrics and benchmarks. */
export interface ResilientStreamStats {
  /** The provider serving now. */
  provider: string;
  /** Upstream streams opened (1 + reconnects + rollovers). */
  upstreams: number;
  reconnects: number;
  failovers: number;
  rollovers: number;
  /** Times the upstream was closed by {@link ResilientStream.suspend} (its client away). */
  suspensions: number;
  /** Seconds of audio written again to a new upstream. */
  replayedSeconds: number;
  /** For each reconnect: ms from the failure to the new upstream having its replay. */
  reconnectGapsMs: number[];
  /** ms from the first audio written to the first interim (or final). */
  firstTranscriptMs?: number;
  /** For each final (the latest 1000): ms from when the audio at its end was written to its arrival. */
  finalLatenciesMs: number[];
  /** Keepalive messages or silence sent while the client was silent. */
  keepAlives: number;
  /** Finals dropped as duplicates after a replay or an overlap. */
  duplicateFinalsDropped: number;
  /** Finals made from the last interim because the real one never came. */
  finalsTimedOut: number;
}

/** One provider the layer may use, with its own retry budget. */
export interface ProviderSlot {
  readonly provider: SttProvider;
  readonly policy: RetryPolicy;
}

interface Upstream {
  readonly serial: number;
  readonly slot: number;
  readonly stream: SttStream;
  clock: UpstreamClock;
  /** Anything written: audio, replay, keepalive or spliced silence. */
  lastWriteMs: number;
  /** The client's audio written (live or replayed), which a working upstream answers. */
  lastAudioMs: number;
  lastEventMs: number;
  openSegment: boolean;
  draining: boolean;
}

const TICK_MS = 250;
// A rollover waits for the finals to be at most this far behind the audio, seconds.
const PAUSE_CATCH_UP_SECONDS = 3;
// Silence bytes per encoding: G.711's zero is not the byte 0.

/**
 * A stream that outlives its upstreams. It owns every policy the issue list of framework
 * failures asks for, once for all providers: reconnect with backoff under a refilling budget,
 * replay of the audio since the last final (no word lost), duplicate finals dropped by time,
 * rollover before the provider's stream limit at a pause with the next upstream pre-opened,
 * keepalive while the client is silent (the provider's message, or silence), a stall
 * watchdog, a bounded wait for the last final, and failover to the next provider when one is
 * down past its budget. Errors reach the session only when recovery fails.
 *
 * Audio is raw (pcm16, mulaw, alaw) or, for a provider that takes containers, WebM/Opus or
 * Ogg/Opus: a replay then starts at a block or page boundary behind the container header.
 */
export class ResilientStream extends EventEmitter<SttStreamEvents> implements SttStream {
  /** What happened so far. */
  readonly stats: ResilientStreamStats;
  private readonly logger: Logger;
  private readonly audio: SessionAudio;
  private readonly joiner: TranscriptJoiner;
  private readonly settings: Required<
    Omit<ResilienceSettings, 'retry' | 'logger' | 'rolloverLeadSeconds'>
  > & {
    rolloverLeadSeconds?: number;
  };
  private current: Upstream | undefined;
  private next: Upstream | undefined;
  private opening = false;
  private readonly draining = new Set<Upstream>();
  private held: Array<() => void> = [];
  private slot = 0;
  private serial = 0;
  private state: 'open' | 'suspended' | 'recovering' | 'ending' | 'closed' = 'open';
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly sleeps = new Set<{
    timer: ReturnType<typeof setTimeout>;
    resolve: () => void;
  }>();
  private firstWriteMs: number | undefined;
  private resolveClosed!: () => void;
  private readonly closed = new Promise<void>((resolve) => {
    this.resolveClosed = resolve;
  });

  private constructor(
    private readonly slots: readonly ProviderSlot[],
    private readonly options: SttStreamOptions,
    settings: ResilienceSettings,
    streamId: string,
  ) {
    super();
    this.logger = settings.logger ?? options.logger ?? silentLogger;
    this.settings = {
      maxReplaySeconds: settings.maxReplaySeconds ?? 60,
      finalTimeoutSeconds: settings.finalTimeoutSeconds ?? 10,
      stallTimeoutSeconds: settings.stallTimeoutSeconds ?? 15,
      openTimeoutSeconds: settings.openTimeoutSeconds ?? 10,
      ...(settings.rolloverLeadSeconds === undefined
        ? {}
        : { rolloverLeadSeconds: settings.rolloverLeadSeconds }),
    };
    this.audio = createSessionAudio(options.audio, this.settings.maxReplaySeconds);
    this.joiner = new TranscriptJoiner(streamId);
    this.stats = {
      provider: slots[0]!.provider.name,
      upstreams: 0,
      reconnects: 0,
      failovers: 0,
      rollovers: 0,
      suspensions: 0,
      replayedSeconds: 0,
      reconnectGapsMs: [],
      finalLatenciesMs: [],
      keepAlives: 0,
      duplicateFinalsDropped: 0,
      finalsTimedOut: 0,
    };
  }

  /**
   * Opens the first upstream, retrying and failing over as a mid-stream failure would, and
   * resolves with the stream; rejects with the last failure when every provider is down.
   */
  static async open(
    slots: readonly ProviderSlot[],
    options: SttStreamOptions,
    settings: ResilienceSettings,
    streamId: string,
    signal?: AbortSignal,
    warm?: SttStream,
  ): Promise<ResilientStream> {
    const stream = new ResilientStream(slots, options, settings, streamId);
    const upstream = warm ? stream.adopt(0, warm) : await stream.connect(signal);
    stream.current = upstream;
    stream.timer = setInterval(() => stream.tick(), TICK_MS);
    return stream;
  }

  write(chunk: Uint8Array): void {
    if (this.state === 'closed' || this.state === 'ending' || chunk.byteLength === 0) return;
    const now = Date.now();
    this.firstWriteMs ??= now;
    const seconds = this.audio.push(chunk, now);
    if (this.state === 'suspended') {
      this.reopen(); // its replay carries this chunk
      return;
    }
    const up = this.current;
    if (up === undefined || this.state === 'recovering') return; // the replay will carry it
    this.send(up, chunk, seconds, now);
    this.considerRollover(up);
  }

  finalize(): void {
    if (this.state !== 'open') return;
    this.current?.stream.finalize();
  }

  async end(): Promise<void> {
    if (this.state === 'closed') return this.closed;
    if (this.state === 'ending') return this.closed;
    const was = this.state;
    this.state = 'ending';
    if (was === 'open') void this.finish();
    // Audio since the last final is still to be heard: an upstream opens for it, then ends.
    else if (was === 'suspended') {
      if (this.audio.seconds > this.replayStart()) this.reopen();
      else this.close();
    }
    return this.closed;
  }

  /**
   * Closes the upstream while no audio will come for a while (the client went away), keeping
   * the audio since the last final. The next `write` (or `end`) opens a new upstream and
   * replays that audio first, so an utterance cut by the absence is heard whole and no
   * provider connection stays open for a client that is not there. Finals the closed upstream
   * still owed come from the new one.
   */
  suspend(): void {
    if (this.state !== 'open') return;
    const up = this.current;
    this.current = undefined;
    for (const gone of [up, this.next]) {
      if (gone === undefined) continue;
      gone.stream.removeAllListeners();
      gone.stream.abort('client away');
    }
    this.next = undefined;
    if (up) this.joiner.upstreamLost();
    this.state = 'suspended';
    this.stats.suspensions++;
    this.logger.debug({}, 'upstream closed while the client is away');
  }

  abort(reason?: unknown): void {
    if (this.state === 'closed') return;
    this.logger.debug({ reason: String(reason ?? '') }, 'resilient stream aborted');
    this.close();
  }

  // ---- upstream lifecycle -------------------------------------------------------------

  /** Opens an upstream on the current slot, failing over and backing off until one opens. */
  private async connect(signal?: AbortSignal, failedAt?: number): Promise<Upstream> {
    let lastError: EarshotError | undefined;
    for (;;) {
      if (this.state === 'closed' || signal?.aborted) {
        throw lastError ?? new EarshotError('provider_error', 'stream closed while connecting');
      }
      const slot = this.slots[this.slot]!;
      try {
        const upstream = await this.openUpstream(this.slot, signal);
        slot.policy.succeeded();
        if (failedAt !== undefined) this.stats.reconnectGapsMs.push(Date.now() - failedAt);
        return upstream;
      } catch (error) {
        lastError = EarshotError.from(error, 'provider_error');
        if (signal?.aborted) throw lastError;
        const kind = failureKindOf(lastError);
        const delay =
          isRetryableFailure(lastError) && kind !== 'auth' ? slot.policy.take() : undefined;
        this.logger.warn(
          { provider: slot.provider.name, code: lastError.code, kind, retryInMs: delay },
          'provider upstream failed to open',
        );
        if (delay === undefined) {
          if (!this.failover()) throw lastError.asFatal();
          continue;
        }
        await this.sleep(delay);
      }
    }
  }

  /** Moves to the next provider, if there is one. */
  private failover(): boolean {
    if (this.slot + 1 >= this.slots.length) return false;
    this.slot++;
    this.stats.failovers++;
    this.stats.provider = this.slots[this.slot]!.provider.name;
    this.logger.warn({ provider: this.stats.provider }, 'failing over to the next provider');
    return true;
  }

  private async openUpstream(slotIndex: number, signal?: AbortSignal): Promise<Upstream> {
    const { provider } = this.slots[slotIndex]!;
    const timeout = AbortSignal.timeout(this.settings.openTimeoutSeconds * 1000);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const stream = await provider.open(this.options, combined);
    if (this.state === 'closed') {
      stream.abort('resilient stream closed');
      throw new EarshotError('provider_error', 'stream closed while connecting');
    }
    return this.adopt(slotIndex, stream);
  }

  /** Makes an opened provider stream this session's upstream (from open, or a warm pool). */
  private adopt(slotIndex: number, stream: SttStream): Upstream {
    const now = Date.now();
    const start = this.replayStart();
    const upstream: Upstream = {
      serial: ++this.serial,
      slot: slotIndex,
      stream,
      clock: new UpstreamClock(start),
      lastWriteMs: now,
      lastAudioMs: now,
      lastEventMs: now,
      openSegment: false,
      draining: false,
    };
    this.stats.upstreams++;
    this.wire(upstream);
    return upstream;
  }

  /** Session second where a new upstream's audio starts: the end of the last final. */
  private replayStart(): number {
    return Math.min(this.joiner.finalEnd, this.audio.seconds);
  }

  /** Gives a new upstream the audio since the last final; its clock starts there. */
  private replay(up: Upstream): void {
    const replay = this.audio.replay(this.replayStart());
    for (const chunk of replay.chunks) up.stream.write(chunk);
    // The clock starts where the replay really starts (older audio may have overflowed; a
    // container replays from the block or page before).
    up.clock = new UpstreamClock(replay.start);
    up.clock.advance(replay.seconds);
    up.lastWriteMs = Date.now();
    up.lastAudioMs = up.lastWriteMs;
    this.stats.replayedSeconds += replay.seconds;
  }

  private wire(up: Upstream): void {
    const s = up.stream;
    const touch = () => {
      up.lastEventMs = Date.now();
    };
    s.on('transcript', (t) => {
      touch();
      up.openSegment = !t.isFinal;
      this.deliver(up, () => this.onTranscript(up, t));
    });
    s.on('speech_started', (e) => {
      touch();
      this.deliver(up, () =>
        this.emitOpen('speech_started', { timestamp: up.clock.toSession(e.timestamp) }),
      );
    });
    s.on('utterance_end', (e) => {
      touch();
      up.openSegment = false;
      this.deliver(up, () =>
        this.emitOpen('utterance_end', { timestamp: up.clock.toSession(e.timestamp) }),
      );
    });
    s.on('error', (error) => {
      if (!error.fatal) {
        this.emitOpen('error', error);
        return;
      }
      if (up === this.current) this.upstreamFailed(up, error);
      else this.logger.debug({ code: error.code }, 'a retired upstream failed');
    });
    s.on('close', () => {
      if (this.draining.delete(up)) this.releaseHeld();
      if (up === this.current && this.state !== 'closed' && this.state !== 'ending') {
        this.upstreamFailed(
          up,
          new EarshotError('provider_error', 'the provider closed the stream', {
            fatal: true,
            details: { failure: 'dropped', retryable: true },
          }),
        );
      }
      if (up === this.next) this.next = undefined;
    });
  }

  /** Events of the new upstream wait while a retired one still drains (spoken order). */
  private deliver(up: Upstream, event: () => void): void {
    if (up.draining || this.draining.size === 0) event();
    else this.held.push(event);
  }

  private releaseHeld(): void {
    if (this.draining.size > 0) return;
    const held = this.held;
    this.held = [];
    for (const event of held) event();
  }

  private onTranscript(up: Upstream, t: ProviderTranscript): void {
    // Every result of every session comes through here: copy its words only when they move.
    const mapped: ProviderTranscript = up.clock.isIdentity
      ? t
      : {
          ...t,
          start: up.clock.toSession(t.start),
          end: up.clock.toSession(t.end),
          words: t.words.map((w) => ({
            ...w,
            start: up.clock.toSession(w.start),
            end: up.clock.toSession(w.end),
          })),
        };
    const out = this.joiner.accept(up.serial, mapped);
    this.stats.duplicateFinalsDropped = this.joiner.duplicatesDropped;
    if (out === undefined) return;
    const now = Date.now();
    if (this.firstWriteMs !== undefined) this.stats.firstTranscriptMs ??= now - this.firstWriteMs;
    if (out.isFinal) {
      const writtenAt = this.audio.wallTimeOf(out.end);
      if (writtenAt !== undefined) keepLatest(this.stats.finalLatenciesMs, now - writtenAt);
      this.audio.trimBefore(this.replayStart());
    }
    this.emitOpen('transcript', out);
  }

  private upstreamFailed(up: Upstream, error: EarshotError): void {
    if (this.state === 'closed' || up !== this.current) return;
    const failedAt = Date.now();
    this.current = undefined;
    up.stream.removeAllListeners();
    up.stream.abort('replaced after a failure');
    this.joiner.upstreamLost();
    const wasEnding = this.state === 'ending';
    this.logger.warn(
      {
        provider: this.slots[up.slot]!.provider.name,
        code: error.code,
        kind: failureKindOf(error),
      },
      'provider upstream failed; recovering',
    );
    if (!isRetryableFailure(error) && failureKindOf(error) !== 'auth') {
      this.giveUp(error);
      return;
    }
    if (!wasEnding) this.state = 'recovering';
    void this.recover(error, failedAt, wasEnding);
  }

  private async recover(error: EarshotError, failedAt: number, wasEnding: boolean): Promise<void> {
    const slot = this.slots[this.slot]!;
    // An auth failure mid-stream (a revoked key) will not heal by retrying this provider.
    if (failureKindOf(error) === 'auth' && !this.failover()) {
      this.giveUp(error);
      return;
    }
    const delay = failureKindOf(error) === 'auth' ? 0 : slot.policy.take();
    if (delay === undefined && !this.failover()) {
      this.giveUp(error);
      return;
    }
    if (delay) await this.sleep(delay);
    let up: Upstream;
    try {
      up = await this.connect(undefined, failedAt);
    } catch (failure) {
      this.giveUp(EarshotError.from(failure, 'provider_error'));
      return;
    }
    this.stats.reconnects++;
    this.takeOver(up, wasEnding);
  }

  /** Opens a new upstream for a suspended stream (audio came, or it ends). */
  private reopen(): void {
    if (this.state === 'suspended') this.state = 'recovering';
    this.connect().then(
      (up) => this.takeOver(up, false),
      (failure: unknown) => this.giveUp(EarshotError.from(failure, 'provider_error')),
    );
  }

  /** A new upstream replaces the lost or closed one: it hears the audio since the last final. */
  private takeOver(up: Upstream, wasEnding: boolean): void {
    if (this.state === 'closed') {
      up.stream.abort('closed');
      return;
    }
    this.current = up;
    this.replay(up);
    const ending = wasEnding || this.state === 'ending';
    this.state = ending ? 'ending' : 'open';
    if (ending) void this.finish();
  }

  private giveUp(error: EarshotError): void {
    if (this.state === 'closed') return;
    const fatal = new EarshotError(
      error.code,
      `${error.message} (recovery failed after ${this.stats.reconnects} reconnects, ${this.stats.failovers} failovers)`,
      { cause: error, fatal: true, details: error.details },
    );
    this.emit('error', fatal);
    this.close();
  }

  // ---- rollover, keepalive, watchdog ------------------------------------------------------

  private considerRollover(up: Upstream): void {
    const limit = this.slots[up.slot]!.provider.capabilities.maxStreamSeconds;
    if (limit === undefined || this.state !== 'open') return;
    const lead = this.settings.rolloverLeadSeconds ?? Math.min(15, limit / 4);
    const age = up.clock.sessionSeconds;
    if (age < limit - lead) return;
    if (this.next === undefined && !this.opening) {
      this.opening = true;
      this.openUpstream(up.slot).then(
        (next) => {
          this.opening = false;
          if (this.state === 'closed') next.stream.abort('closed');
          else this.next = next;
        },
        (error: unknown) => {
          this.opening = false;
          this.logger.warn({ error: String(error) }, 'pre-opening the next upstream failed');
        },
      );
      return;
    }
    // Switch at a pause: no utterance open and the finals caught up with the audio (so the
    // next upstream's replay is short); at the latest two seconds before the limit.
    const behind = this.audio.seconds - this.replayStart();
    const atPause = !up.openSegment && behind < PAUSE_CATCH_UP_SECONDS;
    const hard = age >= limit - Math.min(2, lead / 2);
    if (this.next !== undefined && (atPause || hard)) this.rollover(up, this.next);
  }

  private rollover(old: Upstream, next: Upstream): void {
    this.next = undefined;
    old.draining = true;
    this.draining.add(old);
    if (old.openSegment) old.stream.finalize();
    void this.retire(old);
    this.current = next;
    this.stats.rollovers++;
    this.replay(next);
    this.logger.info({ rollovers: this.stats.rollovers }, 'rolled over to a new upstream');
  }

  /** Ends a retired upstream, waiting a bounded time for its last finals. */
  private async retire(up: Upstream): Promise<void> {
    const timeout = this.sleep(this.settings.finalTimeoutSeconds * 1000);
    await Promise.race([up.stream.end().catch(() => undefined), timeout]);
    if (this.draining.delete(up)) {
      up.stream.abort('retired');
      this.releaseHeld();
    }
  }

  private tick(): void {
    if (this.state === 'closed') return;
    const up = this.current;
    if (up === undefined || this.state === 'recovering') return;
    const now = Date.now();
    const { idleTimeoutSeconds } = this.slots[up.slot]!.provider.capabilities;
    if (idleTimeoutSeconds !== undefined && this.state === 'open') {
      const every = Math.min(5, idleTimeoutSeconds / 2) * 1000;
      const silentFor = now - up.lastWriteMs;
      if (silentFor >= every) this.sendKeepAlive(up, silentFor, now);
    }
    const stallMs = this.settings.stallTimeoutSeconds * 1000;
    // Stalled: audio went in lately and nothing came back for long. Keepalives do not count as
    // audio: an upstream kept alive while its client is away has nothing to answer.
    if (up.openSegment && now - up.lastEventMs > stallMs && now - up.lastAudioMs < stallMs) {
      this.upstreamFailed(
        up,
        new EarshotError('provider_error', 'the provider stopped answering', {
          fatal: true,
          details: { failure: 'timeout', retryable: true },
        }),
      );
    }
  }

  private sendKeepAlive(up: Upstream, silentForMs: number, now: number): void {
    this.stats.keepAlives++;
    if (up.stream.keepAlive) {
      up.stream.keepAlive();
      up.lastWriteMs = now;
      return;
    }
    // No keepalive message: real-time silence, which the session clock does not count. A
    // container cannot take spliced-in silence; its upstream is left to its idle timeout.
    const silence = this.audio.silence(Math.min(silentForMs / 1000, 5));
    if (silence === undefined) return;
    up.stream.write(silence.chunk);
    up.clock.insertSilence(silence.seconds);
    up.lastWriteMs = now;
  }

  private send(up: Upstream, chunk: Uint8Array, seconds: number, now: number): void {
    up.stream.write(chunk);
    up.clock.advance(seconds);
    up.lastWriteMs = now;
    up.lastAudioMs = now;
  }

  // ---- ending -----------------------------------------------------------------------------

  private async finish(): Promise<void> {
    const up = this.current;
    if (up === undefined) {
      this.close();
      return;
    }
    // A provider that is behind (a backlog of audio) still answers: its last finals are
    // waited for while it does, and for `finalTimeoutSeconds` after it falls silent.
    const timeout = this.quiet(up, this.settings.finalTimeoutSeconds * 1000).then(() => 'timeout');
    const ended = up.stream.end().then(
      () => 'ended',
      () => 'ended',
    );
    const how = await Promise.race([ended, timeout]);
    if (this.state === 'closed' || this.current !== up) return;
    // The upstream ended (or timed out) with an utterance still open: its final never came.
    // The words heard are kept as the final rather than lost.
    if (how === 'timeout') this.logger.warn({}, 'the provider did not end in time');
    const promoted = this.joiner.promoteOpenInterim();
    if (promoted) {
      this.stats.finalsTimedOut++;
      this.emit('transcript', promoted);
    }
    // Let retired upstreams deliver their last finals, then anything held behind them.
    for (const retired of [...this.draining]) retired.stream.abort('ending');
    this.draining.clear();
    this.releaseHeld();
    this.close();
  }

  /** Resolves once `up` has sent nothing for `ms`, counted from now at the earliest. */
  private async quiet(up: Upstream, ms: number): Promise<void> {
    const from = Date.now();
    for (;;) {
      const left = Math.max(from, up.lastEventMs) + ms - Date.now();
      if (left <= 0 || this.state === 'closed') return;
      await this.sleep(left);
    }
  }

  private close(): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.timer) clearInterval(this.timer);
    for (const sleep of this.sleeps) {
      clearTimeout(sleep.timer);
      sleep.resolve();
    }
    this.sleeps.clear();
    for (const up of [this.current, this.next, ...this.draining]) {
      if (up === undefined) continue;
      up.stream.removeAllListeners();
      up.stream.abort('resilient stream closed');
    }
    this.current = undefined;
    this.next = undefined;
    this.draining.clear();
    this.held = [];
    this.emit('close');
    this.resolveClosed();
    this.removeAllListeners();
  }

  private emitOpen<E extends keyof SttStreamEvents>(
    event: E,
    ...args: Parameters<SttStreamEvents[E]>
  ): void {
    if (this.state === 'closed') return;
    (this.emit as (e: E, ...a: Parameters<SttStreamEvents[E]>) => boolean)(event, ...args);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => {
          this.sleeps.delete(entry);
          resolve();
        }, ms),
        resolve,
      };
      this.sleeps.add(entry);
    });
  }
}

// Samples kept of a per-final figure: a long session's memory must not grow with its finals.
const LATENCY_SAMPLES = 1000;

/** Appends `value`, dropping the oldest past {@link LATENCY_SAMPLES}. */
function keepLatest(samples: number[], value: number): void {
  samples.push(value);
  if (samples.length > LATENCY_SAMPLES) samples.shift();
}
