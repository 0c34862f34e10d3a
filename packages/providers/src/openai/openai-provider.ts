import { randomUUID } from 'node:crypto';
import {
  type AudioFormat,
  bytesPerSecond,
  EarshotError,
  type Logger,
  sameAudioFormat,
} from '@earshot/protocol';
import { assertAcceptedFormat } from '../shared/accepted-format.js';
import { loadOptionalSdk, providerFailure } from '../shared/index.js';
import type {
  ProviderCapabilities,
  SttProvider,
  SttStream,
  SttStreamOptions,
} from '../stt-provider.js';
import { unreachable } from './openai-errors.js';
import { OpenAISttStream, type RealtimeConnection } from './openai-stream.js';
import type {
  OpenAITurnDetection,
  RealtimeAudioFormat,
  TranscriptionSessionConfig,
} from './openai-wire.js';

/** Settings of {@link createOpenAIProvider}. */
export interface OpenAIProviderSettings {
  /** The API key. Defaults to the `OPENAI_API_KEY` environment variable. */
  readonly apiKey?: string;
  /**
   * The REST base URL the Realtime URL is derived from (the SDK appends `/realtime` and
   * forces `wss:`). Defaults to `OPENAI_BASE_URL`, then `https://api.openai.com/v1`.
   */
  readonly baseURL?: string;
  /** Sent as `OpenAI-Organization`. */
  readonly organization?: string;
  /** Sent as `OpenAI-Project`. */
  readonly project?: string;
  /** The transcription model. Defaults to `gpt-4o-transcribe`. */
  readonly model?: string;
  /** Guides the model (style, vocabulary). Keywords are appended to it (see `keywords`). */
  readonly prompt?: string;
  /**
   * How utterances are cut. Defaults to `{ type: 'server_vad' }` (OpenAI's defaults:
   * threshold 0.5, 300 ms prefix, 500 ms silence). `null`: only `finalize()`/`end()` commit.
   */
  readonly turnDetection?: OpenAITurnDetection;
  /** OpenAI's input noise reduction. Off by default. */
  readonly noiseReduction?: 'near_field' | 'far_field' | null;
  /** Asks for token logprobs, from which finals get a `confidence`. Off by default. */
  readonly logprobs?: boolean;
  /** PEM certificate(s) to trust for the TLS connection, e.g. a loopback emulator's. */
  readonly ca?: string | Buffer | (string | Buffer)[];
  /** Longest wait for the session to be configured at `open()`. Defaults to 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Longest wait in `end()` for transcriptions still outstanding. Defaults to 10 000 ms. */
  readonly endTimeoutMs?: number;
  /** Where the provider logs. Silent by default. */
  readonly logger?: Logger;
}

/** The OpenAI Realtime transcription provider. */
export interface OpenAIProvider extends SttProvider {
  readonly name: 'openai';
}

/** The transcription model used unless the settings or `providerOptions.model` name another. */
export const OPENAI_DEFAULT_MODEL = 'gpt-4o-transcribe';

const DEFAULT_BASE_URL = 'https://api.openai.com/v1';
/** Models that take `keywords` themselves; the others get them in the prompt. */
const KEYWORD_MODELS = new Set(['gpt-transcribe', 'gpt-live-transcribe']);

const FORMATS: readonly (readonly [AudioFormat, RealtimeAudioFormat])[] = [
  [
    { encoding: 'pcm16', sampleRate: 24000, channels: 1 },
    { type: 'audio/pcm', rate: 24000 },
  ],
  [{ encoding: 'mulaw', sampleRate: 8000, channels: 1 }, { type: 'audio/pcmu' }],
  [{ encoding: 'alaw', sampleRate: 8000, channels: 1 }, { type: 'audio/pcma' }],
];

/**
 * Creates the `openai` provider: Realtime transcription sessions through the `openai`
 * package's `OpenAIRealtimeWS` (`intent: 'transcription'`, GA `session.update`). Each item
 * OpenAI transcribes is one segment: its deltas are interims, its `completed` the final, in
 * spoken order even when items complete out of order. Install `openai` (>= 7) and `ws`.
 *
 * @example
 * ```ts
 * import { createOpenAIProvider } from '@earshot/providers/openai';
 *
 * const openai = createOpenAIProvider({ model: 'gpt-4o-transcribe' }); // key: OPENAI_API_KEY
 * const stream = await openai.open({ audio: { encoding: 'pcm16', sampleRate: 24000, channels: 1 },
 *   language: 'en-US', interimResults: true, keywords: ['Earshot'], diarize: false });
 * stream.on('transcript', (t) => t.isFinal && log.info({ text: t.text }));
 * stream.write(pcm24k);
 * await stream.end();
 * ```
 */
export function createOpenAIProvider(settings: OpenAIProviderSettings = {}): OpenAIProvider {
  const apiKey = settings.apiKey ?? process.env.OPENAI_API_KEY;
  const baseURL = settings.baseURL ?? process.env.OPENAI_BASE_URL ?? DEFAULT_BASE_URL;
  const instanceId = randomUUID().slice(0, 8);
  let streamCount = 0;

  const capabilities: ProviderCapabilities = Object.freeze({
    inputFormats: Object.freeze(FORMATS.map(([format]) => format)),
    interimResults: true,
    wordTimings: false,
    diarization: false,
    // Through `keywords` (gpt-transcribe, gpt-live-transcribe) or the prompt (other models).
    keywordBoosting: true,
    languages: 'any',
    // OpenAI caps a Realtime session at 60 minutes (third-party sources; unconfirmed).
    maxStreamSeconds: 3600,
  });

  async function open(options: SttStreamOptions, signal?: AbortSignal): Promise<SttStream> {
    assertAcceptedFormat('openai', capabilities.inputFormats, options.audio);
    const format = FORMATS.find(([f]) => sameAudioFormat(f, options.audio))![1];
    if (signal?.aborted) throw abortError(signal);
    if (!apiKey) {
      throw providerFailure('auth', 'no OpenAI API key: set apiKey or OPENAI_API_KEY', {
        provider: 'openai',
      });
    }
    const [{ OpenAIRealtimeWS }, { OpenAI }] = await loadOptionalSdk('openai', () =>
      Promise.all([import('openai/realtime/ws'), import('openai')]),
    );
    if (signal?.aborted) throw abortError(signal);

    let connection: RealtimeConnection;
    try {
      const client = new OpenAI({
        apiKey,
        baseURL,
        ...(settings.organization ? { organization: settings.organization } : {}),
        ...(settings.project ? { project: settings.project } : {}),
      });
      // No `reconnect`: the resilient layer owns reconnects (and the SDK's is for model
      // sessions only). The SDK's socket has its own `ws` options, where TLS trust goes.
      const realtime = new OpenAIRealtimeWS(
        { intent: 'transcription', options: settings.ca ? { ca: settings.ca } : {} },
        client,
      );
      connection = realtime as unknown as RealtimeConnection;
    } catch (cause) {
      throw unreachable(`cannot connect to ${baseURL}: ${String(cause)}`, cause);
    }

    streamCount += 1;
    const logger = options.logger ?? settings.logger;
    const stream = new OpenAISttStream(connection, {
      streamId: `openai-${instanceId}-${streamCount}`,
      session: transcriptionSession(options, format, settings),
      bytesPerSecond: bytesPerSecond(options.audio) ?? 1,
      interimResults: options.interimResults,
      connectTimeoutMs: settings.connectTimeoutMs ?? 10_000,
      endTimeoutMs: settings.endTimeoutMs ?? 10_000,
      ...(logger ? { logger } : {}),
    });
    const onAbort = () => stream.abandon(abortError(signal!));
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await stream.opened;
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    return stream;
  }

  return { specificationVersion: 'v1', name: 'openai', capabilities, open };
}

/** The GA `session.update` payload for one stream. */
function transcriptionSession(
  options: SttStreamOptions,
  format: RealtimeAudioFormat,
  settings: OpenAIProviderSettings,
): TranscriptionSessionConfig {
  const model =
    stringOption(options.providerOptions?.model) ?? settings.model ?? OPENAI_DEFAULT_MODEL;
  let prompt = stringOption(options.providerOptions?.prompt) ?? settings.prompt;
  const keywords = options.keywords.filter((k) => k.trim() !== '');
  const ownKeywords = keywords.length > 0 && KEYWORD_MODELS.has(model);
  if (keywords.length > 0 && !ownKeywords) {
    // whisper-1 reads its prompt as a keyword list; gpt-4o models take it as context.
    prompt = [prompt, `Vocabulary: ${keywords.join(', ')}.`].filter(Boolean).join(' ');
  }
  const language = iso639_1(options.language);
  return {
    type: 'transcription',
    audio: {
      input: {
        format,
        transcription: {
          model,
          ...(language ? { language } : {}),
          ...(prompt ? { prompt } : {}),
          ...(ownKeywords ? { keywords } : {}),
        },
        turn_detection:
          settings.turnDetection === undefined ? { type: 'server_vad' } : settings.turnDetection,
        noise_reduction: settings.noiseReduction ? { type: settings.noiseReduction } : null,
      },
    },
    ...(settings.logprobs ? { include: ['item.input_audio_transcription.logprobs'] } : {}),
  };
}

/** OpenAI wants ISO-639-1 (`en`), not BCP-47 (`en-US`); no language means detect it. */
function iso639_1(tag: string): string | undefined {
  const primary = tag.split(/[-_]/)[0]?.toLowerCase() ?? '';
  return ['', 'auto', 'multi', 'und', '*'].includes(primary) ? undefined : primary;
}

function stringOption(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function abortError(signal: AbortSignal): EarshotError {
  const reason: unknown = signal.reason;
  if (EarshotError.isInstance(reason)) return reason;
  return new EarshotError('provider_error', 'opening the OpenAI stream was aborted', {
    cause: reason,
  });
}
