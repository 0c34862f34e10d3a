import { EarshotError, type Logger, silentLogger } from '@earshot/protocol';
import { loadOptionalSdk, openAIRequestFailure } from '@earshot/providers';
import type OpenAI from 'openai';
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions';
import { withinReplyDeadline } from './reply-deadline.js';
import { numberOption } from './reply-options.js';
import { replyWav } from './reply-wav.js';
import type { Reply, ReplyAudio, ReplyRequest, ReplyTurn, Responder } from './responder.js';

/** Options of {@link createOpenAIResponder}. Only the key is needed. */
export interface OpenAIResponderOptions {
  /** The OpenAI API key. Required: the server reads no environment variable itself. */
  readonly apiKey: string;
  /** The API's base URL, e.g. an emulator's `http://127.0.0.1:PORT/v1`. Defaults to OpenAI's. */
  readonly baseURL?: string;
  /** The chat model that writes the reply. Defaults to `gpt-4o-mini`. */
  readonly model?: string;
  /**
   * The system message, first in every request. Defaults to {@link DEFAULT_REPLY_INSTRUCTIONS};
   * an empty string sends none.
   */
  readonly instructions?: string;
  /** The voice that speaks the reply. Defaults to `alloy`. */
  readonly voice?: string;
  /** The text-to-speech model. Defaults to `gpt-4o-mini-tts`. */
  readonly speechModel?: string;
  /** Speak the reply (`audio`, a WAV), or answer text only. Defaults to true. */
  readonly speak?: boolean;
  /** Earlier exchanges sent with each request, at most (the latest ones), 0–100. Defaults to 10. */
  readonly maxHistory?: number;
  /** How long one reply may take, chat and speech together, in ms. Defaults to 30 000. */
  readonly timeoutMs?: number;
  /** Where the responder logs (token usage at debug). Silent by default. */
  readonly logger?: Logger;
}

/** The system message the `openai` responder sends unless given `instructions`. */
export const DEFAULT_REPLY_INSTRUCTIONS =
  'You are a helpful voice assistant. Your answers are spoken aloud: keep them to one or two short sentences of plain words, with no lists, markdown or emoji.';

const NAME = 'openai';
// The name errors carry in `details.provider`: `openai` alone is the Realtime STT provider.
const PROVIDER = 'openai-responder';

type OpenAISdk = typeof import('openai');

/**
 * Creates the `openai` responder: the transcript, with the system instructions and the
 * session's latest exchanges, goes to OpenAI's chat completions (`model`), and the answer is
 * spoken by its text-to-speech endpoint (`speechModel`, `voice`) as a WAV file. Uses the
 * official `openai` package, an optional peer dependency loaded on the first reply (missing
 * → `provider_unavailable` with the install command).
 *
 * Both requests carry the request's signal and share one `timeoutMs` deadline. A refused key
 * is `provider_unavailable`; a rejected request, a 5xx or a broken connection
 * `provider_error`; a 429 `capacity` (the failure's kind and `retryable` are in `details`).
 * None are fatal: the session goes on. The SDK's own retries are off: a caller is waiting
 * live, and the next utterance is the retry.
 *
 * @example
 * ```ts
 * const responder = createOpenAIResponder({
 *   apiKey: process.env.OPENAI_API_KEY!,
 *   instructions: 'You are the front desk of a dental clinic. Answer briefly.',
 *   voice: 'coral',
 * });
 * const reply = await responder.respond({ transcript, sessionId, metadata, history, signal });
 * ```
 */
export function createOpenAIResponder(options: OpenAIResponderOptions): Responder {
  if (typeof options.apiKey !== 'string' || options.apiKey === '') {
    throw new EarshotError('provider_unavailable', 'the openai responder needs an apiKey', {
      details: { provider: PROVIDER },
    });
  }
  const model = options.model ?? 'gpt-4o-mini';
  const instructions = options.instructions ?? DEFAULT_REPLY_INSTRUCTIONS;
  const voice = options.voice ?? 'alloy';
  const speechModel = options.speechModel ?? 'gpt-4o-mini-tts';
  const maxHistory = Math.floor(numberOption('maxHistory', options.maxHistory, 10, 0, 100));
  const timeoutMs = numberOption('timeoutMs', options.timeoutMs, 30_000, 1, 600_000);
  const logger = options.logger ?? silentLogger;
  let connecting: Promise<{ sdk: OpenAISdk; client: OpenAI }> | undefined;

  /** The SDK and a client, made once; a failed load is tried again on the next reply. */
  function connect(): Promise<{ sdk: OpenAISdk; client: OpenAI }> {
    connecting ??= loadOptionalSdk('openai', () => import('openai')).then(
      (sdk) => ({
        sdk,
        client: new sdk.OpenAI({
          apiKey: options.apiKey,
          // null, not undefined: the SDK would read OPENAI_BASE_URL, OPENAI_ORG_ID and
          // OPENAI_PROJECT_ID, and a library reads no environment.
          baseURL: options.baseURL ?? null,
          organization: null,
          project: null,
          maxRetries: 0,
          timeout: timeoutMs,
        }),
      }),
      (error: unknown) => {
        connecting = undefined;
        throw notFatal(EarshotError.from(error, 'provider_unavailable'));
      },
    );
    return connecting;
  }

  async function respond(request: ReplyRequest): Promise<Reply> {
    return withinReplyDeadline(request.signal, timeoutMs, 'the OpenAI reply', async (signal) => {
      const { sdk, client } = await connect();
      const messages = chatMessages(instructions, request.history, maxHistory, request.transcript);
      let text: string;
      try {
        const completion = await client.chat.completions.create({ model, messages }, { signal });
        const message = completion.choices[0]?.message;
        // A refusal comes instead of content; it is still what the assistant says.
        text = (message?.content ?? message?.refusal ?? '').trim();
        logger.debug({ model, usage: completion.usage }, 'reply written');
      } catch (error) {
        throw replyFailure(error, sdk, 'a chat completion');
      }
      if (text === '') {
        throw new EarshotError('provider_error', 'OpenAI answered with no reply text', {
          details: { provider: PROVIDER },
        });
      }
      if (options.speak === false) return { text };
      return { text, audio: await speech(sdk, client, text, signal) };
    });
  }

  async function speech(
    sdk: OpenAISdk,
    client: OpenAI,
    text: string,
    signal: AbortSignal,
  ): Promise<ReplyAudio> {
    let bytes: Uint8Array;
    try {
      const response = await client.audio.speech.create(
        { model: speechModel, voice, input: text, response_format: 'wav' },
        { signal },
      );
      bytes = new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw replyFailure(error, sdk, 'a speech request');
    }
    return replyWav(bytes, 'OpenAI text-to-speech');
  }

  return { name: NAME, respond };
}

/** The request's messages: the instructions, the latest `maxHistory` exchanges, the transcript. */
function chatMessages(
  instructions: string,
  history: readonly ReplyTurn[],
  maxHistory: number,
  transcript: string,
): ChatCompletionMessageParam[] {
  // slice(-0) would keep everything.
  const turns = maxHistory === 0 ? [] : history.slice(-maxHistory);
  return [
    ...(instructions === '' ? [] : [{ role: 'system' as const, content: instructions }]),
    ...turns.flatMap((turn) => [
      { role: 'user' as const, content: turn.user },
      { role: 'assistant' as const, content: turn.assistant },
    ]),
    { role: 'user', content: transcript },
  ];
}

/** An SDK failure as the reply's error: mapped as every OpenAI request is, but not fatal. */
function replyFailure(error: unknown, sdk: OpenAISdk, request: string): EarshotError {
  return notFatal(openAIRequestFailure(error, sdk, { provider: PROVIDER, request }));
}

/**
 * The same error, not fatal. Provider failures are fatal to the stream that met them; a
 * reply that fails leaves the session going, and its error says so.
 */
function notFatal(error: EarshotError): EarshotError {
  if (!error.fatal) return error;
  return new EarshotError(error.code, error.message, {
    cause: error.cause,
    ...(error.details ? { details: error.details } : {}),
  });
}
