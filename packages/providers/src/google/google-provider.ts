import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import {
  type AudioFormat,
  describeAudioFormat,
  EarshotError,
  type Logger,
  silentLogger,
} from '@earshot/protocol';
import { loadOptionalSdk } from '../shared/optional-sdk.js';
import { providerFailure } from '../shared/provider-failure.js';
import type {
  ProviderCapabilities,
  SttProvider,
  SttStream,
  SttStreamOptions,
} from '../stt-provider.js';
import { googleFailure, openAborted } from './google-errors.js';
import { type GoogleCall, GoogleSttStream } from './google-stream.js';
import type { GoogleSpeechContext, GoogleStreamingConfig } from './google-wire.js';

/**
 * The longest a `StreamingRecognize` call may run: Google ends it past this with OUT_OF_RANGE
 * "Exceeded maximum allowed stream duration of 305 seconds." The provider never rotates
 * streams itself; it declares a shorter `capabilities.maxStreamSeconds` (290 by default) so
 * the resilient layer opens the next stream before this.
 */
export const GOOGLE_STREAM_LIMIT_SECONDS = 305;

/** What `capabilities.maxStreamSeconds` says unless `settings.maxStreamSeconds` does (Google's sample restarts at 290 s). */
export const GOOGLE_DEFAULT_MAX_STREAM_SECONDS = 290;

/** Seconds without audio after which Google ends a call ("Audio Timeout Error"), roughly. */
export const GOOGLE_IDLE_TIMEOUT_SECONDS = 10;

/** Where Speech-to-Text v1 listens. */
export const GOOGLE_DEFAULT_ENDPOINT = 'speech.googleapis.com:443';

/** Settings of {@link createGoogleProvider}. */
export interface GoogleProviderSettings {
  /**
   * An API key, sent as `x-goog-api-key` metadata on each call. Defaults to `GOOGLE_API_KEY`.
   * Without one, credentials are whatever `@google-cloud/speech` finds: `keyFilename`,
   * `credentials`, or Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`).
   */
  readonly apiKey?: string;
  /** A service account key file, passed to the SDK (used when there is no `apiKey`). */
  readonly keyFilename?: string;
  /** Service account credentials (`client_email`, `private_key`), passed to the SDK. */
  readonly credentials?: Readonly<Record<string, unknown>>;
  /** The Google Cloud project, passed to the SDK. */
  readonly projectId?: string;
  /**
   * `host:port` of the Speech-to-Text gRPC endpoint. Defaults to `GOOGLE_SPEECH_ENDPOINT`,
   * then `speech.googleapis.com:443`; an emulator's is `127.0.0.1:PORT`.
   */
  readonly endpoint?: string;
  /**
   * Plain-text gRPC without credentials, for a loopback emulator. Defaults to
   * `GOOGLE_SPEECH_INSECURE=1`. An `apiKey` is still sent as metadata.
   */
  readonly insecure?: boolean;
  /** PEM certificate(s) to trust for a TLS endpoint with a private CA (with `apiKey`). */
  readonly ca?: string;
  /** `RecognitionConfig.model`, e.g. `phone_call`, `latest_long`. Google picks when absent. */
  readonly model?: string;
  /** `RecognitionConfig.use_enhanced`: the enhanced variant of `model`, where there is one. */
  readonly useEnhanced?: boolean;
  /** Phrase hints sent with every stream, after the ones made from the stream's `keywords`. */
  readonly speechContexts?: readonly GoogleSpeechContext[];
  /** The `boost` of the phrase hint made from a stream's `keywords`. Defaults to 10. */
  readonly keywordBoost?: number;
  /** `enable_automatic_punctuation`. Defaults to true. */
  readonly enableAutomaticPunctuation?: boolean;
  /** `profanity_filter`. Google's default (off) when absent. */
  readonly profanityFilter?: boolean;
  /**
   * Ask for `SPEECH_ACTIVITY_BEGIN`/`END` events (`speech_started`, `utterance_end`).
   * Defaults to true.
   */
  readonly voiceActivityEvents?: boolean;
  /** Interims below this `stability` (0–1) are not emitted. Defaults to 0: all are. */
  readonly minStability?: number;
  /**
   * What `capabilities.maxStreamSeconds` declares, so the resilient layer rotates streams
   * before Google's {@link GOOGLE_STREAM_LIMIT_SECONDS}. Defaults to 290.
   */
  readonly maxStreamSeconds?: number;
  /** How long `open()` waits for Google to take the call. Defaults to 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /**
   * After this long with a connected channel and no refusal, `open()` resolves even if the
   * server has sent no response headers yet. Defaults to 1500 ms.
   */
  readonly acceptWindowMs?: number;
  /** How long `end()` waits for Google's last results and the end of the call. Defaults to 10 000 ms. */
  readonly closeTimeoutMs?: number;
  /** Where the provider logs. Silent by default. */
  readonly logger?: Logger;
}

/** The Google provider: an {@link SttProvider} on Speech-to-Text v1 `StreamingRecognize`. */
export interface GoogleProvider extends SttProvider {
  readonly name: 'google';
}

/** PCM16 mono at the usual rates (Google takes LINEAR16 at 8000–48000 Hz), and μ-law 8 kHz. */
const INPUT_FORMATS: readonly AudioFormat[] = Object.freeze(
  [
    ...[8000, 16000, 22050, 24000, 32000, 44100, 48000].map((sampleRate) => ({
      encoding: 'pcm16' as const,
      sampleRate,
      channels: 1,
    })),
    { encoding: 'mulaw' as const, sampleRate: 8000, channels: 1 },
  ].map((format) => Object.freeze(format)),
);

/** The SDK as the provider uses it: the v1 client and the grpc-js of its own google-gax. */
interface GoogleSdk {
  readonly SpeechClient: new (options: Record<string, unknown>) => SpeechClientLike;
  readonly grpc: GrpcLike;
}

interface SpeechClientLike {
  initialize(): Promise<unknown>;
  _streamingRecognize(options?: { otherArgs?: { headers?: Record<string, string> } }): GoogleCall;
  close(): Promise<void>;
}

interface GrpcLike {
  readonly credentials: {
    createInsecure(): unknown;
    createSsl(rootCerts?: Buffer | null): unknown;
  };
  readonly connectivityState: { readonly READY: number };
}

/** What `client.initialize()` resolves to: the service stub, a grpc-js `Client`. */
interface StubLike {
  getChannel?(): { getConnectivityState(tryToConnect: boolean): number };
}

let sdkLoading: Promise<GoogleSdk> | undefined;

/**
 * Loads `@google-cloud/speech` and the grpc-js that its own google-gax uses: channel
 * credentials from any other copy of grpc-js fail its `instanceof` check.
 */
function loadGoogleSdk(): Promise<GoogleSdk> {
  sdkLoading ??= loadOptionalSdk('@google-cloud/speech', async () => {
    const speech = await import('@google-cloud/speech');
    // The CJS build has no import.meta.url, but has require.
    const here = typeof require === 'function' ? require : createRequire(import.meta.url);
    const gax = createRequire(here.resolve('@google-cloud/speech'))('google-gax') as {
      grpc: GrpcLike;
    };
    return {
      SpeechClient: speech.v1.SpeechClient as unknown as GoogleSdk['SpeechClient'],
      grpc: gax.grpc,
    };
  }).catch((error: unknown) => {
    sdkLoading = undefined;
    throw error;
  });
  return sdkLoading;
}

/**
 * Creates the `google` provider: Google Cloud Speech-to-Text v1 `StreamingRecognize` through
 * `@google-cloud/speech` (an optional peer dependency, loaded on the first `open()`).
 *
 * Google has no flush: `finalize()` does nothing, the final comes at a pause or at `end()`.
 * It has no keepalive message either: the resilient layer keeps a silent stream alive with
 * silence. Calls are capped at {@link GOOGLE_STREAM_LIMIT_SECONDS}; the provider declares
 * `maxStreamSeconds` (290) and the resilient layer rotates streams before it. The SDK never
 * retries a streaming call.
 *
 * @example
 * ```ts
 * import { createGoogleProvider } from '@earshot/providers/google';
 *
 * const google = createGoogleProvider({ model: 'phone_call', useEnhanced: true,
 *   speechContexts: [{ phrases: ['reminder', 'todo'], boost: 15 }] });
 * const stream = await google.open({ audio: { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
 *   language: 'en-US', interimResults: true, keywords: [], diarize: false });
 * stream.on('transcript', (t) => t.isFinal && log.info({ text: t.text }));
 * stream.write(mulaw);
 * await stream.end();
 * ```
 */
export function createGoogleProvider(settings: GoogleProviderSettings = {}): GoogleProvider {
  const apiKey = settings.apiKey ?? process.env.GOOGLE_API_KEY;
  const endpoint =
    settings.endpoint ?? process.env.GOOGLE_SPEECH_ENDPOINT ?? GOOGLE_DEFAULT_ENDPOINT;
  const insecure = settings.insecure ?? process.env.GOOGLE_SPEECH_INSECURE === '1';
  const connectTimeoutMs = settings.connectTimeoutMs ?? 10_000;
  const acceptWindowMs = settings.acceptWindowMs ?? 1500;
  const closeTimeoutMs = settings.closeTimeoutMs ?? 10_000;
  const instanceId = randomUUID().slice(0, 8);
  let streamCount = 0;

  const capabilities: ProviderCapabilities = Object.freeze({
    inputFormats: INPUT_FORMATS,
    interimResults: true,
    wordTimings: true,
    diarization: true,
    keywordBoosting: true,
    languages: 'any',
    maxStreamSeconds: settings.maxStreamSeconds ?? GOOGLE_DEFAULT_MAX_STREAM_SECONDS,
    idleTimeoutSeconds: GOOGLE_IDLE_TIMEOUT_SECONDS,
  });

  async function open(options: SttStreamOptions, signal?: AbortSignal): Promise<SttStream> {
    const encoding = googleEncoding(options.audio);
    if (signal?.aborted) throw openAborted(signal);
    const sdk = await loadGoogleSdk();
    if (signal?.aborted) throw openAborted(signal);
    const logger = options.logger ?? settings.logger ?? silentLogger;
    const config = streamingConfig(options, encoding, settings, logger);

    let client: SpeechClientLike;
    let stub: StubLike;
    try {
      client = new sdk.SpeechClient(clientOptions(endpoint, insecure, apiKey, settings, sdk.grpc));
    } catch (error) {
      throw googleFailure(error, 'open');
    }
    const closeClient = () => {
      client.close().catch((error: unknown) => {
        logger.debug({ error: String(error) }, 'closing the google client failed');
      });
    };
    try {
      // Credentials are resolved here (ADC may look around); a failure would otherwise surface
      // as an unhandled rejection inside the SDK's _streamingRecognize.
      stub = (await bounded(client.initialize(), connectTimeoutMs, signal, endpoint)) as StubLike;
    } catch (error) {
      closeClient();
      throw EarshotError.isInstance(error) ? error : googleFailure(error, 'open');
    }

    const call = client._streamingRecognize(
      apiKey ? { otherArgs: { headers: { 'x-goog-api-key': apiKey } } } : {},
    );
    streamCount += 1;
    const stream = new GoogleSttStream(call, {
      streamId: `gg-${instanceId}-${streamCount}`,
      interimResults: options.interimResults,
      minStability: settings.minStability ?? 0,
      diarize: options.diarize,
      closeTimeoutMs,
      closeClient,
      channelReady: async () =>
        stub.getChannel?.().getConnectivityState(false) === sdk.grpc.connectivityState.READY,
      logger,
    });
    // The SDK's streamingRecognize() helper sends the config only with the first audio; sent
    // now, a refused key or config surfaces in open(), not at the first write.
    call.write({ streamingConfig: config });
    await stream.connect({ endpoint, timeoutMs: connectTimeoutMs, acceptWindowMs, signal });
    logger.debug(
      { endpoint, model: config.config.model, encoding: config.config.encoding },
      'google stream open',
    );
    return stream;
  }

  return { specificationVersion: 'v1', name: 'google', capabilities, open };
}

function googleEncoding(audio: AudioFormat): 'LINEAR16' | 'MULAW' {
  if (audio.channels === 1) {
    if (audio.encoding === 'pcm16' && audio.sampleRate >= 8000 && audio.sampleRate <= 48000) {
      return 'LINEAR16';
    }
    if (audio.encoding === 'mulaw' && audio.sampleRate === 8000) return 'MULAW';
  }
  throw new EarshotError(
    'unsupported_audio_format',
    `the google provider takes mono pcm16 (8000–48000 Hz) or mulaw/8000, not ${describeAudioFormat(audio)}`,
  );
}

/** The stream options a client may set through `providerOptions` (others are ignored). */
interface GoogleStreamOverrides {
  model?: string;
  useEnhanced?: boolean;
  speechContexts?: GoogleSpeechContext[];
  enableAutomaticPunctuation?: boolean;
  profanityFilter?: boolean;
}

function isSpeechContext(value: unknown): value is GoogleSpeechContext {
  if (typeof value !== 'object' || value === null) return false;
  const { phrases, boost } = value as { phrases?: unknown; boost?: unknown };
  return (
    Array.isArray(phrases) &&
    phrases.every((p) => typeof p === 'string') &&
    (boost === undefined || typeof boost === 'number')
  );
}

/** The valid Google options among a stream's `providerOptions`; the rest is logged and dropped. */
function streamOverrides(
  providerOptions: Readonly<Record<string, unknown>> | undefined,
  logger: Logger,
): GoogleStreamOverrides {
  const overrides: GoogleStreamOverrides = {};
  for (const [key, value] of Object.entries(providerOptions ?? {})) {
    if (key === 'model' && typeof value === 'string') overrides.model = value;
    else if (key === 'useEnhanced' && typeof value === 'boolean') overrides.useEnhanced = value;
    else if (key === 'enableAutomaticPunctuation' && typeof value === 'boolean') {
      overrides.enableAutomaticPunctuation = value;
    } else if (key === 'profanityFilter' && typeof value === 'boolean') {
      overrides.profanityFilter = value;
    } else if (
      key === 'speechContexts' &&
      Array.isArray(value) &&
      value.every((c) => isSpeechContext(c))
    ) {
      overrides.speechContexts = value;
    } else logger.warn({ option: key }, 'google provider option ignored');
  }
  return overrides;
}

/**
 * The `StreamingRecognitionConfig` of a stream: the audio as it is, Earshot's options, then
 * the provider's settings, then the stream's own `providerOptions`.
 */
export function streamingConfig(
  options: SttStreamOptions,
  encoding: 'LINEAR16' | 'MULAW',
  settings: GoogleProviderSettings,
  logger: Logger = silentLogger,
): GoogleStreamingConfig {
  const overrides = streamOverrides(options.providerOptions, logger);
  const keywordContext: GoogleSpeechContext[] =
    options.keywords.length > 0
      ? [{ phrases: [...options.keywords], boost: settings.keywordBoost ?? 10 }]
      : [];
  const model = overrides.model ?? settings.model;
  const useEnhanced = overrides.useEnhanced ?? settings.useEnhanced;
  const profanityFilter = overrides.profanityFilter ?? settings.profanityFilter;
  return {
    config: {
      encoding,
      sampleRateHertz: options.audio.sampleRate,
      audioChannelCount: 1,
      languageCode: options.language,
      ...(model === undefined ? {} : { model }),
      ...(useEnhanced === undefined ? {} : { useEnhanced }),
      ...(profanityFilter === undefined ? {} : { profanityFilter }),
      enableWordTimeOffsets: true,
      enableAutomaticPunctuation:
        overrides.enableAutomaticPunctuation ?? settings.enableAutomaticPunctuation ?? true,
      speechContexts: [
        ...keywordContext,
        ...(overrides.speechContexts ?? settings.speechContexts ?? []),
      ],
      ...(options.diarize ? { diarizationConfig: { enableSpeakerDiarization: true } } : {}),
    },
    interimResults: options.interimResults,
    enableVoiceActivityEvents: settings.voiceActivityEvents ?? true,
  };
}

/** `host` and `port` of `host:port` (`[v6]:port`; a scheme is ignored; port 443 by default). */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const bare = endpoint.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
  const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(bare);
  if (!match?.[1]) {
    throw new EarshotError('provider_unavailable', `invalid Google endpoint "${endpoint}"`, {
      fatal: true,
      details: { provider: 'google' },
    });
  }
  return { host: match[1].replace(/^\[|\]$/g, ''), port: Number(match[2] ?? 443) };
}

/** Options of the SDK's `SpeechClient`: where, and with which credentials. */
function clientOptions(
  endpoint: string,
  insecure: boolean,
  apiKey: string | undefined,
  settings: GoogleProviderSettings,
  grpc: GrpcLike,
): Record<string, unknown> {
  const { host, port } = parseEndpoint(endpoint);
  // gRPC only: streaming calls have no REST fallback.
  const options: Record<string, unknown> = { apiEndpoint: host, port, fallback: false };
  if (settings.projectId !== undefined) options.projectId = settings.projectId;
  if (insecure || apiKey) {
    // Our own channel credentials: the SDK uses them as they are (no OAuth), and is told the
    // universe so google-auth-library does not look for default credentials to learn it.
    options.sslCreds = insecure
      ? grpc.credentials.createInsecure()
      : grpc.credentials.createSsl(settings.ca === undefined ? null : Buffer.from(settings.ca));
    options.universeDomain = 'googleapis.com';
  } else {
    if (settings.keyFilename !== undefined) options.keyFilename = settings.keyFilename;
    if (settings.credentials !== undefined) options.credentials = settings.credentials;
  }
  return options;
}

/** `work`, or a rejection once `timeoutMs` has passed (`unreachable`) or `signal` aborts. */
function bounded<T>(
  work: Promise<T>,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  endpoint: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => settle(() => reject(openAborted(signal as AbortSignal)));
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(
            providerFailure(
              'unreachable',
              `Google's client for ${endpoint} was not ready within ${timeoutMs} ms`,
              { provider: 'google' },
            ),
          ),
        ),
      timeoutMs,
    );
    let settled = false;
    const settle = (action: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      action();
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  });
}
