import { randomUUID } from 'node:crypto';
import { EarshotError, type Logger, PCM16_16K_MONO } from '@earshot/protocol';
import type { TranscriptionCreateParamsNonStreaming } from 'openai/resources/audio/transcriptions';
import { assertAcceptedFormat } from '../shared/accepted-format.js';
import { loadOptionalSdk } from '../shared/optional-sdk.js';
import { providerFailure } from '../shared/provider-failure.js';
import type {
  ProviderCapabilities,
  SttProvider,
  SttStream,
  SttStreamOptions,
} from '../stt-provider.js';
import { createVoiceActivityDetector, type VoiceActivityDetectorOptions } from '../vad/index.js';
import { transcriptionFailure } from './openai-batch-errors.js';
import { OpenAIBatchSttStream, type TranscribeUtterance } from './openai-batch-stream.js';

/** Settings of {@link createOpenAIBatchProvider}. Only the key is needed. */
export interface OpenAIBatchProviderSettings {
  /** The API key. Defaults to the `OPENAI_API_KEY` environment variable. */
  readonly apiKey?: string;
  /**
   * The API's base URL, e.g. an emulator's `http://127.0.0.1:PORT/v1`. Defaults to the
   * `OPENAI_BASE_URL` environment variable, then `https://api.openai.com/v1`.
   */
  readonly baseURL?: string;
  /**
   * The transcription model. Defaults to `whisper-1`, the only one that answers
   * `verbose_json` (word times, segment log probabilities); others (`gpt-4o-transcribe`, …)
   * are asked for `json`: text only.
   */
  readonly model?: string;
  /**
   * ISO-639-1 language of the audio (`en`). Defaults to the primary subtag of the stream's
   * BCP-47 language (`en-US` → `en`); `'auto'` lets the model detect it.
   */
  readonly language?: string;
  /**
   * Text that steers the model's spelling and style (OpenAI's `prompt`). The stream's
   * `keywords` are appended to it, which is how this provider boosts them.
   */
  readonly prompt?: string;
  /** Ask `whisper-1` for word times (`timestamp_granularities[]=word`). Defaults to true. */
  readonly wordTimestamps?: boolean;
  /**
   * The voice activity detector that cuts utterances (16 kHz). Defaults to its own defaults:
   * speech after 90 ms of voice, an utterance ends after 600 ms of silence.
   */
  readonly vad?: Omit<VoiceActivityDetectorOptions, 'sampleRate'>;
  /** Audio sent before each detected start, seconds. Defaults to 0.3. */
  readonly preRollSeconds?: number;
  /**
   * Audio sent after each detected end, seconds. Defaults to 0.3; never more than the
   * detector's end silence.
   */
  readonly postRollSeconds?: number;
  /** Longest utterance posted, seconds; longer speech is cut there. Defaults to 30. */
  readonly maxUtteranceSeconds?: number;
  /** Requests in flight per stream. Defaults to 2. */
  readonly concurrency?: number;
  /** How long one request may take before the stream fails with `timeout`, seconds. Defaults to 30. */
  readonly requestTimeoutSeconds?: number;
  /**
   * Look the model up (`GET /v1/models/{model}`) in `open()`, so a bad key, an unknown model
   * or an endpoint that is down fails the open rather than the first utterance. One round
   * trip per open, which a warm pool (`createResilientProvider({ warm })`) takes off the
   * session's path. Defaults to true.
   */
  readonly verifyOnOpen?: boolean;
  /** Where the provider logs. Silent by default. */
  readonly logger?: Logger;
}

/** The `openai-batch` provider. */
export interface OpenAIBatchProvider extends SttProvider {
  readonly name: 'openai-batch';
}

const DEFAULT_MODEL = 'whisper-1';
const PROVIDER = 'openai-batch';

function positive(name: string, value: number | undefined, fallback: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isFinite(v) || v < 0 || v > max) {
    throw new EarshotError(
      'invalid_request',
      `${name} must be a number from 0 to ${max}, not ${v}`,
    );
  }
  return v;
}

/** Whether `error` is OpenAI refusing a restricted key the `api.model.read` scope. */
function lacksModelScope(error: unknown, sdk: typeof import('openai')): boolean {
  return (
    error instanceof sdk.APIError &&
    (error.status === 401 || error.status === 403) &&
    /missing scopes/i.test(error.message)
  );
}

/** `en-US` → `en`; `auto` or empty → undefined (the model detects the language). */
function isoLanguage(language: string): string | undefined {
  const primary = language.split(/[-_]/)[0]?.toLowerCase() ?? '';
  return primary === '' || primary === 'auto' ? undefined : primary;
}

/**
 * Creates the `openai-batch` provider: streaming transcription on OpenAI's non-streaming
 * `POST /v1/audio/transcriptions` (Whisper), the way LiveKit's `StreamAdapter` does it.
 * Earshot's voice activity detector cuts the stream into utterances; each is posted as a WAV
 * file and its answer becomes the utterance's one final, in spoken order. No interims.
 *
 * `open()` looks the model up, so a bad key (`auth`), an unknown model (`rejected`) or an
 * endpoint that is down (`unreachable`) fails there, as with the streaming providers.
 *
 * @example
 * ```ts
 * import { createOpenAIBatchProvider } from '@earshot/providers/openai-batch';
 *
 * const whisper = createOpenAIBatchProvider({ apiKey: process.env.OPENAI_API_KEY });
 * const stream = await whisper.open({ audio: PCM16_16K_MONO, language: 'en-US',
 *   interimResults: false, keywords: [], diarize: false });
 * stream.on('transcript', (t) => log.info({ text: t.text, start: t.start }));
 * stream.write(pcm);
 * await stream.end();
 * ```
 */
export function createOpenAIBatchProvider(
  settings: OpenAIBatchProviderSettings = {},
): OpenAIBatchProvider {
  const model = settings.model ?? DEFAULT_MODEL;
  const verbose = model === DEFAULT_MODEL;
  const wordTimestamps = verbose && (settings.wordTimestamps ?? true);
  const vadOptions = settings.vad ?? {};
  const endSilenceSeconds = (vadOptions.endSilenceMs ?? 600) / 1000;
  const preRollSeconds = positive('preRollSeconds', settings.preRollSeconds, 0.3, 5);
  const postRollSeconds = Math.min(
    positive('postRollSeconds', settings.postRollSeconds, 0.3, 5),
    endSilenceSeconds,
  );
  // The 25 MB upload limit is ~13 minutes of 16 kHz PCM16; Whisper reads 30 s at a time.
  const maxUtteranceSeconds = Math.max(
    1,
    positive('maxUtteranceSeconds', settings.maxUtteranceSeconds, 30, 600),
  );
  const concurrency = Math.max(1, Math.floor(positive('concurrency', settings.concurrency, 2, 64)));
  const timeoutMs =
    positive('requestTimeoutSeconds', settings.requestTimeoutSeconds, 30, 600) * 1000;
  // The detector may place a start this far back: its start delay, padding and a frame of
  // carry; the history keeps that much audio (and the pre-roll) while nobody speaks.
  const lookbackSeconds =
    preRollSeconds +
    ((vadOptions.startSpeechMs ?? 90) +
      (vadOptions.preSpeechPaddingMs ?? 0) +
      2 * (vadOptions.frameMs ?? 30)) /
      1000 +
    0.25;

  const capabilities: ProviderCapabilities = Object.freeze({
    inputFormats: Object.freeze([PCM16_16K_MONO]),
    interimResults: false,
    wordTimings: wordTimestamps,
    diarization: false,
    keywordBoosting: true,
    languages: 'any',
  });

  const instanceId = randomUUID().slice(0, 8);
  let streamCount = 0;

  async function open(options: SttStreamOptions, signal?: AbortSignal): Promise<SttStream> {
    assertAcceptedFormat('openai-batch', [PCM16_16K_MONO], options.audio);
    const aborted = () =>
      EarshotError.from(signal?.reason ?? 'aborted', 'provider_error').asFatal();
    if (signal?.aborted) throw aborted();
    const apiKey = settings.apiKey || process.env.OPENAI_API_KEY;
    if (!apiKey) {
      throw providerFailure('auth', 'no OpenAI API key: set apiKey or OPENAI_API_KEY', {
        provider: PROVIDER,
      });
    }
    const sdk = await loadOptionalSdk('openai', () => import('openai'));
    let client: InstanceType<typeof sdk.OpenAI>;
    try {
      client = new sdk.OpenAI({
        apiKey,
        baseURL: settings.baseURL ?? process.env.OPENAI_BASE_URL ?? null,
        // The resilient layer owns retries: one owner decides.
        maxRetries: 0,
        timeout: timeoutMs,
      });
    } catch (error) {
      throw providerFailure('rejected', `the OpenAI client refused its settings: ${error}`, {
        cause: error,
        provider: PROVIDER,
      });
    }
    if (settings.verifyOnOpen ?? true) {
      try {
        await client.models.retrieve(model, { ...(signal ? { signal } : {}) });
      } catch (error) {
        if (signal?.aborted) throw aborted();
        // A restricted key may transcribe without reading models: it is not a bad key, and
        // the first request will tell.
        if (!lacksModelScope(error, sdk)) throw transcriptionFailure(error, sdk, 'open');
      }
    }
    const detector = await createVoiceActivityDetector({ ...vadOptions, sampleRate: 16000 });
    if (signal?.aborted) {
      detector.close();
      throw aborted();
    }

    const language = isoLanguage(settings.language ?? options.language);
    const prompt = [settings.prompt, options.keywords.join(', ')]
      .filter((p): p is string => typeof p === 'string' && p.trim() !== '')
      .join(' ');
    const transcribe: TranscribeUtterance = async (wav, requestSignal) => {
      try {
        const params: TranscriptionCreateParamsNonStreaming = {
          file: await sdk.toFile(wav, 'utterance.wav', { type: 'audio/wav' }),
          model,
          response_format: verbose ? 'verbose_json' : 'json',
          ...(wordTimestamps ? { timestamp_granularities: ['word', 'segment'] } : {}),
          ...(language ? { language } : {}),
          ...(prompt ? { prompt } : {}),
        };
        return await client.audio.transcriptions.create(params, { signal: requestSignal });
      } catch (error) {
        throw transcriptionFailure(error, sdk);
      }
    };

    streamCount += 1;
    const logger = options.logger ?? settings.logger;
    return new OpenAIBatchSttStream({
      streamId: `${PROVIDER}-${instanceId}-${streamCount}`,
      detector,
      transcribe,
      concurrency,
      maxUtteranceSeconds,
      preRollSeconds,
      postRollSeconds,
      lookbackSeconds,
      ...(logger ? { logger } : {}),
    });
  }

  return { specificationVersion: 'v1', name: PROVIDER, capabilities, open };
}
