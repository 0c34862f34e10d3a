import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { synthesizeSpeech } from '../speech-fixtures.js';
import { parseWavPcm16 } from '../wav.js';
import { EMULATOR_API_KEY, type Emulator, type EmulatorConnection } from './emulator.js';
import type { EmulatorFaults } from './faults.js';
import {
  answerOpenAI,
  authorizeOpenAI,
  invalidRequest,
  OpenAIHttpFailure,
  statusFailure,
} from './openai-http.js';

/** One chat message as the emulator hands it to `reply`: its role and its text. */
export interface OpenAIChatMessage {
  /** `system`, `developer`, `user`, `assistant` or `tool`. */
  readonly role: string;
  /** The message's text; the text parts joined when it was sent as parts. */
  readonly content: string;
}

/** Faults of {@link OpenAIChatEmulator}: the shared ones that fit an HTTP API, and `failNext`. */
export interface OpenAIChatEmulatorFaults extends EmulatorFaults {
  /**
   * Answer the next request (after its key is checked) with this HTTP status and OpenAI's
   * error body (`type` chosen by status as the API does: 5xx `server_error`, 429
   * `rate_limit_exceeded`), then clear itself.
   */
  failNext?: { readonly status: number; readonly message?: string };
}

/** Options of {@link startOpenAIChatEmulator}. */
export interface OpenAIChatEmulatorOptions {
  /** The key to accept. Defaults to {@link EMULATOR_API_KEY}. */
  readonly apiKey?: string;
  /** Faults from the start. */
  readonly faults?: OpenAIChatEmulatorFaults;
  /**
   * The assistant's answer to a chat completion request's messages. May be async: a test can
   * hold a request open to abort it. Defaults to {@link OPENAI_CHAT_EMULATOR_REPLY}.
   */
  readonly reply?: (messages: readonly OpenAIChatMessage[]) => string | Promise<string>;
  /** The espeak-ng voice that speaks `/v1/audio/speech` inputs, whatever voice is asked. `en-us`. */
  readonly espeakVoice?: string;
}

/** One request the emulator received, for assertions. */
export interface OpenAIChatEmulatorRequest extends EmulatorConnection {
  /** The URL path, e.g. `/v1/chat/completions`. */
  readonly path: string;
  /** The parsed JSON body (`undefined` when it was not JSON); also in `config`. */
  readonly body: unknown;
}

/**
 * An emulator of OpenAI's chat completions and text-to-speech endpoints. Of the shared
 * faults, `rejectAuth` (401) and `refuseNext` (503) apply; the audio-driven ones have no
 * audio stream to count and are ignored.
 */
export interface OpenAIChatEmulator extends Emulator {
  readonly vendor: 'openai-chat';
  /** Every request, in order: `config` and `body` hold its JSON body, `closed.code` the status answered. */
  readonly connections: readonly OpenAIChatEmulatorRequest[];
  faults: OpenAIChatEmulatorFaults;
}

/** What the emulator's assistant answers unless given a `reply`. */
export const OPENAI_CHAT_EMULATOR_REPLY = 'Hello from the emulator. How can I help?';

/** The one rate of `pcm` speech (and of the `wav` the emulator writes): 24 kHz, as OpenAI's. */
export const OPENAI_SPEECH_SAMPLE_RATE = 24000;

const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);
// Every format the real API takes; only `wav` and `pcm` are spoken here (no encoder needed).
const SPEECH_FORMATS = ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'];
const SPEECH_CONTENT_TYPES: Readonly<Record<string, string>> = {
  wav: 'audio/wav',
  pcm: 'audio/pcm',
};
const MAX_SPEECH_INPUT = 4096;
const BAD_JSON =
  "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble figuring out how to fix this, please contact us through our help center at help.openai.com.)";

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

const missing = (param: string) =>
  invalidRequest(
    400,
    `Missing required parameter: '${param}'.`,
    param,
    'missing_required_parameter',
  );

/**
 * Starts the emulator on `127.0.0.1`, on a free port. Point the SDK at it with
 * `new OpenAI({ apiKey: emulator.apiKey, baseURL: emulator.endpoint })`.
 *
 * It answers as OpenAI does, non-streaming:
 * - `POST /v1/chat/completions` `{ model, messages }` → a `chat.completion` whose one
 *   choice's content is `reply(messages)`, with `usage` counted in words (deterministic);
 * - `POST /v1/audio/speech` `{ model, input, voice, response_format }` → the input spoken
 *   by espeak-ng: `wav` a PCM16 mono 24 kHz WAV, `pcm` its raw samples (24 kHz PCM16 LE);
 *   any other format (including the API's default, `mp3`) → 400;
 * - `Authorization: Bearer <key>` on each (another key → 401 `invalid_api_key`), malformed
 *   JSON or a missing field → 400, an unknown path → 404, all with OpenAI's error body
 *   `{ error: { message, type, param, code } }`.
 *
 * @example
 * ```ts
 * const emulator = await startOpenAIChatEmulator({ reply: () => 'It is sunny.' });
 * const openai = new OpenAI({ apiKey: emulator.apiKey, baseURL: emulator.endpoint });
 * await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Weather?' }] });
 * expect(emulator.connections[0]?.body).toMatchObject({ model: 'gpt-4o-mini' });
 * ```
 */
export async function startOpenAIChatEmulator(
  options: OpenAIChatEmulatorOptions = {},
): Promise<OpenAIChatEmulator> {
  const apiKey = options.apiKey ?? EMULATOR_API_KEY;
  const reply = options.reply ?? (() => OPENAI_CHAT_EMULATOR_REPLY);
  const espeakVoice = options.espeakVoice ?? 'en-us';
  const connections: OpenAIChatEmulatorRequest[] = [];
  const sockets = new Set<Socket>();
  let faults: OpenAIChatEmulatorFaults = options.faults ?? {};

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      answerOpenAI(
        res,
        500,
        { error: { message: String(error), type: 'server_error', param: null, code: null } },
        { requestId: `req_${connections.length}` },
      );
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const raw = await readBody(req);
    const body = parseJson(raw);
    const request: OpenAIChatEmulatorRequest = {
      index: connections.length,
      headers: { ...req.headers },
      query: url.searchParams,
      path: url.pathname,
      body,
      config: body,
      audioBytes: 0,
      controlMessages: [],
    };
    connections.push(request);
    const finish = (status: number, payload: unknown, contentType?: string) => {
      request.closed = {
        code: status,
        reason: status === 200 ? 'ok' : (payload as { error: { message: string } }).error.message,
      };
      answerOpenAI(res, status, payload, {
        requestId: `req_${request.index}`,
        ...(contentType ? { contentType } : {}),
      });
    };
    try {
      const endpoint =
        req.method === 'POST' &&
        (url.pathname === '/v1/chat/completions' || url.pathname === '/v1/audio/speech')
          ? url.pathname
          : undefined;
      if (endpoint === undefined) {
        throw invalidRequest(404, `Invalid URL (${req.method} ${url.pathname})`);
      }
      authorizeOpenAI(req, [apiKey], faults);
      const failure = faults.failNext;
      if (failure) {
        faults.failNext = undefined;
        throw statusFailure(failure.status, failure.message ?? `injected HTTP ${failure.status}`);
      }
      if (body === undefined) throw invalidRequest(400, BAD_JSON);
      if (endpoint === '/v1/chat/completions') {
        const { model, messages } = chatRequest(body);
        const content = await reply(messages);
        finish(200, chatCompletion(request.index, model, messages, content));
        return;
      }
      const speech = speechRequest(body);
      const audio = await speak(speech.input, speech.format);
      request.audioBytes = audio.byteLength;
      finish(200, audio, SPEECH_CONTENT_TYPES[speech.format]);
    } catch (error) {
      if (!(error instanceof OpenAIHttpFailure)) throw error;
      finish(error.status, { error: error.body });
    }
  }

  async function speak(input: string, format: 'wav' | 'pcm'): Promise<Uint8Array> {
    const path = await synthesizeSpeech(input, {
      engine: 'espeak-ng',
      voice: espeakVoice,
      sampleRate: OPENAI_SPEECH_SAMPLE_RATE,
    });
    const wav = await readFile(path);
    return format === 'wav' ? wav : parseWavPcm16(wav).pcm;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    vendor: 'openai-chat',
    endpoint: `http://127.0.0.1:${port}/v1`,
    apiKey,
    connections,
    get faults() {
      return faults;
    },
    set faults(next: OpenAIChatEmulatorFaults) {
      faults = next;
    },
    dropAll() {
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The text of a message's `content`: a string, or the `text` of its text parts. */
function contentText(content: unknown, at: number): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part) => (isObject(part) && typeof part.text === 'string' ? part.text : ''))
      .join('');
  }
  throw invalidRequest(
    400,
    `Invalid type for 'messages[${at}].content': expected one of a string or array of objects, but got ${typeof content} instead.`,
    `messages[${at}].content`,
    'invalid_type',
  );
}

/** A chat completion request's model and messages, checked as the API checks them. */
function chatRequest(body: unknown): { model: string; messages: OpenAIChatMessage[] } {
  if (!isObject(body)) throw invalidRequest(400, BAD_JSON);
  if (typeof body.model !== 'string' || body.model === '') {
    throw invalidRequest(400, 'you must provide a model parameter');
  }
  if (body.stream === true) {
    throw invalidRequest(400, 'stream: true is not supported by this emulator', 'stream');
  }
  if (!Array.isArray(body.messages)) throw missing('messages');
  if (body.messages.length === 0) {
    throw invalidRequest(
      400,
      "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
      'messages',
      'empty_array',
    );
  }
  const messages = body.messages.map((message: unknown, at): OpenAIChatMessage => {
    const role = isObject(message) ? message.role : undefined;
    if (typeof role !== 'string' || !ROLES.has(role)) {
      throw invalidRequest(
        400,
        `Invalid value: '${String(role)}'. Supported values are: 'system', 'assistant', 'user', 'tool', 'function', and 'developer'.`,
        `messages[${at}].role`,
        'invalid_value',
      );
    }
    return { role, content: contentText((message as Json).content, at) };
  });
  return { model: body.model, messages };
}

/** A speech request's input and format, checked as the API checks them. */
function speechRequest(body: unknown): { input: string; format: 'wav' | 'pcm' } {
  if (!isObject(body)) throw invalidRequest(400, BAD_JSON);
  if (typeof body.model !== 'string' || body.model === '') throw missing('model');
  if (typeof body.input !== 'string') throw missing('input');
  if (body.input.length > MAX_SPEECH_INPUT) {
    throw invalidRequest(
      400,
      `Invalid 'input': string too long. Expected a string with maximum length ${MAX_SPEECH_INPUT}, but got a string with length ${body.input.length} instead.`,
      'input',
      'string_above_max_length',
    );
  }
  const voice = body.voice;
  if (
    !(typeof voice === 'string' && voice !== '') &&
    !(isObject(voice) && typeof voice.id === 'string')
  ) {
    throw missing('voice');
  }
  const format = body.response_format ?? 'mp3';
  if (format === 'wav' || format === 'pcm') return { input: body.input, format };
  if (typeof format === 'string' && SPEECH_FORMATS.includes(format)) {
    throw invalidRequest(
      400,
      `response_format '${format}' is not supported by this emulator: ask for 'wav' or 'pcm'`,
      'response_format',
      'unsupported_value',
    );
  }
  throw invalidRequest(
    400,
    `Invalid value: '${String(format)}'. Supported values are: ${SPEECH_FORMATS.map((f) => `'${f}'`).join(', ')}.`,
    'response_format',
    'invalid_value',
  );
}

const words = (text: string) => text.split(/\s+/).filter((w) => w !== '').length;

/** The API's non-streaming `chat.completion` answer; tokens are counted as words. */
function chatCompletion(
  index: number,
  model: string,
  messages: readonly OpenAIChatMessage[],
  content: string,
) {
  const promptTokens = messages.reduce((sum, m) => sum + words(m.content), 0);
  const completionTokens = words(content);
  return {
    id: `chatcmpl-emulator-${index}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
    service_tier: 'default',
    system_fingerprint: null,
  };
}
