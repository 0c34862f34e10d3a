import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';
import { ContainerDecoder } from './container-decoder.js';
import {
  EMULATOR_API_KEY,
  type Emulator,
  type EmulatorConnection,
  type EmulatorOptions,
} from './emulator.js';
import { AudioFaultClock, type EmulatorFaults, takeRefusal } from './faults.js';
import {
  bytesPerSecond,
  type EmulatorAudioFormat,
  type TranscribedUtterance,
  type TranscribedWord,
  type Transcriber,
  type TranscriberSession,
} from './transcriber.js';
import { startWsEmulatorServer, type UpgradeRefusal } from './ws-emulator-server.js';

/** Deepgram's idle timeout (NET-0001), in seconds. */
const DEFAULT_IDLE_TIMEOUT_SECONDS = 10;
/** The close reason Deepgram gives with 1011 when a stream has been idle too long. */
export const DEEPGRAM_NET0001_REASON =
  'Deepgram did not receive audio data or a text message within the timeout window. See https://dpgr.am/net0001';
/** Deepgram's `channel_index` / `channel` for channel 0 of a one-channel stream. */
const CHANNEL = [0, 1];
// What containerized audio is decoded to for the transcriber.
const CONTAINER_DECODE_RATE = 16000;
// Deepgram's close when the payload is not audio it can decode.
const DEEPGRAM_DATA_0000_REASON =
  'DATA-0000: The payload cannot be decoded as audio. It is either not audio data or is a codec unsupported by Deepgram.';
const RAW_ENCODINGS = { linear16: 'pcm16', mulaw: 'mulaw', alaw: 'alaw' } as const;
/** Encodings Deepgram accepts that this emulator cannot hear (it only counts raw bytes). */
const OTHER_DEEPGRAM_ENCODINGS = new Set([
  'linear32',
  'flac',
  'amr-nb',
  'amr-wb',
  'opus',
  'ogg-opus',
  'speex',
  'g729',
]);

/** Options of {@link startDeepgramEmulator}. */
export interface DeepgramEmulatorOptions extends EmulatorOptions {
  /** What turns each connection's audio into utterances. */
  readonly transcriber: Transcriber;
  /**
   * Finalise long utterances in `is_final` pieces of at most this many seconds of words, the
   * last piece alone carrying `speech_final`, as Deepgram does for long speech. Unset: one
   * `is_final` result per utterance.
   */
  readonly finalPieceSeconds?: number;
}

/** A running Deepgram emulator (`GET /v1/listen` on `ws://127.0.0.1:PORT`). */
export interface DeepgramEmulator extends Emulator {
  /** Always `deepgram`. */
  readonly vendor: 'deepgram';
  /** The `dg-request-id` of each accepted connection, by connection index. */
  readonly requestIds: readonly string[];
}

/** What the query of `/v1/listen` declared, as the emulator uses it. */
export interface DeepgramListenConfig {
  /** `model`, reported back in `metadata.model_info`. */
  readonly model: string;
  /**
   * `encoding`, `sample_rate`, `channels`: what the binary frames hold. For containerized
   * audio (no `encoding`), the PCM16 16 kHz mono it is decoded to.
   */
  readonly format: EmulatorAudioFormat;
  /** No `encoding`: the frames are a container (WebM, Ogg, …) that FFmpeg decodes, as Deepgram reads one. */
  readonly containerized: boolean;
  /** `interim_results=true`: send `is_final:false` partials. */
  readonly interimResults: boolean;
  /** `vad_events=true`: send `SpeechStarted`. */
  readonly vadEvents: boolean;
  /** `utterance_end_ms`: send `UtteranceEnd` after this gap without words. */
  readonly utteranceEndMs: number | undefined;
  /** Not `endpointing=false`: a pause sets `speech_final`. */
  readonly endpointing: boolean;
  /** `diarize=true`: label words with a `speaker`. */
  readonly diarize: boolean;
  /** `punctuate` or `smart_format`: send `punctuated_word` and a punctuated transcript. */
  readonly punctuate: boolean;
}

/**
 * Starts a loopback emulator of Deepgram's live transcription WebSocket as `@deepgram/sdk` v5
 * speaks to it: `Authorization: Token <key>` (or `Sec-WebSocket-Protocol: token, <key>`),
 * options as query parameters, audio as binary frames, `KeepAlive` / `Finalize` /
 * `CloseStream` as text frames; `Results`, `UtteranceEnd`, `SpeechStarted` and `Metadata`
 * back; HTTP 401/400/503 refusals with `dg-error`; NET-0001 (1011 after 10 s idle); a clean
 * 1000 after `CloseStream`. Faults from `emulator.faults` apply live.
 *
 * @example
 * ```ts
 * const emulator = await startDeepgramEmulator({
 *   transcriber: scriptedTranscriber([{ text: 'hello world', start: 0.2, end: 1 }]),
 * });
 * const deepgram = new DeepgramClient({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint });
 * ```
 */
export async function startDeepgramEmulator(
  options: DeepgramEmulatorOptions,
): Promise<DeepgramEmulator> {
  const apiKey = options.apiKey ?? EMULATOR_API_KEY;
  const connections: EmulatorConnection[] = [];
  const requestIds: string[] = [];
  const accepted = new WeakMap<IncomingMessage, { config: DeepgramListenConfig; id: string }>();
  const live = new Set<ListenConnection>();

  const server = await startWsEmulatorServer({
    path: '/v1/listen',
    authorize(request) {
      const requestId = randomUUID();
      if (takeRefusal(emulator.faults)) {
        return refusal(503, 'SERVICE_UNAVAILABLE', 'Service unavailable, try again.', requestId);
      }
      if (emulator.faults.rejectAuth || presentedKey(request) !== apiKey) {
        return refusal(401, 'INVALID_AUTH', 'Invalid credentials.', requestId);
      }
      const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
      const config = parseListenQuery(query);
      if (typeof config === 'string') {
        return refusal(400, 'Bad Request', config, requestId);
      }
      accepted.set(request, { config, id: requestId });
      return undefined;
    },
    // Deepgram answers every upgrade with its request id, the 101 included.
    responseHeaders: (request): Record<string, string> => {
      const id = accepted.get(request)?.id;
      return id === undefined ? {} : { 'dg-request-id': id };
    },
    // A browser authenticates with `Sec-WebSocket-Protocol: token, <key>`; Deepgram picks `token`.
    handleProtocols: (protocols) =>
      protocols.has('token') ? 'token' : (protocols.values().next().value ?? false),
    onConnection(ws, request) {
      const { config, id } = accepted.get(request) ?? {};
      if (!config || id === undefined) {
        ws.terminate();
        return;
      }
      const record: EmulatorConnection = {
        index: connections.length,
        headers: { ...request.headers },
        query: new URL(request.url ?? '/', 'http://localhost').searchParams,
        config,
        audioBytes: 0,
        controlMessages: [],
      };
      connections.push(record);
      requestIds.push(id);
      const connection = new ListenConnection(ws, record, config, id, {
        faults: () => emulator.faults,
        session: options.transcriber.open(config.format),
        finalPieceSeconds: options.finalPieceSeconds,
        onDisposed: () => live.delete(connection),
      });
      live.add(connection);
    },
  });
  // Read by the server's callbacks, which run only once a client connects.
  const emulator: DeepgramEmulator = {
    vendor: 'deepgram',
    endpoint: server.origin,
    apiKey,
    connections,
    requestIds,
    faults: { ...options.faults },
    dropAll: () => server.dropAll(),
    close: async () => {
      for (const connection of live) connection.dispose();
      await server.close();
    },
  };
  return emulator;
}

/** The key a request presents: `Authorization: Token <key>`, or the `token, <key>` subprotocols. */
function presentedKey(request: IncomingMessage): string | undefined {
  const authorization = request.headers.authorization;
  if (typeof authorization === 'string') {
    return /^token\s+(.+)$/i.exec(authorization.trim())?.[1];
  }
  const protocols = (request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  const at = protocols.findIndex((p) => p.toLowerCase() === 'token');
  return at >= 0 ? protocols[at + 1] : undefined;
}

function refusal(
  status: number,
  errCode: string,
  message: string,
  requestId: string,
): UpgradeRefusal {
  return {
    status,
    headers: {
      'content-type': 'application/json',
      'dg-error': message,
      'dg-request-id': requestId,
    },
    body: JSON.stringify({ err_code: errCode, err_msg: message, request_id: requestId }),
  };
}

/** The listen options the emulator acts on, or the 400 message Deepgram would give. */
export function parseListenQuery(query: URLSearchParams): DeepgramListenConfig | string {
  const model = query.get('model') ?? 'base';
  const encodingName = query.get('encoding');
  if (encodingName === null && query.get('sample_rate') !== null) {
    return 'sample_rate requires encoding: containerized audio declares its own.';
  }
  const encoding =
    encodingName === null ? 'pcm16' : RAW_ENCODINGS[encodingName as keyof typeof RAW_ENCODINGS];
  if (encoding === undefined) {
    return OTHER_DEEPGRAM_ENCODINGS.has(encodingName ?? '')
      ? `The emulator cannot decode encoding ${encodingName}; use linear16, mulaw or alaw, or send a container without encoding.`
      : `Invalid encoding: ${encodingName}.`;
  }
  const sampleRate =
    encodingName === null ? CONTAINER_DECODE_RATE : Number(query.get('sample_rate'));
  if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) {
    return 'sample_rate is required with a raw encoding and must be an integer from 8000 to 48000.';
  }
  const channels = Number(query.get('channels') ?? '1');
  if (!Number.isInteger(channels) || channels < 1 || channels > 2) {
    return 'channels must be 1 or 2.';
  }
  if (/^nova-3/.test(model) && query.getAll('keywords').some((k) => k.trim() !== '')) {
    return 'Keywords are not supported for Nova-3. Please use `keyterm` instead.';
  }
  const utteranceEnd = query.get('utterance_end_ms');
  const utteranceEndMs = utteranceEnd === null ? undefined : Number(utteranceEnd);
  if (utteranceEndMs !== undefined && !(Number.isInteger(utteranceEndMs) && utteranceEndMs > 0)) {
    return 'utterance_end_ms must be a positive integer.';
  }
  const flag = (name: string) => query.get(name) === 'true';
  return {
    model,
    format: { encoding, sampleRate, channels: encodingName === null ? 1 : channels },
    containerized: encodingName === null,
    interimResults: flag('interim_results'),
    vadEvents: flag('vad_events'),
    utteranceEndMs,
    endpointing: query.get('endpointing') !== 'false',
    diarize: flag('diarize'),
    punctuate: flag('punctuate') || flag('smart_format'),
  };
}

interface ListenConnectionContext {
  /** The emulator's faults, read live. */
  readonly faults: () => EmulatorFaults;
  readonly session: TranscriberSession;
  readonly finalPieceSeconds: number | undefined;
  readonly onDisposed: () => void;
}

/** A word of a `Results` alternative, as Deepgram sends it. */
interface DeepgramWireWord {
  readonly word: string;
  readonly start: number;
  readonly end: number;
  readonly confidence: number;
  readonly punctuated_word?: string;
  readonly speaker?: number;
}

/** How a final came about, which decides its flags. */
type FinalCause = 'pause' | 'finalize' | 'close';

/** One `/v1/listen` connection: audio in, Deepgram messages out, faults applied. */
class ListenConnection {
  private readonly clock = new AudioFaultClock();
  private readonly byteRate: number;
  private readonly modelUuid = randomUUID();
  private idleTimer: NodeJS.Timeout | undefined;
  /** Set while the transcriber flushes for a `Finalize` or `CloseStream`. */
  private cause: FinalCause = 'pause';
  private finalsDuringFlush = 0;
  /** End (seconds) of the last `is_final` window: the next result starts there. */
  private cursor = 0;
  private lastSpeechStart: number | undefined;
  private pendingUtteranceEnd: number | undefined;
  private done = false;
  /** Containerized audio: FFmpeg, and the bytes of PCM it has decoded. */
  private readonly decoder: ContainerDecoder | undefined;
  private decodedBytes = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly record: EmulatorConnection,
    private readonly config: DeepgramListenConfig,
    private readonly requestId: string,
    private readonly context: ListenConnectionContext,
  ) {
    this.byteRate = bytesPerSecond(config.format);
    this.decoder = config.containerized
      ? new ContainerDecoder(config.format.sampleRate, {
          pcm: (pcm) => this.hear(pcm),
          undecodable: () => this.closeWith(1008, DEEPGRAM_DATA_0000_REASON),
        })
      : undefined;
    context.session.on('utterance', (u) => this.onUtterance(u));
    context.session.on('speech', (start) => this.onSpeech(start));
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', (code, reason) => {
      this.record.closed ??= { code, reason: reason.toString() };
      this.dispose();
    });
    this.armIdleTimer();
  }

  /** Seconds of audio heard: the bytes received, or for a container those decoded. */
  private get audioSeconds(): number {
    return (this.decoder ? this.decodedBytes : this.record.audioBytes) / this.byteRate;
  }

  /** Stops timers and the transcriber. Idempotent. */
  dispose(): void {
    if (this.done) return;
    this.done = true;
    clearTimeout(this.idleTimer);
    this.decoder?.kill();
    this.context.session.close();
    this.context.onDisposed();
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    if (this.done) return;
    this.armIdleTimer();
    if (!isBinary) {
      this.onControl(data.toString('utf8'));
      return;
    }
    // An empty binary frame is Deepgram's old way of asking to close the stream.
    if (data.byteLength === 0) {
      void this.closeStream();
      return;
    }
    this.record.audioBytes += data.byteLength;
    if (this.decoder) this.decoder.write(data);
    else this.hear(data);
  }

  /** Audio the transcriber can hear: raw frames as they come, or a container decoded. */
  private hear(pcm: Uint8Array): void {
    if (this.done) return;
    if (this.decoder) this.decodedBytes += pcm.byteLength;
    if (this.applyAudioFault()) return;
    this.context.session.write(pcm);
    this.maybeUtteranceEnd();
  }

  private onControl(text: string): void {
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      message = text;
    }
    this.record.controlMessages.push(message);
    const type = (message as { type?: unknown } | null)?.type;
    if (type === 'Finalize') this.flush('finalize');
    else if (type === 'CloseStream') void this.closeStream();
    // KeepAlive (and anything else) gets no reply; it only reset the idle timer.
  }

  /** Applies the audio-driven fault now due; true when the connection is gone. */
  private applyAudioFault(): boolean {
    const faults = this.context.faults();
    const fault = this.clock.due(faults, this.audioSeconds);
    if (fault === 'drop') {
      this.record.closed = { code: 1006, reason: '' };
      this.ws.terminate();
      return true;
    }
    if (fault === 'close' && faults.closeAfterAudioSeconds) {
      this.closeWith(faults.closeAfterAudioSeconds.code, faults.closeAfterAudioSeconds.reason);
      return true;
    }
    if (fault === 'limit') {
      // Deepgram has no stream cap; the generic one closes as Deepgram closes on a server error.
      this.closeWith(1011, `stream limit: more than ${faults.maxStreamSeconds} seconds of audio`);
      return true;
    }
    return false;
  }

  private closeWith(code: number, reason: string): void {
    this.record.closed ??= { code, reason };
    this.ws.close(code, reason);
    this.dispose();
  }

  private armIdleTimer(): void {
    clearTimeout(this.idleTimer);
    const seconds = this.context.faults().idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_SECONDS;
    this.idleTimer = setTimeout(
      () => this.closeWith(1011, DEEPGRAM_NET0001_REASON),
      seconds * 1000,
    );
  }

  private flush(cause: FinalCause): void {
    this.cause = cause;
    this.finalsDuringFlush = 0;
    this.context.session.finalize();
    this.cause = 'pause';
    // Deepgram answers every Finalize, with an empty result when nothing was pending.
    if (cause === 'finalize' && this.finalsDuringFlush === 0) {
      this.sendResults([], 0, {
        isFinal: true,
        speechFinal: false,
        fromFinalize: true,
        end: this.audioSeconds,
      });
    }
  }

  private async closeStream(): Promise<void> {
    if (this.clock.stalled) return;
    this.cause = 'close';
    await this.decoder?.end();
    if (this.done) return;
    await this.context.session.end();
    this.cause = 'pause';
    if (this.done) return;
    this.send({
      type: 'Metadata',
      transaction_key: 'deprecated',
      request_id: this.requestId,
      sha256: '0'.repeat(64),
      created: new Date().toISOString(),
      duration: this.audioSeconds,
      channels: this.config.format.channels,
    });
    this.closeWith(1000, '');
  }

  private onSpeech(start: number): void {
    // The transcriber repeats `speech` until its interim; Deepgram announces speech once.
    if (start === this.lastSpeechStart) return;
    this.lastSpeechStart = start;
    const gap = (this.config.utteranceEndMs ?? 0) / 1000;
    if (this.pendingUtteranceEnd !== undefined && start < this.pendingUtteranceEnd + gap) {
      this.pendingUtteranceEnd = undefined;
    }
    if (this.config.vadEvents)
      this.send({ type: 'SpeechStarted', channel: CHANNEL, timestamp: start });
  }

  private onUtterance(u: TranscribedUtterance): void {
    const words = u.words.map((w, i) => this.word(w, u.index, i, u.words.length, u.isFinal));
    if (!u.isFinal) {
      if (this.config.interimResults) {
        this.sendResults(words, u.confidence, {
          isFinal: false,
          speechFinal: false,
          fromFinalize: false,
          end: Math.max(this.audioSeconds, u.end),
        });
      }
      return;
    }
    this.finalsDuringFlush++;
    const pieces = splitWords(words, this.context.finalPieceSeconds);
    pieces.forEach((piece, i) => {
      const last = i === pieces.length - 1;
      this.sendResults(piece, u.confidence, {
        isFinal: true,
        // Endpointing marks the pause; a flush is not a pause.
        speechFinal: last && this.cause === 'pause' && this.config.endpointing,
        fromFinalize: this.cause === 'finalize',
        end: last ? Math.max(this.audioSeconds, u.end) : (piece[piece.length - 1]?.end ?? u.end),
      });
    });
    const lastWord = u.words[u.words.length - 1];
    if (this.config.utteranceEndMs !== undefined && lastWord) {
      this.pendingUtteranceEnd = lastWord.end;
    }
  }

  private maybeUtteranceEnd(): void {
    const lastWordEnd = this.pendingUtteranceEnd;
    if (lastWordEnd === undefined || this.config.utteranceEndMs === undefined) return;
    if (this.audioSeconds < lastWordEnd + this.config.utteranceEndMs / 1000) return;
    this.pendingUtteranceEnd = undefined;
    this.send({ type: 'UtteranceEnd', channel: CHANNEL, last_word_end: lastWordEnd });
  }

  /** Sends a `Results` covering [cursor, end]; an `is_final` one moves the cursor to its end. */
  private sendResults(
    words: readonly DeepgramWireWord[],
    confidence: number,
    flags: { isFinal: boolean; speechFinal: boolean; fromFinalize: boolean; end: number },
  ): void {
    const start = this.cursor;
    const end = Math.max(flags.end, start);
    if (flags.isFinal) this.cursor = end;
    this.send({
      type: 'Results',
      channel_index: CHANNEL,
      duration: end - start,
      start,
      is_final: flags.isFinal,
      speech_final: flags.speechFinal,
      ...(flags.fromFinalize ? { from_finalize: true } : {}),
      channel: {
        alternatives: [
          {
            transcript: words.map((w) => w.punctuated_word ?? w.word).join(' '),
            confidence: words.length > 0 ? confidence : 0,
            words,
          },
        ],
      },
      metadata: {
        request_id: this.requestId,
        model_info: { name: this.config.model, version: '2025-01-01.0', arch: this.config.model },
        model_uuid: this.modelUuid,
      },
    });
  }

  private word(
    w: TranscribedWord,
    utterance: number,
    i: number,
    count: number,
    isFinal: boolean,
  ): DeepgramWireWord {
    return {
      word: w.word.toLowerCase(),
      start: w.start,
      end: w.end,
      confidence: w.confidence,
      ...(this.config.punctuate ? { punctuated_word: punctuated(w.word, i, count, isFinal) } : {}),
      // Speakers alternate by utterance: enough for tests to see labels travel.
      ...(this.config.diarize ? { speaker: (utterance + 1) % 2 } : {}),
    };
  }

  private send(message: Record<string, unknown>): void {
    if (this.done || this.clock.stalled || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(JSON.stringify(message));
  }
}

/** A word as `punctuate=true` gives it: capitalised first, a full stop after a final's last. */
function punctuated(word: string, i: number, count: number, isFinal: boolean): string {
  const cased = i === 0 ? word.charAt(0).toUpperCase() + word.slice(1) : word;
  return isFinal && i === count - 1 ? `${cased}.` : cased;
}

/** Words cut into pieces spanning at most `seconds` each (one piece when unset). */
function splitWords<W extends { start: number; end: number }>(
  words: readonly W[],
  seconds: number | undefined,
): W[][] {
  if (seconds === undefined || words.length === 0) return [[...words]];
  const pieces: W[][] = [];
  let current: W[] = [];
  for (const w of words) {
    const first = current[0];
    if (first && w.end - first.start > seconds) {
      pieces.push(current);
      current = [];
    }
    current.push(w);
  }
  pieces.push(current);
  return pieces;
}
