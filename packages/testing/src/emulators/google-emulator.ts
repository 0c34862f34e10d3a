import { createRequire } from 'node:module';
import { createServer, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import {
  type GrpcObject,
  loadPackageDefinition,
  Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServiceClientConstructor,
  status,
} from '@grpc/grpc-js';
import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
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
  type Transcriber,
  type TranscriberSession,
} from './transcriber.js';

/** Google's cap on one `StreamingRecognize` call, in seconds. */
const GOOGLE_MAX_STREAM_SECONDS = 305;
/** Seconds without audio after which Google ends a call ("Audio Timeout Error"), roughly. */
const GOOGLE_IDLE_TIMEOUT_SECONDS = 10;
/** Google's limit on the audio of one request (quotas page: 25 KB). */
const GOOGLE_MAX_REQUEST_AUDIO_BYTES = 25_000;
/** How long a half-closed call waits for a `cancelled` that may follow before ending OK. */
const HALF_CLOSE_GRACE_MS = 20;

/** Options of {@link startGoogleEmulator}. */
export interface GoogleEmulatorOptions extends EmulatorOptions {
  /** Turns each call's audio into interim and final results. */
  readonly transcriber: Transcriber;
  /** The `stability` reported on interim results (0–1). Defaults to 0.9. */
  readonly interimStability?: number;
}

/** A running Google Speech-to-Text v1 emulator. */
export interface GoogleEmulator extends Emulator {
  readonly vendor: 'google';
  /** The port it listens on (`endpoint` is `127.0.0.1:<port>`). */
  readonly port: number;
  /** TCP connections open now (a client that closed its channel leaves none). */
  readonly openSockets: number;
}

/** A `google.protobuf.Duration` as proto-loader (`longs: String`) carries it. */
interface Duration {
  readonly seconds: string;
  readonly nanos: number;
}

/** The parts of `StreamingRecognitionConfig` the emulator reads (proto-loader camelCase). */
interface StreamingConfig {
  readonly config?: {
    readonly encoding?: string;
    readonly sampleRateHertz?: number;
    readonly audioChannelCount?: number;
    readonly languageCode?: string;
    readonly enableWordTimeOffsets?: boolean;
    readonly diarizationConfig?: { readonly enableSpeakerDiarization?: boolean } | null;
  } | null;
  readonly interimResults?: boolean;
  readonly enableVoiceActivityEvents?: boolean;
}

interface StreamingRecognizeRequest {
  readonly streamingRequest?: 'streamingConfig' | 'audioContent';
  readonly streamingConfig?: StreamingConfig | null;
  readonly audioContent?: Buffer;
}

/** `StreamingRecognizeResponse`, as much of it as the emulator sends. */
interface StreamingRecognizeResponse {
  readonly results: readonly unknown[];
  readonly speechEventType?: string;
  readonly speechEventTime?: Duration;
}

type Call = ServerDuplexStream<StreamingRecognizeRequest, StreamingRecognizeResponse>;

let speechPackage: PackageDefinition | undefined;

/**
 * Loads `google/cloud/speech/v1/cloud_speech.proto` from the installed `@google-cloud/speech`
 * (its common imports from that package's own `google-gax`), so the emulator speaks exactly
 * the messages of the SDK version under test.
 */
function loadSpeechProto(): PackageDefinition {
  if (speechPackage) return speechPackage;
  // The CJS build has no import.meta.url, but has require.
  const here = typeof require === 'function' ? require : createRequire(import.meta.url);
  const speechMain = here.resolve('@google-cloud/speech');
  const gaxMain = createRequire(speechMain).resolve('google-gax');
  speechPackage = loadSync('google/cloud/speech/v1/cloud_speech.proto', {
    includeDirs: [
      join(dirname(speechMain), '..', 'protos'),
      join(dirname(gaxMain), '..', 'protos'),
    ],
    keepCase: false,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return speechPackage;
}

function duration(seconds: number): Duration {
  const whole = Math.floor(seconds);
  const nanos = Math.min(999_999_999, Math.round((seconds - whole) * 1e9));
  return { seconds: String(whole), nanos };
}

/** The raw format a `RecognitionConfig` declares, or Google's complaint about it. */
function declaredFormat(
  config: NonNullable<StreamingConfig['config']>,
): EmulatorAudioFormat | string {
  const rate = config.sampleRateHertz ?? 0;
  const channels = Math.max(1, config.audioChannelCount ?? 0);
  if (!config.languageCode) return "Invalid recognition 'config': missing language_code.";
  if (config.encoding === 'LINEAR16') {
    if (rate < 8000 || rate > 48000) {
      return `sample_rate_hertz (${rate}) must be between 8000 and 48000 for LINEAR16.`;
    }
    return { encoding: 'pcm16', sampleRate: rate, channels };
  }
  if (config.encoding === 'MULAW') {
    if (rate !== 8000) return `sample_rate_hertz (${rate}) must be 8000 for MULAW.`;
    return { encoding: 'mulaw', sampleRate: rate, channels };
  }
  return `Invalid recognition 'config': encoding ${config.encoding ?? 'unset'} is not supported by the emulator.`;
}

/**
 * Starts a Google Cloud Speech-to-Text v1 emulator: a real gRPC server (grpc-js, the
 * installed SDK's own `cloud_speech.proto`) on `127.0.0.1:0`, insecure, implementing
 * `Speech.StreamingRecognize` (other RPCs answer UNIMPLEMENTED). Like the real service: the
 * first request must be `streaming_config`, later ones `audio_content` of at most 25 KB
 * (else INVALID_ARGUMENT); the key travels in `x-goog-api-key` metadata (a wrong or missing
 * key is UNAUTHENTICATED); results carry `stability`, `is_final`, `result_end_time` from the
 * call's start and word offsets when asked; `SPEECH_ACTIVITY_BEGIN`/`END` when voice activity
 * events are on; a call longer than `faults.maxStreamSeconds` (305) of audio or silent for
 * `faults.idleTimeoutSeconds` (10) ends with OUT_OF_RANGE and Google's message. Real-time
 * pacing ("Audio data is being streamed too slow") is not enforced.
 *
 * Point the SDK at it with `apiEndpoint: '127.0.0.1', port` and insecure `sslCreds` from the
 * SDK's own `google-gax` grpc, sending the key as `x-goog-api-key` metadata.
 *
 * @example
 * ```ts
 * const emulator = await startGoogleEmulator({
 *   transcriber: scriptedTranscriber([{ text: 'hello world', start: 0.5, end: 1.5 }]),
 * });
 * const provider = createGoogleProvider({ endpoint: emulator.endpoint, insecure: true,
 *   apiKey: emulator.apiKey });
 * // …
 * await emulator.close();
 * ```
 */
export async function startGoogleEmulator(options: GoogleEmulatorOptions): Promise<GoogleEmulator> {
  const apiKey = options.apiKey ?? EMULATOR_API_KEY;
  const stability = options.interimStability ?? 0.9;
  const connections: EmulatorConnection[] = [];
  const sockets = new Set<Socket>();
  const liveCalls = new Set<GoogleCall>();

  const grpcServer = new Server();
  const cloud = (loadPackageDefinition(loadSpeechProto()).google as GrpcObject).cloud as GrpcObject;
  const speech = ((cloud.speech as GrpcObject).v1 as GrpcObject).Speech as ServiceClientConstructor;
  grpcServer.addService(speech.service, {
    streamingRecognize: (call: Call) => {
      const record: EmulatorConnection = {
        index: connections.length,
        headers: metadataHeaders(call.metadata),
        query: new URLSearchParams(),
        config: undefined,
        audioBytes: 0,
        controlMessages: [],
      };
      connections.push(record);
      const live = new GoogleCall(call, record, emulator, apiKey, stability, options.transcriber);
      liveCalls.add(live);
      live.onDone = () => liveCalls.delete(live);
      live.start();
    },
  });

  // Connections come through a plain TCP server and are injected into grpc-js, so the
  // emulator owns the sockets and can drop one abruptly, as a network does.
  const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());
  const tcp = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    injector.injectConnection(socket);
  });
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
  const address = tcp.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  const dropSocket = (peer: string): boolean => {
    for (const socket of sockets) {
      if (`${socket.remoteAddress}:${socket.remotePort}` === peer) {
        socket.destroy();
        return true;
      }
    }
    return false;
  };

  const emulator: GoogleEmulator & { dropSocket(peer: string): boolean } = {
    vendor: 'google',
    endpoint: `127.0.0.1:${port}`,
    port,
    get openSockets() {
      return sockets.size;
    },
    apiKey,
    connections,
    faults: { ...options.faults },
    dropSocket,
    dropAll() {
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const call of liveCalls) call.release();
      for (const socket of sockets) socket.destroy();
      injector.destroy();
      grpcServer.forceShutdown();
      await new Promise<void>((resolve) => tcp.close(() => resolve()));
    },
  };
  return emulator;
}

function metadataHeaders(metadata: Metadata): Record<string, string | string[] | undefined> {
  const headers: Record<string, string | string[] | undefined> = {};
  for (const [key, value] of Object.entries(metadata.toJSON())) {
    const texts = value.map((v) => (typeof v === 'string' ? v : v.toString('base64')));
    headers[key] = texts.length === 1 ? texts[0] : texts;
  }
  return headers;
}

interface EmulatorHandle {
  readonly faults: EmulatorFaults;
  dropSocket(peer: string): boolean;
}

/** One `StreamingRecognize` call: its checks, its transcriber session, its timers and faults. */
class GoogleCall {
  onDone: () => void = () => {};
  private config: StreamingConfig | undefined;
  private session: TranscriberSession | undefined;
  private byteRate = 1;
  private readonly clock = new AudioFaultClock();
  private idleTimer: NodeJS.Timeout | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private lastSpeechStart: number | undefined;
  private done = false;

  constructor(
    private readonly call: Call,
    private readonly record: EmulatorConnection,
    private readonly emulator: EmulatorHandle,
    private readonly apiKey: string,
    private readonly stability: number,
    private readonly transcriber: Transcriber,
  ) {}

  start(): void {
    const faults = this.emulator.faults;
    this.call.on('error', () => {});
    this.call.on('cancelled', () => this.ended(status.CANCELLED, 'Cancelled'));
    if (takeRefusal(faults)) {
      this.fail(status.UNAVAILABLE, 'The service is currently unavailable.');
      return;
    }
    const key = this.call.metadata.get('x-goog-api-key')[0]?.toString();
    if (faults.rejectAuth || key !== this.apiKey) {
      this.fail(
        status.UNAUTHENTICATED,
        key === undefined
          ? 'Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.'
          : 'API key not valid. Please pass a valid API key.',
      );
      return;
    }
    this.call.on('data', (request: StreamingRecognizeRequest) => this.onRequest(request));
    this.call.on('end', () => void this.onHalfClose());
  }

  /** Drops everything without a status: the emulator is shutting down. */
  release(): void {
    this.ended(status.CANCELLED, 'Emulator closed');
  }

  private onRequest(request: StreamingRecognizeRequest): void {
    if (this.done) return;
    if (this.config === undefined) {
      this.onConfig(request);
      return;
    }
    if (request.streamingRequest !== 'audioContent' || !request.audioContent) {
      this.fail(
        status.INVALID_ARGUMENT,
        'Malformed request: streaming_config may only be sent in the first StreamingRecognizeRequest.',
      );
      return;
    }
    this.onAudio(request.audioContent);
  }

  private onConfig(request: StreamingRecognizeRequest): void {
    const streamingConfig = request.streamingConfig;
    if (request.streamingRequest !== 'streamingConfig' || !streamingConfig?.config) {
      this.fail(
        status.INVALID_ARGUMENT,
        'Malformed request: the first StreamingRecognizeRequest must contain streaming_config with a config.',
      );
      return;
    }
    const format = declaredFormat(streamingConfig.config);
    if (typeof format === 'string') {
      this.fail(status.INVALID_ARGUMENT, format);
      return;
    }
    this.config = streamingConfig;
    this.record.config = streamingConfig;
    this.byteRate = bytesPerSecond(format);
    const session = this.transcriber.open(format);
    this.session = session;
    session.on('speech', (start) => this.onSpeech(start));
    session.on('utterance', (utterance) => this.onUtterance(utterance));
    // The call is accepted: response headers go out now, before any result.
    this.call.sendMetadata(new Metadata());
    this.armIdleTimer();
  }

  private onAudio(audio: Buffer): void {
    if (audio.byteLength > GOOGLE_MAX_REQUEST_AUDIO_BYTES) {
      this.fail(
        status.INVALID_ARGUMENT,
        `Request audio_content is ${audio.byteLength} bytes; each request may carry at most ${GOOGLE_MAX_REQUEST_AUDIO_BYTES} bytes (25 KB).`,
      );
      return;
    }
    this.record.audioBytes += audio.byteLength;
    this.armIdleTimer();
    const faults = this.emulator.faults;
    const maxStreamSeconds = faults.maxStreamSeconds ?? GOOGLE_MAX_STREAM_SECONDS;
    const due = this.clock.due(
      { ...faults, maxStreamSeconds },
      this.record.audioBytes / this.byteRate,
    );
    if (due === 'drop') {
      this.drop();
      return;
    }
    if (due === 'close' && faults.closeAfterAudioSeconds) {
      this.fail(faults.closeAfterAudioSeconds.code, faults.closeAfterAudioSeconds.reason);
      return;
    }
    if (due === 'limit') {
      this.fail(
        status.OUT_OF_RANGE,
        `Exceeded maximum allowed stream duration of ${maxStreamSeconds} seconds.`,
      );
      return;
    }
    this.session?.write(audio);
  }

  private async onHalfClose(): Promise<void> {
    if (this.done) return;
    this.clearIdleTimer();
    await this.session?.end();
    // grpc-js shows a client's cancel as the end of its requests, then `cancelled` a moment
    // later: wait that moment, so a cancelled call is not recorded as a clean end.
    await new Promise<void>((resolve) => {
      this.graceTimer = setTimeout(resolve, HALF_CLOSE_GRACE_MS);
    });
    // A stalled upstream answers nothing, not even the end of the call.
    if (this.done || this.clock.stalled) return;
    this.ended(status.OK, 'OK');
    this.call.end();
  }

  private onSpeech(start: number): void {
    // The scripted session repeats `speech` until its interim; Google sends BEGIN once.
    if (start === this.lastSpeechStart) return;
    this.lastSpeechStart = start;
    if (this.config?.enableVoiceActivityEvents) {
      this.send({
        results: [],
        speechEventType: 'SPEECH_ACTIVITY_BEGIN',
        speechEventTime: duration(start),
      });
    }
  }

  private onUtterance(u: TranscribedUtterance): void {
    const config = this.config;
    if (!config) return;
    if (!u.isFinal && !config.interimResults) return;
    if (u.isFinal && config.enableVoiceActivityEvents) {
      this.send({
        results: [],
        speechEventType: 'SPEECH_ACTIVITY_END',
        speechEventTime: duration(u.end),
      });
    }
    const recognition = config.config;
    const diarize = recognition?.diarizationConfig?.enableSpeakerDiarization === true;
    // Google lists words (with offsets, confidence, speaker) on final results only.
    const words =
      u.isFinal && (recognition?.enableWordTimeOffsets || diarize)
        ? u.words.map((w) => ({
            word: w.word,
            startTime: duration(w.start),
            endTime: duration(w.end),
            confidence: w.confidence,
            ...(diarize ? { speakerTag: 1, speakerLabel: '1' } : {}),
          }))
        : [];
    this.send({
      results: [
        {
          alternatives: [{ transcript: u.text, confidence: u.isFinal ? u.confidence : 0, words }],
          isFinal: u.isFinal,
          stability: u.isFinal ? 0 : this.stability,
          resultEndTime: duration(u.end),
          languageCode: (recognition?.languageCode ?? '').toLowerCase(),
        },
      ],
    });
  }

  private send(response: StreamingRecognizeResponse): void {
    if (this.done || this.clock.stalled) return;
    this.call.write(response);
  }

  private armIdleTimer(): void {
    this.clearIdleTimer();
    const seconds = this.emulator.faults.idleTimeoutSeconds ?? GOOGLE_IDLE_TIMEOUT_SECONDS;
    this.idleTimer = setTimeout(() => {
      this.fail(
        status.OUT_OF_RANGE,
        'Audio Timeout Error: Long duration elapsed without audio. Audio should be sent close to real time.',
      );
    }, seconds * 1000);
  }

  private clearIdleTimer(): void {
    if (this.idleTimer !== undefined) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** Ends the call with a non-OK status, as the service does. */
  private fail(code: number, details: string): void {
    if (this.done) return;
    this.ended(code, details);
    this.call.emit('error', { code, details, metadata: new Metadata() });
  }

  /** Destroys the connection under the call: no status, as a network drop. */
  private drop(): void {
    const peer = this.call.getPeer();
    this.ended(status.UNAVAILABLE, 'Connection dropped');
    if (!this.emulator.dropSocket(peer)) {
      this.call.emit('error', {
        code: status.UNAVAILABLE,
        details: 'Connection dropped (no socket)',
      });
    }
  }

  private ended(code: number, reason: string): void {
    if (this.done) return;
    this.done = true;
    this.record.closed = { code, reason };
    this.clearIdleTimer();
    clearTimeout(this.graceTimer);
    this.session?.close();
    this.onDone();
  }
}
