import {
  type AckMessage,
  type AudioFormat,
  type BroadcastMessage,
  type ClosedMessage,
  type CommandMessage,
  EarshotError,
  type Logger,
  type PingMessage,
  type PongMessage,
  parseServerMessage,
  type ReadyMessage,
  type ServerMessage,
  type SessionInfoMessage,
  type SpeechStartedMessage,
  type StartMessage,
  type StartMessageInput,
  StartMessageSchema,
  silentLogger,
  type TranscriptMessage,
  type UtteranceEndMessage,
} from '@earshot/protocol';
import { EventEmitter } from 'eventemitter3';
import WebSocket from 'isomorphic-ws';
import { AudioReplayBuffer } from './audio-replay-buffer.js';
import { type ClientState, canTransition, isTerminalState } from './client-state.js';
import { errorFromClose, errorFromConnectFailure, redactToken } from './connection-errors.js';
import { type ReconnectOptions, reconnectDelayMs } from './reconnect-policy.js';
import { type TranscriptIteratorOptions, transcriptIterator } from './transcript-iterator.js';

/**
 * A WebSocket constructor: the browser's `WebSocket`, `ws`'s, or a test double. The third
 * argument carries `ws` options on Node; browsers ignore it.
 */
export type WebSocketConstructor = new (
  url: string,
  protocols?: string | string[],
  options?: { perMessageDeflate?: boolean },
) => unknown;

/** The part of the WHATWG WebSocket API the client uses; `ws` and browsers both provide it. */
interface SocketLike {
  readonly readyState: number;
  readonly bufferedAmount: number;
  binaryType: string;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: string | ArrayBufferLike | ArrayBufferView): void;
  close(code?: number, reason?: string): void;
}

// WebSocket.readyState values (the same in every implementation).
const CONNECTING = 0;
const OPEN = 1;

// Closes that a network drop, a proxy or a restarting server produce: worth resuming after.
// Anything else (a session the server ended, bad audio, a timeout) is the session's end.
const RESUMABLE_CLOSE_CODES: ReadonlySet<number> = new Set([
  1001, 1005, 1006, 1011, 1012, 1013, 1014,
]);
// Refusals of a resume that waiting will not change.
const FINAL_REFUSALS: ReadonlySet<string> = new Set([
  'unauthorized',
  'forbidden',
  'not_found',
  'session_not_found',
  'session_ended',
]);
const DEFAULT_MAX_REPLAY_BYTES = 4 * 1024 * 1024;
const DEFAULT_HIGH_WATER_MARK = 512 * 1024;
// How often audio held back by a full socket buffer is tried again (browsers have no drain event).
const DRAIN_POLL_MS = 20;
// A reconnected socket that has not completed the resume (ready, then ack) by then is given up.
const RESUME_TIMEOUT_MS = 10_000;

/** A token, or a function that fetches one (from your backend, which calls `POST /v1/sessions`). */
export type TokenSource = string | (() => string | Promise<string>);

/** Options of {@link EarshotClient}. */
export interface EarshotClientOptions {
  /** The server's canonical endpoint, e.g. `wss://example.com/v1/listen`. */
  url: string;
  /**
   * A token for the server's authentication, sent as the `token` query parameter (browsers
   * cannot set headers on a WebSocket), or a function that fetches one, called for every new
   * session. Prefer short-lived session tokens from your backend (`POST /v1/sessions`): URLs
   * end up in logs, and provider keys must never reach a browser. A resumed session uses the
   * resume token its `ready` carried instead.
   */
  token?: TokenSource;
  /**
   * Resume the session when the connection drops mid-session: reconnect with backoff and
   * jitter, send again the audio the server had not acknowledged, and drop finals already
   * received. `false` turns it off. On by default.
   */
  reconnect?: ReconnectOptions | false;
  /**
   * Most audio kept for a resume (bytes sent but not acknowledged, plus audio held back).
   * Default 4 MiB: about two minutes of 16 kHz PCM16. Beyond it the oldest goes, and a resume
   * that needed it reports `audio_lost`.
   */
  maxReplayBytes?: number;
  /**
   * Bytes the socket may buffer before audio is held back in the client (backpressure on a
   * slow link). Default 512 KiB.
   */
  highWaterMark?: number;
  /** The WebSocket implementation. Defaults to `isomorphic-ws` (the browser's, or `ws` on Node). */
  WebSocket?: WebSocketConstructor;
  /** A pino-compatible logger. Silent by default. */
  logger?: Logger;
}

/** What {@link EarshotClient.start} takes: the `start` message without its `type`. */
export type StartOptions = Omit<StartMessageInput, 'type'> & {
  /** Gives up waiting for `ready`: the socket is closed and `start` rejects with the reason. */
  signal?: AbortSignal;
};

/** The socket closed: its close code and reason. */
export interface CloseInfo {
  code: number;
  reason: string;
}

/**
 * Events of {@link EarshotClient}, as a typed map for eventemitter3. Server messages keep their
 * wire names (`speech_started`, `session_info`, …).
 */
export interface EarshotClientEvents {
  /** The state changed. */
  state: [state: ClientState, previous: ClientState];
  /** The server accepted `start`: audio may flow. */
  ready: [message: ReadyMessage];
  /** The session was resumed on a new connection after a drop (`ready` with `resumed: true`). */
  resumed: [message: ReadyMessage];
  /** An interim (`isFinal: false`) or final transcript. */
  transcript: [message: TranscriptMessage];
  /** The provider heard speech begin. */
  speech_started: [message: SpeechStartedMessage];
  /** The current utterance is over. */
  utterance_end: [message: UtteranceEndMessage];
  /** A voice command was detected. */
  command: [message: CommandMessage];
  /** The server holds this much audio. */
  ack: [message: AckMessage];
  /**
   * Something went wrong: a server `error` message, a frame the client could not parse, or the
   * connection failing. `error.fatal` says whether the session is over. Never thrown.
   */
  error: [error: EarshotError];
  /** The session's figures, asked for with {@link EarshotClient.requestSessionInfo}. */
  session_info: [message: SessionInfoMessage];
  /** Answer to {@link EarshotClient.ping}. */
  pong: [message: PongMessage];
  /** An application message pushed by the server admin. */
  broadcast: [message: BroadcastMessage];
  /** The session is over; every final has arrived. The socket closes next. */
  closed: [message: ClosedMessage];
  /** The socket closed. */
  close: [info: CloseInfo];
}

interface Deferred<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

function deferred<T>(): Deferred<T> & { promise: Promise<T> } {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The reason an aborted signal carries, or a standard `AbortError` if it carries none. */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('This operation was aborted', 'AbortError');
}

/**
 * A connection to an Earshot server speaking protocol v1 on `/v1/listen`, in browsers and Node.
 * It sends `start`, binary audio frames, `finalize` and `stop`, and emits what the server sends
 * as typed events; {@link EarshotClient.transcripts} reads finals as an async iterator.
 *
 * @example
 * ```ts
 * const client = new EarshotClient({ url: 'wss://example.com/v1/listen', token });
 * client.on('transcript', (t) => t.isFinal && console.log(t.text));
 * await client.start({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } });
 * for (const chunk of chunks) client.sendAudio(chunk);
 * const { summary } = await client.stop();
 * ```
 */
export class EarshotClient extends EventEmitter<EarshotClientEvents> {
  /** The endpoint, without the token. */
  readonly url: string;
  readonly #token: TokenSource | undefined;
  readonly #WebSocket: WebSocketConstructor;
  readonly #logger: Logger;
  readonly #reconnect: ReconnectOptions | false;
  readonly #highWaterMark: number;
  /** Every byte of audio of this session not yet acknowledged by the server. */
  readonly #replay: AudioReplayBuffer;

  #state: ClientState = 'idle';
  #socket: SocketLike | undefined;
  #ready: ReadyMessage | undefined;
  #closedMessage: ClosedMessage | undefined;
  #failure: EarshotError | undefined;
  #closeRequested = false;
  /** Session offset up to which audio has been handed to the socket. */
  #bytesSent = 0;
  #acknowledgedBytes = 0;
  #pingCounter = 0;
  #drainTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `start` of this session, sent again (with `resume`) after a drop. */
  #startMessage: StartMessage | undefined;
  #seenFinals = new Set<string>();
  #reconnectAttempt = 0;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  /** After a resumed `ready`, the `ack` that says where to send audio from. */
  #awaitingResumeAck = false;
  /** `stop` was asked for while the connection was down: sent once resumed. */
  #stopAfterResume = false;

  #pendingConnect: Deferred<void> | undefined;
  #connectPromise: Promise<void> | undefined;
  #pendingStart: Deferred<ReadyMessage> | undefined;
  #pendingStops: Deferred<ClosedMessage>[] = [];
  #pendingInfo: Deferred<SessionInfoMessage>[] = [];
  #pendingPings = new Map<string, Deferred<PongMessage>>();
  #pendingCloses: Deferred<void>[] = [];

  constructor(options: EarshotClientOptions) {
    super();
    this.url = options.url;
    this.#token = options.token;
    this.#WebSocket = options.WebSocket ?? WebSocket;
    this.#logger = options.logger ?? silentLogger;
    this.#reconnect = options.reconnect ?? {};
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.#replay = new AudioReplayBuffer(options.maxReplayBytes ?? DEFAULT_MAX_REPLAY_BYTES);
  }

  /** Where the client is in its life; see {@link ClientState}. */
  get state(): ClientState {
    return this.#state;
  }

  /** The session id from the last `ready`, kept after close for a later resume. */
  get sessionId(): string | undefined {
    return this.#ready?.sessionId;
  }

  /** The resume token from the last `ready`. */
  get resumeToken(): string | undefined {
    return this.#ready?.resumeToken;
  }

  /** The last `ready` message: negotiated audio format, provider, limits. */
  get readyMessage(): ReadyMessage | undefined {
    return this.#ready;
  }

  /** The audio format the server accepted, once `ready`. */
  get audioFormat(): AudioFormat | undefined {
    return this.#ready?.audio;
  }

  /** The `closed` message, once the session is over. */
  get closedMessage(): ClosedMessage | undefined {
    return this.#closedMessage;
  }

  /** Why the session failed, when {@link state} is `error`. */
  get failure(): EarshotError | undefined {
    return this.#failure;
  }

  /** Bytes of audio handed to the socket in this session. */
  get bytesSent(): number {
    return this.#bytesSent;
  }

  /** Bytes of audio given to {@link sendAudio} in this session (sent, or held back). */
  get bytesAccepted(): number {
    return this.#replay.position;
  }

  /** Bytes of audio the server has acknowledged holding (the last `ack`). */
  get acknowledgedBytes(): number {
    return this.#acknowledgedBytes;
  }

  /**
   * Bytes queued in the socket but not yet sent: a sender should wait while this grows,
   * rather than let memory grow without bound on a slow link.
   */
  get bufferedAmount(): number {
    return (this.#socket?.bufferedAmount ?? 0) + (this.#replay.position - this.#bytesSent);
  }

  /**
   * Opens the socket. Resolves once it is open; rejects with an {@link EarshotError} if it
   * cannot be opened, or with the signal's reason if aborted. Calling it while already open
   * resolves at once.
   */
  connect(signal?: AbortSignal): Promise<void> {
    if (this.#state === 'open' || this.#state === 'streaming') return Promise.resolve();
    if (this.#state === 'connecting' && this.#pendingConnect) {
      return this.#withAbort(this.#connectPromise as Promise<void>, signal);
    }
    if (this.#state === 'stopping') {
      return Promise.reject(new EarshotError('session_ended', 'the session is stopping'));
    }
    if (signal?.aborted) return Promise.reject(abortReason(signal));

    // A fatal server error leaves the old socket closing; it must not outlive this connect.
    this.#detachSocket();
    this.#resetSession();
    this.#transition('connecting');
    const pending = deferred<void>();
    this.#pendingConnect = pending;
    this.#connectPromise = pending.promise;
    const token = this.#token;
    if (typeof token === 'function') {
      Promise.resolve()
        .then(token)
        .then(
          (value) => {
            if (this.#pendingConnect === pending) this.#openSocket(this.#urlWithToken(value));
          },
          (cause: unknown) => {
            if (this.#pendingConnect !== pending) return;
            this.#pendingConnect = undefined;
            const error = new EarshotError(
              'unauthorized',
              `could not get a token: ${String(cause)}`,
              {
                cause,
                fatal: true,
              },
            );
            this.#fail(error);
            this.#transition('error');
            pending.reject(error);
          },
        );
    } else {
      this.#openSocket(this.#urlWithToken(token));
    }
    return this.#withAbort(pending.promise, signal);
  }

  /**
   * Starts a session: sends `start` (connecting first if needed) and resolves with `ready`.
   * Rejects with an {@link EarshotError} when the server answers with an `error` (its code, e.g.
   * `unsupported_audio_format`), when the options are invalid (`invalid_message`), or when the
   * socket closes first.
   */
  async start(options: StartOptions): Promise<ReadyMessage> {
    const { signal, ...fields } = options;
    const parsed = StartMessageSchema.safeParse({ ...fields, type: 'start' });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` at ${issue.path.join('.')}` : '';
      throw new EarshotError('invalid_message', `invalid start options${where}: ${issue?.message}`);
    }
    if (this.#state === 'idle' || isTerminalState(this.#state)) await this.connect(signal);
    if (this.#state !== 'open') {
      throw new EarshotError('already_started', `cannot start a session in state "${this.#state}"`);
    }
    if (this.#pendingStart) {
      throw new EarshotError('already_started', 'a start is already waiting for ready');
    }
    if (signal?.aborted) throw abortReason(signal);
    const pending = deferred<ReadyMessage>();
    this.#pendingStart = pending;
    this.#startMessage = parsed.data;
    this.#sendJson(parsed.data);
    return this.#withAbort(pending.promise, signal);
  }

  /**
   * Sends one chunk of audio as a binary frame. The client keeps a copy until the server
   * acknowledges it (`ack`), so the caller may reuse its buffer. While the socket has more
   * than `highWaterMark` bytes buffered, or while reconnecting, audio is held back in the
   * client (bounded by `maxReplayBytes`) and sent in order later. Throws an
   * {@link EarshotError} (`not_started`, `session_ended`, `frame_too_large`) if it cannot be sent.
   */
  sendAudio(chunk: Uint8Array | ArrayBuffer): void {
    if (this.#state !== 'streaming' && this.#state !== 'reconnecting') {
      const code =
        this.#state === 'stopping' || isTerminalState(this.#state)
          ? 'session_ended'
          : 'not_started';
      throw new EarshotError(code, `cannot send audio in state "${this.#state}"`);
    }
    const bytes = chunk.byteLength;
    const max = this.#ready?.limits.maxFrameBytes;
    if (max !== undefined && bytes > max) {
      throw new EarshotError(
        'frame_too_large',
        `audio chunk of ${bytes} bytes exceeds the server's limit of ${max}`,
      );
    }
    if (bytes === 0) return;
    // Kept (a copy) until the server acknowledges it, so a resume can send it again.
    this.#replay.push(chunk instanceof Uint8Array ? chunk : new Uint8Array(chunk));
    this.#flushAudio();
  }

  /** Asks the provider to emit the final of the current utterance now. */
  finalize(): void {
    this.#requireState(['streaming'], 'finalize');
    this.#sendJson({ type: 'finalize' });
  }

  /**
   * Ends the audio: sends `stop` and resolves with the `closed` message (reason and summary)
   * once the server has sent its remaining finals and the socket has closed. Rejects with an
   * {@link EarshotError} if the session fails first, or with the signal's reason if aborted
   * (the socket is then closed).
   */
  stop(options: { signal?: AbortSignal } = {}): Promise<ClosedMessage> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (isTerminalState(this.#state) || this.#state === 'idle') {
      if (this.#closedMessage && !this.#failure) return Promise.resolve(this.#closedMessage);
      return Promise.reject(
        this.#failure ?? new EarshotError('session_ended', 'the session is not running'),
      );
    }
    if (this.#state === 'connecting' || this.#state === 'open') {
      return Promise.reject(new EarshotError('not_started', 'no session was started'));
    }
    const pending = deferred<ClosedMessage>();
    this.#pendingStops.push(pending);
    if (this.#state === 'reconnecting') this.#stopAfterResume = true;
    if (this.#state === 'streaming') {
      this.#transition('stopping');
      this.#flushAudio(true);
      this.#sendJson({ type: 'stop' });
    }
    return this.#withAbort(pending.promise, signal);
  }

  /**
   * Sends an application-level `ping` and resolves with the matching `pong`. The socket's own
   * ping/pong keeps it alive; this measures a round trip through the server's session.
   */
  ping(): Promise<PongMessage> {
    this.#requireState(['open', 'streaming', 'stopping'], 'ping');
    const id = `p${++this.#pingCounter}`;
    const pending = deferred<PongMessage>();
    this.#pendingPings.set(id, pending);
    const message: PingMessage = { type: 'ping', id };
    this.#sendJson(message);
    return pending.promise;
  }

  /** Asks for the session's current figures; resolves with the `session_info` answer. */
  requestSessionInfo(): Promise<SessionInfoMessage> {
    this.#requireState(['open', 'streaming', 'stopping'], 'request session info');
    const pending = deferred<SessionInfoMessage>();
    this.#pendingInfo.push(pending);
    this.#sendJson({ type: 'session_info' });
    return pending.promise;
  }

  /**
   * Closes the socket now, without waiting for finals (use {@link stop} for that). Resolves
   * once the socket is closed. The state becomes `closed` (or stays `error`).
   */
  close(code = 1000, reason = 'client closed'): Promise<void> {
    this.#cancelReconnect();
    const socket = this.#socket;
    if (!socket) {
      if (this.#state === 'idle' || this.#state === 'reconnecting') {
        this.#closeRequested = true;
        this.#transition('closed');
        this.#settleAll();
      }
      return Promise.resolve();
    }
    this.#closeRequested = true;
    const pending = deferred<void>();
    this.#pendingCloses.push(pending);
    socket.close(code, reason);
    return pending.promise;
  }

  /**
   * Reads transcripts as they arrive: finals only, unless `{ interim: true }`. The iterator
   * ends when the session closes cleanly and throws the {@link EarshotError} if it fails;
   * aborting its signal makes it throw the signal's reason.
   *
   * @example
   * ```ts
   * for await (const t of client.transcripts()) console.log(t.text);
   * ```
   */
  transcripts(options: TranscriptIteratorOptions = {}): AsyncIterableIterator<TranscriptMessage> {
    return transcriptIterator(this, options);
  }

  // ——— internals ———

  #urlWithToken(token: string | undefined): string {
    if (token === undefined) return this.url;
    // Not `new URL()`: keep whatever the caller wrote (relative paths are not valid here anyway).
    const separator = this.url.includes('?') ? '&' : '?';
    return `${this.url}${separator}token=${encodeURIComponent(token)}`;
  }

  /** Opens a socket to `url` and wires it to this client. */
  #openSocket(url: string): void {
    let socket: SocketLike;
    try {
      // perMessageDeflate off: audio hardly compresses, and compression would make `ws` hold on
      // to the caller's buffer after `send` returns.
      socket = new this.#WebSocket(url, undefined, { perMessageDeflate: false }) as SocketLike;
    } catch (cause) {
      // A malformed URL throws synchronously (SyntaxError) in both browsers and ws.
      const error = errorFromConnectFailure(this.url, cause);
      const pending = this.#pendingConnect;
      this.#pendingConnect = undefined;
      this.#fail(error);
      this.#transition('error');
      pending?.reject(error);
      this.#settleAll();
      return;
    }
    this.#socket = socket;
    socket.binaryType = 'arraybuffer';
    socket.onopen = () => this.#onOpen(socket);
    socket.onmessage = (event) => this.#onMessage(socket, event.data);
    socket.onerror = (event) => this.#onSocketError(socket, event);
    socket.onclose = (event) => this.#onClose(socket, event.code, event.reason);
    this.#logger.debug({ url: redactToken(url) }, 'earshot client connecting');
  }

  /**
   * Hands held-back audio to the socket while its buffer is below the high-water mark; polls
   * while it is above (browsers have no drain event). `force` sends everything (before `stop`).
   */
  #flushAudio(force = false): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) return;
    if (this.#state !== 'streaming' && this.#state !== 'stopping') return;
    if (this.#replay.oldest > this.#bytesSent) this.#reportLostAudio(this.#bytesSent);
    for (const chunk of this.#replay.from(this.#bytesSent)) {
      if (!force && socket.bufferedAmount > this.#highWaterMark) {
        this.#drainTimer ??= setTimeout(() => {
          this.#drainTimer = undefined;
          this.#flushAudio();
        }, DRAIN_POLL_MS);
        return;
      }
      socket.send(chunk);
      this.#bytesSent += chunk.byteLength;
    }
  }

  #reportLostAudio(from: number): void {
    const lost = this.#replay.oldest - from;
    this.#bytesSent = this.#replay.oldest;
    this.emit(
      'error',
      new EarshotError(
        'audio_lost',
        `${lost} bytes of audio could not be sent: more than maxReplayBytes was held while the connection was down or slow`,
        { details: { lostBytes: lost } },
      ),
    );
  }

  #resetSession(): void {
    this.#closedMessage = undefined;
    this.#failure = undefined;
    this.#closeRequested = false;
    this.#bytesSent = 0;
    this.#acknowledgedBytes = 0;
    this.#replay.clear();
    this.#seenFinals.clear();
    this.#startMessage = undefined;
    this.#stopAfterResume = false;
    this.#awaitingResumeAck = false;
    this.#reconnectAttempt = 0;
  }

  /** The one place the state changes. */
  #transition(to: ClientState): void {
    const from = this.#state;
    if (from === to) return;
    if (!canTransition(from, to)) {
      // A bug in the client, not in the caller's code: log rather than corrupt the state.
      this.#logger.warn({ from, to }, 'earshot client ignored an illegal state transition');
      return;
    }
    this.#state = to;
    this.#logger.debug({ from, to }, 'earshot client state');
    this.emit('state', to, from);
  }

  #requireState(allowed: readonly ClientState[], action: string): void {
    if (allowed.includes(this.#state)) return;
    const code = isTerminalState(this.#state) ? 'session_ended' : 'not_started';
    throw new EarshotError(code, `cannot ${action} in state "${this.#state}"`);
  }

  #sendJson(message: object): void {
    const socket = this.#socket;
    if (!socket || socket.readyState !== OPEN) {
      throw new EarshotError('session_ended', 'the socket is not open');
    }
    socket.send(JSON.stringify(message));
  }

  /** Records a failure (the first one wins) and reports it. */
  #fail(error: EarshotError): void {
    if (!this.#failure) this.#failure = error;
    this.emit('error', error);
  }

  #withAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    if (!signal) return promise;
    if (signal.aborted) {
      this.#abortSocket();
      return Promise.reject(abortReason(signal));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        reject(abortReason(signal));
        this.#abortSocket();
      };
      signal.addEventListener('abort', onAbort, { once: true });
      promise.then(
        (value) => {
          signal.removeEventListener('abort', onAbort);
          resolve(value);
        },
        (error: unknown) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  #abortSocket(): void {
    if (this.#socket) void this.close(1000, 'aborted');
  }

  #detachSocket(): void {
    const socket = this.#socket;
    if (!socket) return;
    this.#socket = undefined;
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    socket.close(1000, 'client reconnected');
    for (const close of this.#pendingCloses.splice(0)) close.resolve();
  }

  #onOpen(socket: SocketLike): void {
    if (socket !== this.#socket) return;
    if (this.#state === 'reconnecting') {
      this.#sendResume();
      return;
    }
    this.#transition('open');
    const pending = this.#pendingConnect;
    this.#pendingConnect = undefined;
    pending?.resolve();
  }

  #onSocketError(socket: SocketLike, event: unknown): void {
    if (socket !== this.#socket) return;
    // Always followed by `close`, which settles everything; here only remember why.
    if (this.#closeRequested) return;
    if (this.#state === 'reconnecting') {
      const error = errorFromConnectFailure(this.url, event);
      // A refused resume (the session is gone, the token expired) will not heal by waiting.
      if (FINAL_REFUSALS.has(error.code)) this.#fail(error);
      this.#logger.debug({ code: error.code }, 'earshot client reconnect attempt failed');
      return;
    }
    if (socket.readyState === CONNECTING || this.#state === 'connecting') {
      this.#fail(errorFromConnectFailure(this.url, event));
    } else {
      const message = (event as { message?: unknown }).message;
      this.#logger.warn({ message }, 'earshot client socket error');
    }
  }

  #onClose(socket: SocketLike, code: number, reason: string): void {
    if (socket !== this.#socket) return;
    socket.onopen = socket.onmessage = socket.onerror = socket.onclose = null;
    this.#socket = undefined;
    if (this.#mayResume(code)) {
      this.#scheduleReconnect(code);
      return;
    }
    const wasConnecting = this.#state === 'connecting';
    const clean = this.#closeRequested || this.#closedMessage !== undefined;
    if (!clean && !this.#failure) {
      this.#fail(
        wasConnecting
          ? errorFromConnectFailure(this.url, { message: `closed with code ${code}` })
          : errorFromClose(code, reason),
      );
    }
    this.#logger.debug({ code, reason, clean }, 'earshot client socket closed');
    this.#transition(this.#failure ? 'error' : 'closed');
    this.emit('close', { code, reason });
    this.#settleAll();
  }

  /** Whether a socket that closed with `code` should be followed by a resume. */
  #mayResume(code: number): boolean {
    if (this.#reconnect === false || this.#closeRequested || this.#closedMessage) return false;
    if (this.#failure || !this.#ready?.resumeToken) return false;
    const live =
      this.#state === 'streaming' || this.#state === 'stopping' || this.#state === 'reconnecting';
    // A reconnect attempt that failed to open closes with 1006 too.
    return live && (this.#state === 'reconnecting' || RESUMABLE_CLOSE_CODES.has(code));
  }

  /** Schedules the next resume attempt, or gives up when the attempts are spent. */
  #scheduleReconnect(code: number): void {
    if (this.#state !== 'reconnecting') {
      this.#stopAfterResume ||= this.#state === 'stopping';
      this.#awaitingResumeAck = false;
      this.#transition('reconnecting');
      this.#logger.info(
        { code, sessionId: this.sessionId },
        'earshot client connection lost; resuming',
      );
    }
    const options = this.#reconnect === false ? {} : this.#reconnect;
    const attempt = this.#reconnectAttempt++;
    if (attempt >= (options.attempts ?? 8)) {
      this.#fail(
        new EarshotError(
          'connection_failed',
          `the connection dropped (code ${code}) and ${attempt} attempts to resume the session failed`,
          { fatal: true, details: { closeCode: code, attempts: attempt } },
        ),
      );
      this.#transition('error');
      this.emit('close', { code, reason: 'resume failed' });
      this.#settleAll();
      return;
    }
    // The previous attempt's resume timeout, when its socket closed before it fired.
    this.#cancelReconnect();
    this.#reconnectTimer = setTimeout(
      () => {
        this.#reconnectTimer = undefined;
        const token = this.#ready?.resumeToken;
        if (this.#state !== 'reconnecting' || !token) return;
        this.#openSocket(this.#urlWithToken(token));
        const socket = this.#socket;
        // A server that never completes the resume must not hold the client forever.
        this.#reconnectTimer = setTimeout(() => {
          this.#reconnectTimer = undefined;
          if (this.#state === 'reconnecting' && this.#socket === socket) {
            socket?.close(4000, 'resume timed out');
          }
        }, RESUME_TIMEOUT_MS);
      },
      reconnectDelayMs(attempt, options),
    );
  }

  #cancelReconnect(): void {
    if (this.#reconnectTimer) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
  }

  /** On a reconnected socket: the session's `start` again, with what the client has had. */
  #sendResume(): void {
    const ready = this.#ready;
    const start = this.#startMessage;
    if (!ready || !start) return;
    this.#sendJson({
      ...start,
      resume: {
        sessionId: ready.sessionId,
        resumeToken: ready.resumeToken,
        audioBytes: this.#replay.position,
        finals: this.#seenFinals.size,
      },
    });
  }

  /** The resumed session's `ack`: audio from there on is sent again, then the session goes on. */
  #completeResume(acknowledged: number): void {
    this.#cancelReconnect();
    this.#awaitingResumeAck = false;
    this.#reconnectAttempt = 0;
    this.#bytesSent = Math.min(acknowledged, this.#replay.position);
    const stop = this.#stopAfterResume;
    this.#stopAfterResume = false;
    this.#transition(stop ? 'stopping' : 'streaming');
    this.#flushAudio(stop);
    if (stop) this.#sendJson({ type: 'stop' });
  }

  /** Settles every waiting promise once the socket is gone. */
  #settleAll(): void {
    this.#cancelReconnect();
    if (this.#drainTimer) clearTimeout(this.#drainTimer);
    this.#drainTimer = undefined;
    const failure = this.#failure ?? new EarshotError('session_ended', 'the connection was closed');
    const connect = this.#pendingConnect;
    this.#pendingConnect = undefined;
    connect?.reject(failure);
    const start = this.#pendingStart;
    this.#pendingStart = undefined;
    start?.reject(failure);
    for (const stop of this.#pendingStops.splice(0)) {
      if (this.#closedMessage && !this.#failure) stop.resolve(this.#closedMessage);
      else stop.reject(failure);
    }
    for (const info of this.#pendingInfo.splice(0)) info.reject(failure);
    for (const ping of this.#pendingPings.values()) ping.reject(failure);
    this.#pendingPings.clear();
    for (const close of this.#pendingCloses.splice(0)) close.resolve();
  }

  #onMessage(socket: SocketLike, data: unknown): void {
    if (socket !== this.#socket) return;
    if (typeof data !== 'string') {
      this.#fail(
        new EarshotError('invalid_message', 'the server sent a binary frame; protocol v1 has none'),
      );
      return;
    }
    const parsed = parseServerMessage(data);
    if (!parsed.ok) {
      // The session goes on: one bad frame is reported, never thrown into the socket's handler.
      this.#logger.warn({ code: parsed.error.code }, parsed.error.message);
      this.emit('error', parsed.error);
      return;
    }
    this.#dispatch(parsed.message);
  }

  #dispatch(message: ServerMessage): void {
    switch (message.type) {
      case 'ready': {
        this.#ready = message;
        if (this.#state === 'reconnecting') {
          this.#awaitingResumeAck = true;
          this.emit('resumed', message);
          return;
        }
        this.#transition('streaming');
        const pending = this.#pendingStart;
        this.#pendingStart = undefined;
        this.emit('ready', message);
        pending?.resolve(message);
        return;
      }
      case 'transcript':
        if (message.isFinal) {
          // A resumed session sends again the finals it cannot know arrived: each counts once.
          if (this.#seenFinals.has(message.segmentId)) return;
          this.#seenFinals.add(message.segmentId);
        }
        this.emit('transcript', message);
        return;
      case 'speech_started':
        this.emit('speech_started', message);
        return;
      case 'utterance_end':
        this.emit('utterance_end', message);
        return;
      case 'command':
        this.emit('command', message);
        return;
      case 'ack':
        this.#acknowledgedBytes = message.audioBytes;
        this.#replay.trimBefore(Math.min(message.audioBytes, this.#bytesSent));
        if (this.#awaitingResumeAck) this.#completeResume(message.audioBytes);
        this.emit('ack', message);
        return;
      case 'error':
        this.#onServerError(message.code, message.message, message.fatal);
        return;
      case 'session_info':
        this.#pendingInfo.shift()?.resolve(message);
        this.emit('session_info', message);
        return;
      case 'pong': {
        const key = message.id === undefined ? undefined : String(message.id);
        const pending = key === undefined ? undefined : this.#pendingPings.get(key);
        if (key !== undefined && pending) {
          this.#pendingPings.delete(key);
          pending.resolve(message);
        }
        this.emit('pong', message);
        return;
      }
      case 'broadcast':
        this.emit('broadcast', message);
        return;
      case 'closed':
        this.#closedMessage = message;
        this.emit('closed', message);
        // The server closes next; closing from this side too means the socket is released even
        // if that close frame is lost, and `stop()` resolves as soon as it is.
        this.#socket?.close(1000, 'session closed');
        return;
    }
  }

  #onServerError(code: EarshotError['code'], text: string, fatal: boolean): void {
    // Any error in answer to a resume means the session cannot be resumed.
    const resumeRefused = this.#state === 'reconnecting';
    const error = new EarshotError(code, text, { fatal: fatal || resumeRefused });
    if (fatal || resumeRefused) {
      this.#fail(error);
      this.#transition('error');
      // The server keeps a socket open after a refused resume; nothing more will come on it.
      if (resumeRefused) this.#socket?.close(1000, 'resume refused');
    } else {
      this.emit('error', error);
    }
    // An error before `ready` is the answer to `start` (a non-fatal one lets the caller retry).
    const pending = this.#pendingStart;
    this.#pendingStart = undefined;
    pending?.reject(error);
  }
}
