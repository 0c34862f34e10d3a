import type { IncomingMessage } from 'node:http';
import type { RawData, WebSocket } from 'ws';
import {
  EMULATOR_API_KEY,
  type Emulator,
  type EmulatorConnection,
  type EmulatorOptions,
} from './emulator.js';
import { AudioFaultClock, type EmulatorFaults, takeRefusal } from './faults.js';
import { loopbackCertificate } from './tls.js';
import {
  bytesPerSecond,
  type EmulatorAudioFormat,
  type TranscribedUtterance,
  type Transcriber,
  type TranscriberSession,
} from './transcriber.js';
import { startWsEmulatorServer, type UpgradeRefusal } from './ws-emulator-server.js';

/** Options of {@link startOpenAIEmulator}. */
export interface OpenAIEmulatorOptions extends EmulatorOptions {
  /** Turns each connection's audio into utterances. */
  readonly transcriber: Transcriber;
  /**
   * Delivers each odd item's transcription (deltas and `completed`) after the next item's,
   * as the real service may when a long utterance is followed by a short one. A held item is
   * released by the next item's `completed`, by a client `commit`, or after 300 ms.
   */
  readonly completeOutOfOrder?: boolean;
  /**
   * Items (counted from 1 per connection, in spoken order) whose transcription fails: they get
   * `conversation.item.input_audio_transcription.failed` instead of `completed`.
   */
  readonly failTranscriptionOf?: readonly number[];
}

/** A running OpenAI Realtime (transcription) emulator. */
export interface OpenAIEmulator extends Emulator {
  readonly vendor: 'openai';
  /** `https://127.0.0.1:PORT/v1`, the `baseURL` of an `OpenAI` client. */
  readonly endpoint: string;
  /** The self-signed certificate the emulator serves (the SDK insists on `wss://`). */
  readonly ca: string;
}

/** How long a held (out-of-order) transcription waits for its successor at most. */
const HOLD_MS = 300;
/** The real service refuses to commit less than this much audio. */
const MIN_COMMIT_SECONDS = 0.1;
const KEY_SUBPROTOCOL = 'openai-insecure-api-key.';

/**
 * Starts an emulator of OpenAI's Realtime API for transcription-only sessions, as
 * `openai@7` (`OpenAIRealtimeWS` with `intent: 'transcription'`) speaks it: TLS WebSocket on
 * `/v1/realtime?intent=transcription`, `Authorization: Bearer <key>` (or the browser
 * subprotocols `realtime` + `openai-insecure-api-key.<key>`), HTTP 401 at the upgrade for a
 * bad key. It answers `session.update` with `session.updated`, takes base64 audio from
 * `input_audio_buffer.append`, and maps the transcriber's utterances onto
 * `input_audio_buffer.speech_started` / `speech_stopped` / `committed` and
 * `conversation.item.input_audio_transcription.delta` / `completed` (with server VAD), or
 * onto one item per `input_audio_buffer.commit` (with `turn_detection: null`). Interims
 * become early deltas. Invalid client events get an `error` event; the session stays open.
 *
 * Faults: `maxStreamSeconds` sends an `error` event with code `session_expired`, then closes
 * with 1000; `idleTimeoutSeconds` (none by default: OpenAI documents no idle close) sends an
 * `error` with code `idle_timeout`, then closes with 1000; `refuseNext` answers the upgrade
 * with HTTP 503.
 *
 * @example
 * ```ts
 * const emulator = await startOpenAIEmulator({
 *   transcriber: scriptedTranscriber([{ text: 'hello world', start: 0.5, end: 1.5 }]),
 * });
 * const provider = createOpenAIProvider({ baseURL: emulator.endpoint, apiKey: emulator.apiKey,
 *   ca: emulator.ca });
 * ```
 */
export async function startOpenAIEmulator(options: OpenAIEmulatorOptions): Promise<OpenAIEmulator> {
  const apiKey = options.apiKey ?? EMULATOR_API_KEY;
  const tls = await loopbackCertificate();
  const connections: EmulatorConnection[] = [];
  const live = new Set<RealtimeConnection>();
  const state: { faults: EmulatorFaults } = { faults: { ...options.faults } };

  const server = await startWsEmulatorServer({
    tls,
    path: '/v1/realtime',
    authorize: (request) => authorize(request, apiKey, state.faults),
    handleProtocols: (protocols) => (protocols.has('realtime') ? 'realtime' : false),
    onConnection(socket, request) {
      const url = new URL(request.url ?? '/', 'https://localhost');
      const record: EmulatorConnection = {
        index: connections.length,
        headers: { ...request.headers },
        query: url.searchParams,
        config: undefined,
        audioBytes: 0,
        controlMessages: [],
      };
      connections.push(record);
      const connection = new RealtimeConnection(socket, record, {
        transcriber: options.transcriber,
        outOfOrder: options.completeOutOfOrder ?? false,
        failing: new Set(options.failTranscriptionOf ?? []),
        faults: () => state.faults,
      });
      live.add(connection);
      socket.on('close', () => live.delete(connection));
    },
  });

  return {
    vendor: 'openai',
    endpoint: `https://127.0.0.1:${server.port}/v1`,
    apiKey,
    ca: tls.cert,
    connections,
    get faults() {
      return state.faults;
    },
    set faults(faults: EmulatorFaults) {
      state.faults = faults;
    },
    dropAll: () => server.dropAll(),
    async close() {
      for (const connection of live) connection.dispose();
      live.clear();
      await server.close();
    },
  };
}

function authorize(
  request: IncomingMessage,
  apiKey: string,
  faults: EmulatorFaults,
): UpgradeRefusal | undefined {
  if (takeRefusal(faults)) {
    return jsonRefusal(503, 'server_error', null, 'The server is overloaded or not ready yet.');
  }
  const key = presentedKey(request);
  if (key === undefined) {
    return jsonRefusal(
      401,
      'invalid_request_error',
      null,
      "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
    );
  }
  if (faults.rejectAuth || key !== apiKey) {
    return jsonRefusal(
      401,
      'invalid_request_error',
      'invalid_api_key',
      `Incorrect API key provided: ${key.slice(0, 3)}***. You can find your API key at https://platform.openai.com/account/api-keys.`,
    );
  }
  const query = new URL(request.url ?? '/', 'https://localhost').searchParams;
  if (query.get('intent') !== 'transcription') {
    // This emulator only plays transcription sessions; a model session is another protocol.
    return jsonRefusal(
      400,
      'invalid_request_error',
      'invalid_value',
      'This emulator serves transcription sessions only: use ?intent=transcription.',
    );
  }
  return undefined;
}

/** The key from `Authorization: Bearer` or, for browser clients, the key subprotocol. */
function presentedKey(request: IncomingMessage): string | undefined {
  const auth = request.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice('Bearer '.length);
  const protocols = String(request.headers['sec-websocket-protocol'] ?? '').split(',');
  const keyed = protocols.map((p) => p.trim()).find((p) => p.startsWith(KEY_SUBPROTOCOL));
  return keyed?.slice(KEY_SUBPROTOCOL.length);
}

function jsonRefusal(
  status: number,
  type: string,
  code: string | null,
  message: string,
): UpgradeRefusal {
  return {
    status,
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ error: { message, type, param: null, code } }),
  };
}

interface ConnectionOptions {
  readonly transcriber: Transcriber;
  readonly outOfOrder: boolean;
  readonly failing: ReadonlySet<number>;
  readonly faults: () => EmulatorFaults;
}

/** An input audio item: one committed stretch of the audio buffer. */
interface Item {
  readonly id: string;
  /** Counts items from 1. */
  readonly index: number;
  /** What the transcriber has finalised for it (a manual commit may span utterances). */
  heard: string;
  /** Text already sent as deltas. */
  sent: string;
  confidences: number[];
  words: string[];
}

type Session = Record<string, unknown> & {
  audio: { input: Record<string, unknown> & { format: Record<string, unknown> } };
};

/** One transcription session on one socket. */
class RealtimeConnection {
  private readonly clock = new AudioFaultClock();
  private session: Session;
  private transcriber: TranscriberSession | undefined;
  private byteRate = 0;
  private eventCount = 0;
  private itemCount = 0;
  private uncommittedBytes = 0;
  private current: Item | undefined;
  private lastCommittedId: string | null = null;
  /** The transcriber has heard speech it has not finalised yet. */
  private utteranceOpen = false;
  /** A client commit waits for the transcriber's final. */
  private commitRequested = false;
  private held: (() => void) | undefined;
  private holdTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  /** The emulator has closed (or dropped) the socket: nothing more is read or sent. */
  private over = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly record: EmulatorConnection,
    private readonly options: ConnectionOptions,
  ) {
    this.session = {
      type: 'transcription',
      object: 'realtime.transcription_session',
      id: `sess_emulator${record.index}`,
      expires_at: Math.floor(Date.now() / 1000) + 3600,
      include: null,
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: 24000 },
          transcription: null,
          noise_reduction: null,
          turn_detection: {
            type: 'server_vad',
            threshold: 0.5,
            prefix_padding_ms: 300,
            silence_duration_ms: 500,
            idle_timeout_ms: null,
          },
        },
      },
    };
    socket.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    socket.on('close', (code, reason) => {
      record.closed = { code, reason: reason.toString() };
      this.dispose();
    });
    this.send({ type: 'session.created', session: this.session });
    this.armIdleTimer();
  }

  /** Releases the transcriber and timers; the socket is the server's to close. */
  dispose(): void {
    this.over = true;
    clearTimeout(this.holdTimer);
    clearTimeout(this.idleTimer);
    this.transcriber?.close();
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.over) return;
    this.armIdleTimer();
    if (isBinary) {
      this.invalid(undefined, 'invalid_json', 'Binary frames are not supported: send JSON events.');
      return;
    }
    let event: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(data.toString());
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error();
      event = parsed as Record<string, unknown>;
    } catch {
      this.invalid(undefined, 'invalid_json', 'We could not parse the JSON body of your event.');
      return;
    }
    const eventId = typeof event.event_id === 'string' ? event.event_id : undefined;
    // Audio is recorded as bytes, not as messages: a session sends thousands of appends.
    if (event.type !== 'input_audio_buffer.append') this.record.controlMessages.push(event);
    switch (event.type) {
      case 'session.update':
        this.onSessionUpdate(event.session, eventId);
        return;
      case 'input_audio_buffer.append':
        this.onAppend(event.audio, eventId);
        return;
      case 'input_audio_buffer.commit':
        this.onCommit(eventId);
        return;
      case 'input_audio_buffer.clear':
        this.uncommittedBytes = 0;
        this.send({ type: 'input_audio_buffer.cleared' });
        return;
      default:
        this.invalid(
          eventId,
          'invalid_value',
          `Invalid value: '${String(event.type)}'. Supported values in a transcription session are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit' and 'input_audio_buffer.clear'.`,
          'type',
        );
    }
  }

  private onSessionUpdate(update: unknown, eventId: string | undefined): void {
    if (typeof update !== 'object' || update === null) {
      this.invalid(
        eventId,
        'missing_required_parameter',
        "Missing required parameter: 'session'.",
        'session',
      );
      return;
    }
    const session = update as Record<string, unknown>;
    if (session.type !== 'transcription') {
      this.invalid(
        eventId,
        'invalid_value',
        "Invalid value: a transcription session only accepts session.type 'transcription'.",
        'session.type',
      );
      return;
    }
    const input = (session.audio as { input?: Record<string, unknown> } | undefined)?.input ?? {};
    const format = input.format as { type?: unknown; rate?: unknown } | undefined;
    if (format !== undefined) {
      if (!['audio/pcm', 'audio/pcmu', 'audio/pcma'].includes(String(format.type))) {
        this.invalid(
          eventId,
          'invalid_value',
          `Invalid value: '${String(format.type)}'. Supported values are: 'audio/pcm', 'audio/pcmu', and 'audio/pcma'.`,
          'session.audio.input.format.type',
        );
        return;
      }
      if (format.type === 'audio/pcm' && format.rate !== undefined && format.rate !== 24000) {
        this.invalid(
          eventId,
          'invalid_value',
          'Invalid value: only a 24000 Hz sample rate is supported for audio/pcm.',
          'session.audio.input.format.rate',
        );
        return;
      }
    }
    // Only the fields present are updated; the rest keep their values.
    const merged = { ...this.session.audio.input, ...input };
    if (format?.type === 'audio/pcm') merged.format = { type: 'audio/pcm', rate: 24000 };
    this.session = {
      ...this.session,
      ...('include' in session ? { include: session.include } : {}),
      audio: { input: merged as Session['audio']['input'] },
    };
    this.record.config = this.session;
    this.send({ type: 'session.updated', session: this.session });
  }

  private onAppend(audio: unknown, eventId: string | undefined): void {
    if (typeof audio !== 'string') {
      this.invalid(
        eventId,
        'missing_required_parameter',
        "Missing required parameter: 'audio'.",
        'audio',
      );
      return;
    }
    const bytes = Buffer.from(audio, 'base64');
    const transcriber = this.openTranscriber();
    this.record.audioBytes += bytes.byteLength;
    this.uncommittedBytes += bytes.byteLength;
    switch (this.clock.due(this.options.faults(), this.record.audioBytes / this.byteRate)) {
      case 'drop':
        this.over = true;
        this.socket.terminate();
        return;
      case 'close': {
        const close = this.options.faults().closeAfterAudioSeconds;
        this.closeWith(close?.code ?? 1011, close?.reason ?? '');
        return;
      }
      case 'limit':
        this.sendError(
          'invalid_request_error',
          'session_expired',
          'Your session hit the maximum duration of 60 minutes.',
        );
        this.closeWith(1000, 'session_expired');
        return;
      default:
    }
    transcriber.write(bytes);
  }

  private onCommit(eventId: string | undefined): void {
    const seconds = this.byteRate === 0 ? 0 : this.uncommittedBytes / this.byteRate;
    if (seconds < MIN_COMMIT_SECONDS) {
      const ms = (seconds * 1000).toFixed(2);
      this.invalid(
        eventId,
        'input_audio_buffer_commit_empty',
        `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${ms}ms of audio.`,
      );
      return;
    }
    this.commitRequested = true;
    this.transcriber?.finalize();
    // A synchronous transcriber has committed through its final already; an asynchronous
    // one still owes its final, which commits when it comes. Without speech, commit now.
    if (this.commitRequested && !this.utteranceOpen) this.commitCurrent();
    this.releaseHeld();
  }

  private openTranscriber(): TranscriberSession {
    if (this.transcriber) return this.transcriber;
    // The format is fixed by the session at the first audio, as it is upstream.
    const format = emulatorFormat(this.session.audio.input.format);
    this.byteRate = bytesPerSecond(format);
    const session = this.options.transcriber.open(format);
    session.on('speech', (start) => this.onSpeech(start));
    session.on('utterance', (u) => (u.isFinal ? this.onFinal(u) : this.onInterim(u)));
    this.transcriber = session;
    return session;
  }

  private get serverVad(): boolean {
    return this.session.audio.input.turn_detection != null;
  }

  private onSpeech(start: number): void {
    this.utteranceOpen = true;
    // The scripted transcriber repeats `speech` until its interim: one item per utterance.
    if (this.current) return;
    const item = this.newItem();
    if (this.serverVad) {
      this.send({
        type: 'input_audio_buffer.speech_started',
        audio_start_ms: Math.round(start * 1000),
        item_id: item.id,
      });
    }
  }

  private onInterim(u: TranscribedUtterance): void {
    this.utteranceOpen = true;
    const item = this.current ?? this.newItem();
    this.sendDeltas(item, join(item.heard, u.text));
  }

  private onFinal(u: TranscribedUtterance): void {
    this.utteranceOpen = false;
    const item = this.current ?? this.newItem();
    item.heard = join(item.heard, u.text);
    item.words.push(...u.words.map((w) => w.word));
    item.confidences.push(...u.words.map((w) => w.confidence));
    if (this.commitRequested) {
      this.commitCurrent();
    } else if (this.serverVad) {
      this.send({
        type: 'input_audio_buffer.speech_stopped',
        audio_end_ms: Math.round(u.end * 1000),
        item_id: item.id,
      });
      this.commitCurrent();
    }
    // Without turn detection the text waits in the buffer for the client's commit.
  }

  private newItem(): Item {
    this.itemCount += 1;
    this.current = {
      id: `item_emu${this.record.index}x${String(this.itemCount).padStart(4, '0')}`,
      index: this.itemCount,
      heard: '',
      sent: '',
      confidences: [],
      words: [],
    };
    return this.current;
  }

  private commitCurrent(): void {
    this.commitRequested = false;
    const item = this.current ?? this.newItem();
    this.current = undefined;
    this.uncommittedBytes = 0;
    this.send({
      type: 'input_audio_buffer.committed',
      item_id: item.id,
      previous_item_id: this.lastCommittedId,
    });
    this.lastCommittedId = item.id;
    const deliver = () => this.transcribe(item);
    if (!this.options.outOfOrder) {
      deliver();
    } else if (this.held) {
      deliver();
      this.releaseHeld();
    } else {
      this.held = deliver;
      this.holdTimer = setTimeout(() => this.releaseHeld(), HOLD_MS);
    }
  }

  private releaseHeld(): void {
    clearTimeout(this.holdTimer);
    const held = this.held;
    this.held = undefined;
    held?.();
  }

  /** The rest of the item's deltas, then its `completed` (or its `failed`). */
  private transcribe(item: Item): void {
    if (this.options.failing.has(item.index)) {
      this.send({
        type: 'conversation.item.input_audio_transcription.failed',
        item_id: item.id,
        content_index: 0,
        error: {
          type: 'server_error',
          code: 'transcription_failed',
          message: 'Input transcription failed for this item.',
          param: null,
        },
      });
      return;
    }
    this.sendDeltas(item, item.heard);
    const logprobs = this.wantsLogprobs
      ? item.words.map((token, i) => ({
          token,
          logprob: Math.log(item.confidences[i] ?? 1),
          bytes: [...Buffer.from(token)],
        }))
      : undefined;
    this.send({
      type: 'conversation.item.input_audio_transcription.completed',
      item_id: item.id,
      content_index: 0,
      transcript: item.heard,
      usage: {
        type: 'tokens',
        input_tokens: 10 * item.words.length,
        output_tokens: item.words.length,
        total_tokens: 11 * item.words.length,
        input_token_details: { text_tokens: 0, audio_tokens: 10 * item.words.length },
      },
      ...(logprobs ? { logprobs } : {}),
    });
  }

  private get wantsLogprobs(): boolean {
    const include = this.session.include;
    return Array.isArray(include) && include.includes('item.input_audio_transcription.logprobs');
  }

  /** Deltas only ever append: a revised hypothesis waits for `completed` to correct it. */
  private sendDeltas(item: Item, text: string): void {
    if (!text.startsWith(item.sent) || text.length === item.sent.length) return;
    const pieces = text.slice(item.sent.length).match(/\s*\S+/g) ?? [];
    for (const delta of pieces) {
      this.send({
        type: 'conversation.item.input_audio_transcription.delta',
        item_id: item.id,
        content_index: 0,
        delta,
      });
    }
    item.sent = text;
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    const seconds = this.options.faults().idleTimeoutSeconds;
    if (seconds === undefined || this.over) return;
    this.idleTimer = setTimeout(() => {
      this.sendError(
        'invalid_request_error',
        'idle_timeout',
        `The session was closed after ${seconds} s without input.`,
      );
      this.closeWith(1000, 'idle_timeout');
    }, seconds * 1000);
  }

  private closeWith(code: number, reason: string): void {
    this.over = true;
    clearTimeout(this.idleTimer);
    this.socket.close(code, reason);
  }

  private invalid(
    clientEventId: string | undefined,
    code: string,
    message: string,
    param: string | null = null,
  ): void {
    this.sendError('invalid_request_error', code, message, param, clientEventId);
  }

  private sendError(
    type: string,
    code: string,
    message: string,
    param: string | null = null,
    clientEventId?: string,
  ): void {
    this.send({
      type: 'error',
      error: { type, code, message, param, event_id: clientEventId ?? null },
    });
  }

  private send(event: Record<string, unknown>): void {
    if (this.clock.stalled || this.socket.readyState !== this.socket.OPEN) return;
    this.eventCount += 1;
    const eventId = `event_emu${this.record.index}x${this.eventCount}`;
    this.socket.send(JSON.stringify({ event_id: eventId, ...event }));
  }
}

function emulatorFormat(format: Record<string, unknown>): EmulatorAudioFormat {
  switch (format.type) {
    case 'audio/pcmu':
      return { encoding: 'mulaw', sampleRate: 8000, channels: 1 };
    case 'audio/pcma':
      return { encoding: 'alaw', sampleRate: 8000, channels: 1 };
    default:
      return { encoding: 'pcm16', sampleRate: 24000, channels: 1 };
  }
}

function join(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a} ${b}`;
}
