import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { readWavHeader } from '@earshot/protocol';
import {
  EMULATOR_API_KEY,
  type Emulator,
  type EmulatorConnection,
  type EmulatorOptions,
} from './emulator.js';
import { AudioFaultClock, type EmulatorFaults } from './faults.js';
import {
  answerOpenAI,
  authorizeOpenAI,
  bearerKey,
  invalidRequest,
  OpenAIHttpFailure,
  statusFailure,
} from './openai-http.js';
import {
  bytesPerSecond,
  type EmulatorAudioFormat,
  type TranscribedUtterance,
  type Transcriber,
} from './transcriber.js';

/** Options of {@link startOpenAIBatchEmulator}. */
export interface OpenAIBatchEmulatorOptions extends EmulatorOptions {
  /** Turns each request's audio into text: one session per request, ended at once. */
  readonly transcriber: Transcriber;
  /**
   * A second key that acts as a restricted key without the Models read permission: it may
   * transcribe, but `GET /v1/models/{model}` answers it 401 "insufficient permissions".
   */
  readonly restrictedApiKey?: string;
}

/**
 * An emulator of OpenAI's `POST /v1/audio/transcriptions` (the Whisper API). Faults are read
 * against the *total* audio it has received over all requests (a batch API has no
 * connection that lives as long as a stream); assigning a new `faults` object restarts that
 * count and re-arms each fault.
 */
export interface OpenAIBatchEmulator extends Emulator {
  readonly vendor: 'openai-batch';
  /** Seconds of audio received over all requests. */
  readonly audioSeconds: number;
}

const FILE_FORMATS =
  "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']";
// What verbose_json says for the languages a test is likely to send; others pass through.
const LANGUAGE_NAMES: Readonly<Record<string, string>> = {
  en: 'english',
  de: 'german',
  fr: 'french',
  es: 'spanish',
  it: 'italian',
  nl: 'dutch',
  pt: 'portuguese',
  ja: 'japanese',
  zh: 'chinese',
};
// Models that answer `verbose_json`, `srt` and `vtt`; the gpt-4o family answers json/text only.
const VERBOSE_MODELS = new Set(['whisper-1']);
// The transcription models `GET /v1/models/{model}` knows, with the owner the API names.
const KNOWN_MODELS: Readonly<Record<string, string>> = {
  'whisper-1': 'openai-internal',
  'gpt-4o-transcribe': 'system',
  'gpt-4o-mini-transcribe': 'system',
  'gpt-4o-transcribe-diarize': 'system',
};

/** The fields of a multipart form, the file aside; repeated keys keep every value. */
function formFields(form: FormData): Record<string, string | string[]> {
  const fields: Record<string, string | string[]> = {};
  for (const [key, value] of form.entries()) {
    if (typeof value !== 'string') continue;
    const had = fields[key];
    fields[key] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
  }
  return fields;
}

const list = (value: string | string[] | undefined): string[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/**
 * Starts the emulator on `127.0.0.1`, on a free port. Point the SDK at it with
 * `new OpenAI({ apiKey: emulator.apiKey, baseURL: emulator.endpoint })`.
 *
 * It answers as OpenAI does: `GET /v1/models/{model}` (the transcription models; others → 404
 * `model_not_found`), and `Authorization: Bearer <key>` on every request (another key → 401
 * `invalid_api_key`), a multipart form with `file` (a WAV of 16-bit PCM, any rate; anything
 * else → 400 "Invalid file format") and `model`, and `response_format` `json` (default),
 * `text` or `verbose_json` (`whisper-1` only; `words` when `timestamp_granularities[]`
 * includes `word`, `segments` unless it names only `word`).
 *
 * Faults (see {@link OpenAIBatchEmulator} for the audio clock): `rejectAuth` → 401;
 * `refuseNext` → 503; `closeAfterAudioSeconds` → the request whose audio crosses `seconds`
 * is answered with HTTP status `code` (e.g. 500, 429, 400) and `reason` as the error
 * message; `dropAfterAudioSeconds` → that request's socket is destroyed, no answer;
 * `stallAfterAudioSeconds` → that request and every later one is never answered (until
 * `close()`). `idleTimeoutSeconds` and `maxStreamSeconds` do not apply to a batch API and
 * are ignored.
 *
 * Each transcription request (not a model lookup) is recorded as an {@link EmulatorConnection}: `config` holds the form fields
 * but the file, `audioBytes` the WAV's sample bytes, `closed.code` the HTTP status answered
 * (0 when the socket was dropped or the request never answered).
 *
 * @example
 * ```ts
 * const emulator = await startOpenAIBatchEmulator({
 *   transcriber: scriptedTranscriber([{ text: 'hello world', start: 0.2, end: 0.9 }]),
 * });
 * const openai = new OpenAI({ apiKey: emulator.apiKey, baseURL: emulator.endpoint });
 * ```
 */
export async function startOpenAIBatchEmulator(
  options: OpenAIBatchEmulatorOptions,
): Promise<OpenAIBatchEmulator> {
  const apiKey = options.apiKey ?? EMULATOR_API_KEY;
  const connections: EmulatorConnection[] = [];
  const sockets = new Set<Socket>();
  const stalled = new Set<ServerResponse>();
  let faults: EmulatorFaults = options.faults ?? {};
  let faultClock = new AudioFaultClock();
  let totalSeconds = 0;
  let faultBase = 0;

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      answer(res, 500, {
        error: { message: String(error), type: 'server_error', param: null, code: null },
      });
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  function answer(
    res: ServerResponse,
    status: number,
    body: unknown,
    contentType = 'application/json',
  ): void {
    answerOpenAI(res, status, body, { contentType, requestId: `req_${connections.length}` });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const modelPath = /^\/v1\/models\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'GET' && modelPath) {
      req.resume();
      try {
        authorize(req);
        if (bearerKey(req) === options.restrictedApiKey) {
          throw invalidRequest(
            401,
            "You have insufficient permissions for this operation. Missing scopes: api.model.read. Check that you have the correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a restricted API key, that it has the necessary scopes.",
          );
        }
        answer(res, 200, describeModel(decodeURIComponent(modelPath[1] ?? '')));
      } catch (error) {
        if (!(error instanceof OpenAIHttpFailure)) throw error;
        answer(res, error.status, { error: error.body });
      }
      return;
    }
    if (req.method !== 'POST' || url.pathname !== '/v1/audio/transcriptions') {
      req.resume();
      answer(res, 404, {
        error: invalidRequest(404, `Invalid URL (${req.method} ${url.pathname})`).body,
      });
      return;
    }
    const connection: EmulatorConnection = {
      index: connections.length,
      headers: { ...req.headers },
      query: url.searchParams,
      config: undefined,
      audioBytes: 0,
      controlMessages: [],
    };
    connections.push(connection);
    const finish = (status: number, body: unknown, contentType?: string) => {
      connection.closed = {
        code: status,
        reason:
          status === 200 ? 'ok' : ((body as { error?: { message?: string } }).error?.message ?? ''),
      };
      answer(res, status, body, contentType);
    };
    try {
      authorize(req);
      const request = await parseTranscriptionRequest(req, connection);
      connection.audioBytes = request.pcm.byteLength;
      totalSeconds += request.seconds;
      if (applyFaults(req, res, connection)) return;
      const utterances = await transcribe(request.format, request.pcm);
      if (faultClock.stalled) return stall(res, connection);
      const { body, contentType } = transcriptionAnswer(request, utterances);
      finish(200, body, contentType);
    } catch (error) {
      if (!(error instanceof OpenAIHttpFailure)) throw error;
      req.resume();
      finish(error.status, { error: error.body });
    }
  }

  function authorize(req: IncomingMessage): void {
    authorizeOpenAI(req, [apiKey, options.restrictedApiKey], faults);
  }

  /** Applies the audio-driven fault due now; returns whether the request was taken over. */
  function applyFaults(
    req: IncomingMessage,
    res: ServerResponse,
    connection: EmulatorConnection,
  ): boolean {
    if (faultClock.stalled) {
      stall(res, connection);
      return true;
    }
    // maxStreamSeconds does not apply: a batch request has no stream to cap.
    const due = faultClock.due(
      { ...faults, maxStreamSeconds: undefined },
      totalSeconds - faultBase,
    );
    if (due === 'drop') {
      connection.closed = { code: 0, reason: 'dropped' };
      req.socket.destroy();
      return true;
    }
    if (due === 'close' && faults.closeAfterAudioSeconds) {
      const { code, reason } = faults.closeAfterAudioSeconds;
      connection.closed = { code, reason };
      answer(res, code, { error: statusFailure(code, reason).body });
      return true;
    }
    if (due === 'stall') {
      stall(res, connection);
      return true;
    }
    return false;
  }

  /** Never answers; the request ends when the client gives up or the emulator closes. */
  function stall(res: ServerResponse, connection: EmulatorConnection): void {
    stalled.add(res);
    res.on('close', () => {
      stalled.delete(res);
      connection.closed = { code: 0, reason: 'no answer' };
    });
  }

  async function transcribe(
    format: EmulatorAudioFormat,
    pcm: Uint8Array,
  ): Promise<TranscribedUtterance[]> {
    const session = options.transcriber.open(format);
    const finals: TranscribedUtterance[] = [];
    session.on('utterance', (u) => {
      if (u.isFinal) finals.push(u);
    });
    try {
      session.write(pcm);
      await session.end();
    } finally {
      session.close();
    }
    return finals;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    vendor: 'openai-batch',
    endpoint: `http://127.0.0.1:${port}/v1`,
    apiKey,
    connections,
    get faults() {
      return faults;
    },
    set faults(next: EmulatorFaults) {
      faults = next;
      faultClock = new AudioFaultClock();
      faultBase = totalSeconds;
    },
    get audioSeconds() {
      return totalSeconds;
    },
    dropAll() {
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      stalled.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** `GET /v1/models/{model}`'s answer, or its 404 for a model the API does not have. */
function describeModel(model: string): unknown {
  const owner = KNOWN_MODELS[model];
  if (owner === undefined) {
    throw invalidRequest(404, `The model '${model}' does not exist`, 'model', 'model_not_found');
  }
  return { id: model, object: 'model', created: 1677610602, owned_by: owner };
}

/** A transcription request, checked as OpenAI checks it. */
interface TranscriptionRequest {
  readonly responseFormat: 'json' | 'text' | 'verbose_json';
  readonly granularities: readonly string[];
  readonly language: string;
  readonly format: EmulatorAudioFormat;
  readonly pcm: Uint8Array;
  readonly seconds: number;
}

/** Reads the multipart form; records its fields on `connection`; throws the API's 400s. */
async function parseTranscriptionRequest(
  req: IncomingMessage,
  connection: EmulatorConnection,
): Promise<TranscriptionRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  // Node's fetch Request parses multipart/form-data as the API's server does.
  const form = await new Request('http://127.0.0.1/', {
    method: 'POST',
    headers: { 'content-type': req.headers['content-type'] ?? '' },
    body: Uint8Array.from(Buffer.concat(chunks)),
  })
    .formData()
    .catch(() => {
      throw invalidRequest(400, 'Could not parse multipart form');
    });
  const fields = formFields(form);
  connection.config = fields;
  const file = form.get('file');
  if (file === null || typeof file === 'string') {
    throw invalidRequest(
      400,
      "Missing required parameter: 'file'.",
      'file',
      'missing_required_parameter',
    );
  }
  const model = fields.model;
  if (typeof model !== 'string' || model === '') {
    throw invalidRequest(400, 'you must provide a model parameter');
  }
  const responseFormat = fields.response_format ?? 'json';
  if (responseFormat !== 'json' && responseFormat !== 'text' && responseFormat !== 'verbose_json') {
    throw invalidRequest(
      400,
      `response_format '${responseFormat}' is not supported by this emulator`,
      'response_format',
    );
  }
  if (responseFormat === 'verbose_json' && !VERBOSE_MODELS.has(model)) {
    throw invalidRequest(
      400,
      `response_format 'verbose_json' is not compatible with model '${model}'. Use 'json' or 'text' instead.`,
      'response_format',
      'unsupported_value',
    );
  }
  const { format, pcm } = readPcm(new Uint8Array(await file.arrayBuffer()));
  return {
    responseFormat,
    granularities: list(fields['timestamp_granularities[]']),
    language: typeof fields.language === 'string' ? fields.language : 'en',
    format,
    pcm,
    seconds: pcm.byteLength / bytesPerSecond(format),
  };
}

/** The 200 answer in the requested `response_format`. */
function transcriptionAnswer(
  request: TranscriptionRequest,
  utterances: readonly TranscribedUtterance[],
): { body: unknown; contentType: string } {
  const text = utterances.map((u) => u.text).join(' ');
  if (request.responseFormat === 'text') {
    return { body: `${text}\n`, contentType: 'text/plain; charset=utf-8' };
  }
  const usage = { type: 'duration', seconds: Math.ceil(request.seconds) };
  if (request.responseFormat === 'json') {
    return { body: { text, usage }, contentType: 'application/json' };
  }
  const { granularities } = request;
  const body = {
    task: 'transcribe',
    language: LANGUAGE_NAMES[request.language] ?? request.language,
    duration: request.seconds,
    text,
    // Segments are the default granularity; naming only `word` leaves them out.
    ...(granularities.length === 0 || granularities.includes('segment')
      ? { segments: utterances.map(toSegment) }
      : {}),
    ...(granularities.includes('word')
      ? {
          words: utterances.flatMap((u) =>
            u.words.map((w) => ({ word: w.word, start: w.start, end: w.end })),
          ),
        }
      : {}),
    usage,
  };
  return { body, contentType: 'application/json' };
}

/** The PCM16 samples of a WAV upload, or the API's 400 for anything else. */
function readPcm(bytes: Uint8Array): { format: EmulatorAudioFormat; pcm: Uint8Array } {
  let header: ReturnType<typeof readWavHeader>;
  try {
    header = readWavHeader(bytes);
  } catch {
    throw invalidRequest(400, FILE_FORMATS);
  }
  if (!header.complete || header.format.encoding !== 'pcm16') {
    throw invalidRequest(400, FILE_FORMATS);
  }
  const end =
    header.dataBytes === undefined
      ? bytes.byteLength
      : Math.min(bytes.byteLength, header.dataOffset + header.dataBytes);
  const pcm = bytes.subarray(header.dataOffset, end);
  const { sampleRate, channels } = header.format;
  const format: EmulatorAudioFormat = { encoding: 'pcm16', sampleRate, channels };
  if (pcm.byteLength / bytesPerSecond(format) < 0.1) {
    throw invalidRequest(
      400,
      'Audio file is too short. Minimum audio length is 0.1 seconds.',
      'file',
      'audio_too_short',
    );
  }
  return { format, pcm };
}

function toSegment(u: TranscribedUtterance, id: number) {
  return {
    id,
    seek: 0,
    start: u.start,
    end: u.end,
    // Whisper's segment texts start with a space.
    text: ` ${u.text}`,
    tokens: [],
    temperature: 0,
    avg_logprob: Math.log(u.confidence),
    compression_ratio: 1,
    no_speech_prob: 0.01,
  };
}
