import { randomUUID } from 'node:crypto';
import { Agent } from 'node:https';
import type { DeepgramClient } from '@deepgram/sdk';
import { type AudioFormat, EarshotError, type Logger, silentLogger } from '@earshot/protocol';
import { assertAcceptedFormat } from '../shared/accepted-format.js';
import { loadOptionalSdk } from '../shared/optional-sdk.js';
import { providerFailure } from '../shared/provider-failure.js';
import type {
  ProviderCapabilities,
  SttProvider,
  SttStream,
  SttStreamOptions,
} from '../stt-provider.js';
import { connectFailure, openAborted } from './deepgram-errors.js';
import { DeepgramSttStream } from './deepgram-stream.js';

/** A query parameter value: repeated for arrays; `null` removes a default. */
export type DeepgramQueryValue = string | number | boolean | readonly (string | number)[] | null;

/** Settings of {@link createDeepgramProvider}. */
export interface DeepgramProviderSettings {
  /** The API key, sent as `Authorization: Token <key>`. Defaults to `DEEPGRAM_API_KEY`. */
  readonly apiKey?: string;
  /**
   * Where the live API is. Defaults to `DEEPGRAM_URL`, then `wss://api.deepgram.com`; point it
   * at an emulator with `ws://127.0.0.1:PORT`.
   */
  readonly baseUrl?: string;
  /** The model. Defaults to `nova-3` (keywords become `keyterm` on Nova-3, `keywords` before). */
  readonly model?: string;
  /**
   * Other `/v1/listen` query parameters, e.g. `{ smart_format: true, endpointing: 300,
   * utterance_end_ms: 1500 }`. A stream's `providerOptions` override these; `null` removes a
   * default. `encoding`, `sample_rate` and `channels` always follow the stream's audio.
   */
  readonly options?: Readonly<Record<string, DeepgramQueryValue>>;
  /** PEM certificate(s) to trust for a `wss://` base URL with a private CA. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[];
  /** How long `open()` waits for Deepgram to accept the stream. Defaults to 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** How long `end()` waits for Deepgram's last results and close. Defaults to 10 000 ms. */
  readonly closeTimeoutMs?: number;
  /** Where the provider logs. Silent by default. */
  readonly logger?: Logger;
}

/** The Deepgram provider: an {@link SttProvider} on Deepgram's live streaming API. */
export interface DeepgramProvider extends SttProvider {
  /** Always `deepgram`. */
  readonly name: 'deepgram';
}

const DEFAULT_BASE_URL = 'wss://api.deepgram.com';
const DEFAULT_MODEL = 'nova-3';

/**
 * PCM16 mono at every rate Earshot accepts that Deepgram takes as `linear16`, G.711, and
 * browsers' WebM/Opus and Ogg/Opus, passed through untouched (Deepgram reads the container).
 */
const INPUT_FORMATS: readonly AudioFormat[] = Object.freeze(
  [
    ...[8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000].map((sampleRate) => ({
      encoding: 'pcm16' as const,
      sampleRate,
      channels: 1,
    })),
    { encoding: 'mulaw' as const, sampleRate: 8000, channels: 1 },
    { encoding: 'alaw' as const, sampleRate: 8000, channels: 1 },
    { encoding: 'webm-opus' as const, sampleRate: 48000, channels: 1 },
    { encoding: 'ogg-opus' as const, sampleRate: 48000, channels: 1 },
  ].map((format) => Object.freeze(format)),
);

// Containers have none: Deepgram reads the format from their header.
const DEEPGRAM_ENCODING = {
  pcm16: 'linear16',
  mulaw: 'mulaw',
  alaw: 'alaw',
  'webm-opus': undefined,
  'ogg-opus': undefined,
} as const;

/**
 * Creates the `deepgram` provider: Deepgram's live `/v1/listen` WebSocket through
 * `@deepgram/sdk` v5 (an optional peer dependency, loaded on the first `open()`). The SDK's
 * own reconnection is switched off: a failed upstream is reported with its
 * {@link providerFailure} kind and the resilient layer decides what to do.
 *
 * @example
 * ```ts
 * import { createDeepgramProvider } from '@earshot/providers/deepgram';
 *
 * const deepgram = createDeepgramProvider({ apiKey: process.env.DEEPGRAM_API_KEY,
 *   options: { smart_format: true } });
 * const stream = await deepgram.open({ audio: PCM16_16K_MONO, language: 'en-US',
 *   interimResults: true, keywords: ['Earshot'], diarize: false });
 * stream.on('transcript', (t) => t.isFinal && log.info({ text: t.text }));
 * stream.write(pcm);
 * await stream.end();
 * ```
 */
export function createDeepgramProvider(settings: DeepgramProviderSettings = {}): DeepgramProvider {
  const apiKey = settings.apiKey ?? process.env.DEEPGRAM_API_KEY;
  const baseUrl = settings.baseUrl ?? process.env.DEEPGRAM_URL ?? DEFAULT_BASE_URL;
  const connectTimeoutMs = settings.connectTimeoutMs ?? 10_000;
  const closeTimeoutMs = settings.closeTimeoutMs ?? 10_000;
  const instanceId = randomUUID().slice(0, 8);
  let streamCount = 0;
  let client: DeepgramClient | undefined;

  const capabilities: ProviderCapabilities = Object.freeze({
    inputFormats: INPUT_FORMATS,
    interimResults: true,
    wordTimings: true,
    diarization: true,
    keywordBoosting: true,
    languages: 'any',
    idleTimeoutSeconds: 10,
  });

  async function getClient(): Promise<DeepgramClient> {
    if (client) return client;
    const sdk = await loadOptionalSdk('@deepgram/sdk', () => import('@deepgram/sdk'));
    client = new sdk.DeepgramClient({
      apiKey,
      baseUrl,
      // Only applies to custom transports today; said anyway so no SDK layer retries.
      reconnect: false,
      ...(settings.ca === undefined ? {} : { agent: new Agent({ ca: settings.ca as string[] }) }),
    });
    return client;
  }

  async function open(options: SttStreamOptions, signal?: AbortSignal): Promise<SttStream> {
    const encoding = deepgramEncoding(options.audio);
    if (!apiKey) {
      throw providerFailure('auth', 'no Deepgram API key: set apiKey or DEEPGRAM_API_KEY', {
        provider: 'deepgram',
      });
    }
    if (signal?.aborted) throw openAborted(signal);
    const deepgram = await getClient();
    const query = listenQuery(options, encoding, settings);
    const logger = options.logger ?? settings.logger ?? silentLogger;
    let socket: Awaited<ReturnType<DeepgramClient['listen']['v1']['connect']>>;
    try {
      socket = await deepgram.listen.v1.connect({
        model: String(query.model ?? DEFAULT_MODEL),
        queryParams: query,
        // One owner for retries: the resilient layer. The SDK would otherwise reconnect up to
        // 30 times on any close but 1000, behind the session's back.
        reconnectAttempts: 0,
        shouldReconnect: () => false,
        // Longer than ours, so ours fires first and reports the timeout.
        connectionTimeoutInSeconds: Math.ceil(connectTimeoutMs / 1000) + 1,
      });
    } catch (error) {
      throw connectFailure(error);
    }
    streamCount += 1;
    const stream = new DeepgramSttStream(socket, {
      streamId: `dg-${instanceId}-${streamCount}`,
      interimResults: options.interimResults,
      closeTimeoutMs,
      logger,
    });
    await stream.connect(connectTimeoutMs, signal);
    logger.debug({ model: query.model, encoding }, 'deepgram stream open');
    return stream;
  }

  return { specificationVersion: 'v1', name: 'deepgram', capabilities, open };
}

function deepgramEncoding(
  audio: AudioFormat,
): (typeof DEEPGRAM_ENCODING)[keyof typeof DEEPGRAM_ENCODING] {
  assertAcceptedFormat('deepgram', INPUT_FORMATS, audio);
  return DEEPGRAM_ENCODING[audio.encoding as keyof typeof DEEPGRAM_ENCODING];
}

/** The `/v1/listen` query: Earshot's defaults, then settings, then the stream's own options. */
export function listenQuery(
  options: SttStreamOptions,
  encoding: string | undefined,
  settings: DeepgramProviderSettings,
): Record<string, string | string[]> {
  const model = queryValue(
    'model',
    options.providerOptions?.model ?? settings.model ?? DEFAULT_MODEL,
  );
  const keywordParam = /^nova-3/.test(model) ? 'keyterm' : 'keywords';
  const merged: Record<string, unknown> = {
    model,
    language: options.language,
    vad_events: true,
    // UtteranceEnd closes an utterance whose speech_final never came (noise, long pauses).
    utterance_end_ms: 1000,
    ...(options.diarize ? { diarize: true } : {}),
    ...(options.keywords.length > 0 ? { [keywordParam]: options.keywords } : {}),
    ...settings.options,
    ...options.providerOptions,
  };
  // The audio is what it is: these follow the stream's format whatever the options say. A
  // container declares its own, and Deepgram wants none of them then.
  Object.assign(
    merged,
    encoding === undefined
      ? { encoding: undefined, sample_rate: undefined, channels: undefined }
      : { encoding, sample_rate: options.audio.sampleRate, channels: 1 },
  );
  // Deepgram sends UtteranceEnd only with interim results on; they are dropped when unwanted.
  merged.interim_results = options.interimResults || merged.utterance_end_ms != null;
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(merged)) {
    if (value === null || value === undefined) continue;
    query[key] = Array.isArray(value)
      ? value.map((item, i) => queryValue(`${key}.${i}`, item))
      : queryValue(key, value);
  }
  return query;
}

/**
 * A query parameter's value as text. Only strings, numbers and booleans go into a URL: any
 * other value (an object, a symbol) is the client's mistake, refused as `invalid_message`
 * (not retried as an outage would be).
 */
function queryValue(key: string, value: unknown): string {
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  throw new EarshotError(
    'invalid_message',
    `providerOptions.${key}: expected a string, a finite number or a boolean (or a list of them)`,
    { fatal: true, details: { retryable: false } },
  );
}
