import { CloseCode, ERROR_CODES, parseServerMessage } from '@earshot/protocol';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import {
  type DeepgramEmulator,
  JsonSocket,
  openJsonSocket,
  scriptedTranscriber,
  startDeepgramEmulator,
  until,
} from '@earshot/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { listen, type RunningServer } from '../../src/adapters/node.js';
import {
  ambientDialect,
  conversationDialect,
  createMemoryStore,
  sttStreamDialect,
  voiceAgentDialect,
} from '../../src/index.js';
import { oggOpus, opusPacketsArb, webmOpus } from './container-builders.js';
import {
  applyEdits,
  hostileJsonArb,
  jsonEditArb,
  nestedJson,
  nestingArb,
  withRawField,
} from './hostile-json.js';

// One live server with every wire mounted (canonical, Twilio, the four dialects) and the
// Deepgram emulator behind it. While a healthy canonical client streams a scripted session
// over and over, fast-check hammers each wire with generated connections: valid messages in
// any order, the same messages mutated, hostile JSON, deep nesting, huge strings, random and
// container-shaped binary, invalid UTF-8 in text frames, frames over the size limit. The server
// must never throw out of a handler, answer every frame in the shape of its wire (errors with a
// stable code where the wire has one), keep the healthy transcript what it is alone, and leave
// no session behind.

const SCRIPT = [
  { text: 'please add milk and eggs to the list', start: 0.2, end: 2.2 },
  { text: 'and call mom tomorrow', start: 4.0, end: 5.2 },
];
const HEALTHY_SECONDS = 6.5;
const PCM16_16K = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const MAX_FRAME_BYTES = 256 * 1024;
const VOICE_AGENT_MAX_FRAME_BYTES = 8 * 1024 * 1024;

// Connections per wire: sized so the file takes about 15 s on two shared cores.
const RUNS = { frames: 250, upgrades: 250 };

/** Uncaught exceptions and unhandled rejections of this process: the server's, when any. */
const crashes: unknown[] = [];
const recordCrash = (error: unknown) => crashes.push(error);

let emulator: DeepgramEmulator;
let server: RunningServer;
let wsBase: string;

beforeAll(async () => {
  process.on('uncaughtException', recordCrash);
  process.on('unhandledRejection', recordCrash);
  emulator = await startDeepgramEmulator({ transcriber: scriptedTranscriber(SCRIPT) });
  server = await listen({
    provider: createDeepgramProvider({ apiKey: emulator.apiKey, baseUrl: emulator.endpoint }),
    store: createMemoryStore(),
    port: 0,
    dialects: [conversationDialect(), ambientDialect(), sttStreamDialect(), voiceAgentDialect()],
    twilio: {},
    // A canonical client that drops without `stop` may resume for a while: shortened here so
    // that "no session left behind" is checked seconds, not half a minute, after the last one.
    limits: { resumeGraceSeconds: 1 },
  });
  wsBase = server.url.replace('http', 'ws');
});

afterAll(async () => {
  await server?.close();
  await emulator?.close();
  process.off('uncaughtException', recordCrash);
  process.off('unhandledRejection', recordCrash);
});

// ---------------------------------------------------------------------------------------------
// Frames

type Frame =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'binary'; readonly bytes: Uint8Array }
  /** A text frame whose bytes are not UTF-8: the server must close with 1007. */
  | { readonly kind: 'invalid-utf8'; readonly bytes: Uint8Array }
  /** A frame over the 256 KiB limit: the server must close with 1009. */
  | { readonly kind: 'oversized'; readonly bytes: number; readonly binary: boolean };

const text = (value: unknown): Frame => ({ kind: 'text', text: JSON.stringify(value) ?? 'null' });

const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');

/** A WAV file of PCM16 mono at `rate`, with `samples` of silence-ish noise. */
function wavFile(rate: number, body: Uint8Array): Uint8Array {
  const data = body.subarray(0, body.byteLength & ~1);
  const head = Buffer.alloc(44);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(36 + data.byteLength, 4);
  head.write('WAVEfmt ', 8, 'latin1');
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20);
  head.writeUInt16LE(1, 22);
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * 2, 28);
  head.writeUInt16LE(2, 32);
  head.writeUInt16LE(16, 34);
  head.write('data', 36, 'latin1');
  head.writeUInt32LE(data.byteLength, 40);
  return Buffer.concat([head, data]);
}

/** Audio a client may send: raw PCM, noise, a WAV file, WebM/Ogg Opus, or one of those cut. */
const audioArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.integer({ min: 1, max: 4000 }).map((n) => new Uint8Array(n * 2)),
  fc.uint8Array({ maxLength: 2000 }),
  fc
    .tuple(fc.constantFrom(8000, 16000, 48000), fc.uint8Array({ maxLength: 2000 }))
    .map(([rate, body]) => wavFile(rate, body)),
  fc
    .tuple(fc.constantFrom('webm', 'ogg'), opusPacketsArb, fc.nat())
    .map(([container, packets, cut]) => {
      const bytes = container === 'webm' ? webmOpus(packets) : oggOpus(packets);
      return cut % 3 === 0 ? bytes.subarray(0, cut % bytes.byteLength) : bytes;
    }),
);

const invalidUtf8Arb: fc.Arbitrary<Frame> = fc
  .tuple(
    fc.constantFrom('{"type":"ping","id":"', '{"action":"', '{"event":"', ''),
    fc.constantFrom([0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]),
  )
  .map(([prefix, bad]) => ({
    kind: 'invalid-utf8',
    bytes: Buffer.concat([Buffer.from(prefix), Buffer.from(bad), Buffer.from('"}')]),
  }));

const oversizedArb = (limit: number): fc.Arbitrary<Frame> =>
  fc.record({
    kind: fc.constant('oversized' as const),
    bytes: fc.integer({ min: limit + 1, max: limit + 4096 }),
    binary: fc.boolean(),
  });

/**
 * The frames a client of one wire sends: the wire's valid messages (so sessions start, stop and
 * see messages in every order), those messages mutated, anything JSON, deep nesting and huge
 * strings in the fields the wire dispatches on, random text, audio, invalid UTF-8, oversized.
 */
function framesOf(
  valid: fc.Arbitrary<object>,
  names: readonly string[],
  fields: readonly string[],
  maxFrameBytes = MAX_FRAME_BYTES,
): fc.Arbitrary<Frame> {
  return fc.oneof(
    { weight: 8, arbitrary: valid.map(text) },
    { weight: 6, arbitrary: audioArb.map((bytes): Frame => ({ kind: 'binary', bytes })) },
    {
      weight: 4,
      arbitrary: fc
        .tuple(valid, fc.array(jsonEditArb(names), { minLength: 1, maxLength: 3 }))
        .map(([message, edits]) => text(applyEdits(message, edits))),
    },
    { weight: 3, arbitrary: hostileJsonArb(names).map(text) },
    {
      weight: 1,
      arbitrary: fc.tuple(valid, nestingArb, fc.constantFrom(...fields)).map(
        ([message, { depth, shape }, field]): Frame => ({
          kind: 'text',
          text: withRawField(message, field, nestedJson(depth, shape)),
        }),
      ),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(valid, fc.integer({ min: 10_000, max: 200_000 }), fc.constantFrom(...fields))
        .map(([message, length, field]) => text({ ...message, [field]: 'x'.repeat(length) })),
    },
    {
      weight: 1,
      arbitrary: fc
        .string({ unit: 'binary', maxLength: 100 })
        .map((t): Frame => ({ kind: 'text', text: t })),
    },
    { weight: 1, arbitrary: invalidUtf8Arb },
    { weight: 1, arbitrary: oversizedArb(maxFrameBytes) },
  );
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function send(socket: WebSocket, frame: Frame): void {
  switch (frame.kind) {
    case 'text':
      socket.send(frame.text);
      return;
    case 'binary':
      socket.send(frame.bytes, { binary: true });
      return;
    case 'invalid-utf8':
      socket.send(frame.bytes, { binary: false });
      return;
    case 'oversized':
      socket.send(Buffer.alloc(frame.bytes, 0x20), { binary: frame.binary });
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// Wires: where they are, what a valid client sends, and the shape of what the server answers

type Message = Record<string, unknown>;

interface Wire {
  readonly name: string;
  readonly path: fc.Arbitrary<string>;
  readonly frames: fc.Arbitrary<Frame>;
  /** Checks one JSON message the server sent on this wire; `path` is the connection's. */
  check(message: Message, path: string): void;
  /**
   * What the fuzzing must have reached on this wire (message types, error codes, close
   * codes), so that generators that stop reaching past the first checks fail the test.
   */
  readonly mustSee: readonly string[];
  /**
   * How a client of this wire ends its stream, and when the server has answered it: every
   * fuzzed connection that is still open may end this way, so sessions go through their whole
   * life (ready, audio, finals, closed) and a stop that is never answered fails the test.
   */
  readonly stop?: { readonly message: object; answered(messages: readonly Message[]): boolean };
  /**
   * The error message a dialect answers a text frame that is not JSON with; it also answers a
   * handler that threw with it, so it may come no more often than frames that are not JSON.
   */
  readonly notJsonReply?: string;
}

const closedWithoutAnswer = () => false;

const isCode = (code: unknown) => (ERROR_CODES as readonly unknown[]).includes(code);

// What a dialect answers when its own handler threw (DialectSocket catches it, so the process
// lives on): never a frontend's fault, always a bug for the fuzzing to report.
const HANDLER_THREW = 'the message could not be handled';

/** An error in the `{type: "error", message, code?}` shape three dialects share. */
function expectDialectError(message: Message): void {
  expect(typeof message.message).toBe('string');
  expect(message.message, 'a dialect handler threw').not.toBe(HANDLER_THREW);
  if (message.code !== undefined) expect(isCode(message.code)).toBe(true);
}

const id = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,24}$/);
const rawFormatArb = fc.record({
  encoding: fc.constantFrom('pcm16', 'mulaw', 'alaw', 'wav', 'webm-opus', 'ogg-opus'),
  sampleRate: fc.constantFrom(8000, 16000, 44100, 48000),
  channels: fc.constantFrom(1, 2),
});

const canonical: Wire = {
  name: 'canonical (/v1/listen)',
  path: fc.constant('/v1/listen'),
  frames: framesOf(
    fc.oneof(
      { weight: 3, arbitrary: rawFormatArb.map((audio) => ({ type: 'start', audio })) },
      fc.record(
        {
          type: fc.constant('start'),
          audio: rawFormatArb,
          interimResults: fc.boolean(),
          language: fc.constantFrom('en-US', 'fr-FR'),
          provider: fc.constantFrom('deepgram', 'nope'),
          metadata: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })),
          resume: fc.record({ sessionId: id, resumeToken: id, audioBytes: fc.nat() }),
        },
        { requiredKeys: ['type', 'audio'] },
      ),
      fc.constantFrom({ type: 'stop' }, { type: 'finalize' }, { type: 'session_info' }),
      fc.record({ type: fc.constant('ping'), id: fc.oneof(fc.string({ maxLength: 8 }), fc.nat()) }),
    ),
    ['start', 'stop', 'finalize', 'ping', 'session_info'],
    ['type', 'audio', 'metadata', 'keywords', 'providerOptions', 'resume'],
  ),
  mustSee: [
    'ready',
    'pong',
    'session_info',
    'closed',
    'error:invalid_json',
    'error:unknown_message_type',
    'error:invalid_message',
    'error:not_started',
    'error:already_started',
    'close:1000',
    'close:1007',
    'close:1009',
  ],
  // A session that never started answers `not_started` and stays open; others close.
  stop: {
    message: { type: 'stop' },
    answered: (messages) =>
      messages.at(-1)?.type === 'error' && messages.at(-1)?.code === 'not_started',
  },
  check(message) {
    // Every frame on the canonical wire is a protocol v1 server message; errors carry a code.
    const parsed = parseServerMessage(JSON.stringify(message));
    expect(parsed.ok, `not a protocol v1 message: ${JSON.stringify(message).slice(0, 300)}`).toBe(
      true,
    );
  },
};

const twilio: Wire = {
  name: 'Twilio media streams (/v1/twilio)',
  path: fc.constant('/v1/twilio'),
  frames: framesOf(
    fc.oneof(
      fc.record(
        {
          event: fc.constant('connected'),
          protocol: fc.constant('Call'),
          version: fc.constant('1'),
        },
        { requiredKeys: ['event'] },
      ),
      fc.record({
        event: fc.constant('start'),
        sequenceNumber: fc.nat(3).map(String),
        streamSid: id,
        start: fc.record(
          {
            streamSid: id,
            callSid: id.map((s) => `CA${s}`),
            tracks: fc.constant(['inbound']),
            customParameters: fc.dictionary(
              fc.string({ maxLength: 8 }),
              fc.string({ maxLength: 8 }),
            ),
          },
          { requiredKeys: ['streamSid', 'callSid'] },
        ),
      }),
      fc.record({
        event: fc.constant('media'),
        sequenceNumber: fc.oneof(fc.nat(20), fc.nat()).map(String),
        media: fc.record(
          {
            track: fc.constantFrom('inbound', 'outbound'),
            payload: fc.oneof(
              fc.uint8Array({ maxLength: 320 }).map(toBase64),
              fc.string({ maxLength: 12 }),
            ),
          },
          { requiredKeys: ['payload'] },
        ),
      }),
      fc.record({
        event: fc.constant('mark'),
        mark: fc.record({ name: fc.string({ maxLength: 8 }) }),
      }),
      fc.record({
        event: fc.constant('dtmf'),
        dtmf: fc.record({ digit: fc.constantFrom('1', '#') }),
      }),
      fc.record({ event: fc.constant('stop') }),
    ),
    ['connected', 'start', 'media', 'mark', 'dtmf', 'stop'],
    ['event', 'start', 'media', 'sequenceNumber', 'streamSid'],
  ),
  mustSee: ['close:1000', 'close:1007', 'close:1009'],
  stop: { message: { event: 'stop' }, answered: closedWithoutAnswer },
  check(message) {
    // Twilio is sent audio and marks only (and nothing at all without a reply loop).
    expect(['media', 'mark', 'clear']).toContain(message.event);
  },
};

const CONVERSATION_EVENTS = [
  'conversation.item.input_audio_transcription.delta',
  'conversation.item.input_audio_transcription.completed',
  'input_audio_buffer.speech_started',
  'input_audio_buffer.speech_stopped',
  'command',
  'pong',
  'error',
];

const conversation: Wire = {
  name: 'conversation dialect (/transcription)',
  path: id.map((conversationId) => `/transcription?conversationId=${conversationId}`),
  frames: framesOf(
    fc
      .constantFrom('stop', 'end', 'end_session', 'close', 'ping', 'ping')
      .map((type) => ({ type })),
    ['stop', 'ping', 'end'],
    ['type'],
  ),
  mustSee: [
    'pong',
    'error:invalid_json',
    'error:invalid_message',
    'error:unknown_message_type',
    'close:1000',
  ],
  stop: { message: { type: 'stop' }, answered: closedWithoutAnswer },
  check(message, path) {
    expect(CONVERSATION_EVENTS).toContain(message.type);
    if (message.type === 'pong') return;
    expect(message.conversationId).toBe(
      new URL(path, 'http://x').searchParams.get('conversationId'),
    );
    if (message.type === 'error') {
      // OpenAI's error shape, with Earshot's stable code inside.
      const error = message.error as Message;
      expect(error.type).toBe('earshot_error');
      expect(isCode(error.code)).toBe(true);
      expect(typeof error.message).toBe('string');
      expect(error.message, 'a dialect handler threw').not.toBe(HANDLER_THREW);
    }
  },
};

const ambient: Wire = {
  name: 'ambient dialect (/ws/transcribe)',
  path: fc.oneof(
    fc.constant('/ws/transcribe'),
    id.map((s) => `/ws/transcribe/${s}`),
  ),
  frames: framesOf(
    fc.constantFrom('ping', 'session_info', 'end_session').map((type) => ({ type })),
    ['ping', 'session_info', 'end_session'],
    ['type'],
  ),
  mustSee: ['connected', 'pong', 'session_info', 'session_ended', 'error', 'close:1000'],
  stop: { message: { type: 'end_session' }, answered: closedWithoutAnswer },
  notJsonReply: 'Invalid JSON message',
  check(message) {
    expect(['connected', 'transcript', 'pong', 'session_info', 'session_ended', 'error']).toContain(
      message.type,
    );
    if (message.type === 'error') expectDialectError(message);
  },
};

const sttStream: Wire = {
  name: 'stt-stream dialect (/stt-stream)',
  path: fc.constant('/stt-stream'),
  frames: framesOf(
    fc.oneof(
      fc.record({
        action: fc.constantFrom('configure', 'start'),
        audio_format: fc.record(
          {
            encoding: fc.constantFrom('linear16', 'mulaw', 'opus', 'audio/webm', 'wav', 'flac'),
            sample_rate: fc.constantFrom(8000, 16000, 48000, 3),
            channels: fc.constantFrom(1, 2, 0),
          },
          { requiredKeys: [] },
        ),
      }),
      fc.constantFrom('stop', 'close', 'end').map((action) => ({ action })),
    ),
    ['configure', 'stop', 'start'],
    ['action', 'audio_format'],
  ),
  mustSee: ['error', 'close:1000', 'close:1009'],
  stop: { message: { action: 'stop' }, answered: closedWithoutAnswer },
  check(message) {
    expect(['interim_transcript', 'final_transcript', 'error']).toContain(message.type);
    if (message.type === 'error') expectDialectError(message);
  },
};

const voiceAgent: Wire = {
  name: 'voice-agent dialect (/ws/:clientId)',
  path: id.filter((s) => s !== 'transcribe').map((s) => `/ws/${s}`),
  frames: framesOf(
    fc.oneof(
      fc.record(
        {
          type: fc.constant('audio_chunk'),
          chunk: fc.oneof(audioArb.map(toBase64), fc.string({ maxLength: 12 })),
          isSpeaking: fc.boolean(),
        },
        { requiredKeys: ['type', 'chunk'] },
      ),
      fc.record({
        type: fc.constant('send_for_AI_processing'),
        audio: fc
          .tuple(fc.constantFrom(16000, 48000), fc.uint8Array({ maxLength: 4000 }))
          .map(([rate, body]) => toBase64(wavFile(rate, body))),
      }),
      fc.constant({ type: 'ping' }),
    ),
    ['audio_chunk', 'send_for_AI_processing', 'ping'],
    ['type', 'chunk', 'audio'],
    // Its frontends send a whole utterance as one base64 WAV: its limit is 8 MiB.
    VOICE_AGENT_MAX_FRAME_BYTES,
  ),
  mustSee: ['pong', 'error', 'close:1007'],
  notJsonReply: 'Invalid JSON message',
  check(message) {
    expect(['pong', 'user_transcript', 'ai_response', 'error']).toContain(message.type);
    if (message.type === 'error') expectDialectError(message);
  },
};

const WIRES = [canonical, twilio, conversation, ambient, sttStream, voiceAgent];

// ws closes 1007 for invalid UTF-8 and 1009 over maxPayload; 1005/1006 when no code came.
const CLOSE_CODES: readonly number[] = [...Object.values(CloseCode), 1005, 1006, 1007];

// ---------------------------------------------------------------------------------------------
// Connections

/**
 * Opens a socket that keeps every message and the close, and tolerates its own errors; or
 * resolves the HTTP status the upgrade was refused with.
 */
function connect(path: string): Promise<JsonSocket | number> {
  const ws = new WebSocket(`${wsBase}${path}`);
  // A client-side error (ECONNRESET after the server closed on an oversized frame) is not the
  // server's; the close that follows is what is checked.
  ws.on('error', () => {});
  const socket = new JsonSocket(ws);
  return new Promise((resolve) => {
    ws.once('open', () => resolve(socket));
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
  });
}

/** The crashes recorded since `count` were, with their stacks, for a readable failure. */
function expectNoCrashSince(count: number): void {
  const added = crashes.slice(count).map((e) => (e instanceof Error ? e.stack : String(e)));
  expect(added, 'the server threw out of a handler').toEqual([]);
}

/**
 * Resolves once the server has handled every frame sent so far: it answers a WebSocket ping
 * after them (frames are handled in order), or it has closed the connection.
 */
function settled(socket: JsonSocket): Promise<void> {
  const ws = socket.socket;
  if (ws.readyState !== WebSocket.OPEN) return socket.waitClosed().then(() => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the server answered neither a ping nor with a close in 10 s')),
      10_000,
    );
    const done = () => {
      clearTimeout(timer);
      ws.off('pong', done);
      ws.off('close', done);
      resolve();
    };
    ws.on('pong', done);
    ws.on('close', done);
    ws.ping();
  });
}

/** Waits for the server to close `socket`, failing after 10 s rather than hanging the suite. */
function closedWithin(socket: JsonSocket, what: string): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    socket.waitClosed().finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`the server did not close ${what} in 10 s`)),
        10_000,
      );
    }),
  ]);
}

async function hangUp(socket: JsonSocket, politely: boolean): Promise<void> {
  if (socket.closed) return;
  if (politely) {
    socket.socket.close(1000);
    await closedWithin(socket, 'its side of a closing handshake');
  } else {
    socket.socket.terminate();
    await socket.waitClosed();
  }
}

/** What the fuzzing reached: message types, `error:<code>` and `close:<code>`, by wire. */
const seen = new Map<Wire, Set<string>>();

function tally(wire: Wire, socket: JsonSocket): void {
  const set = seen.get(wire) ?? new Set<string>();
  seen.set(wire, set);
  for (const message of socket.messages as Message[]) {
    set.add(String(message.type ?? message.event));
    const code = message.code ?? (message.error as Message | undefined)?.code;
    if (message.type === 'error' && code !== undefined) set.add(`error:${code}`);
  }
  if (socket.closed) set.add(`close:${socket.closed.code}`);
}

/** One fuzzed connection: frames in, every answer checked against its wire. */
async function fuzzConnection(
  wire: Wire,
  path: string,
  frames: readonly Frame[],
  ending: 'stop' | 'close' | 'terminate',
) {
  const before = crashes.length;
  const socket = await connect(path);
  if (typeof socket === 'number') {
    // Only an ambient session id used before may be refused: its session is over.
    expect([socket, path]).toEqual([409, expect.stringMatching(/^\/ws\/transcribe\//)]);
    return;
  }
  try {
    for (const frame of frames) {
      if (socket.socket.readyState !== WebSocket.OPEN) break;
      send(socket.socket, frame);
    }
    await settled(socket);
    if (ending === 'stop' && wire.stop && !socket.closed) {
      const { message, answered } = wire.stop;
      const before = socket.messages.length;
      socket.sendJson(message);
      await Promise.race([
        socket.until(
          () => socket.closed !== undefined || answered(socket.messages.slice(before) as Message[]),
        ),
        closedWithin(socket, `nor answer ${JSON.stringify(message)}`),
      ]);
    }
    expect(socket.unparsed, 'a text frame that is not JSON').toEqual([]);
    for (const message of socket.messages) wire.check(message as Message, path);
    if (wire.notJsonReply) {
      const notJson = frames.filter((f) => f.kind === 'text' && !isJson(f.text)).length;
      const replies = (socket.messages as Message[]).filter(
        (m) => m.type === 'error' && m.message === wire.notJsonReply,
      ).length;
      expect(replies, 'a dialect handler threw (answered as invalid JSON)').toBeLessThanOrEqual(
        notJson,
      );
    }
    if (socket.closed) expect(CLOSE_CODES).toContain(socket.closed.code);
    const oversized = frames.findIndex((f) => f.kind === 'oversized');
    const invalid = frames.findIndex((f) => f.kind === 'invalid-utf8');
    const breaker = [oversized, invalid].filter((i) => i >= 0).sort((a, b) => a - b)[0];
    if (breaker !== undefined && !socket.closed) {
      // 1007 or 1009 (`mustSee` checks both come), unless an earlier frame closed it first.
      await closedWithin(socket, 'a connection after invalid UTF-8 or an oversized frame');
    }
    tally(wire, socket);
  } finally {
    await hangUp(socket, ending !== 'terminate');
  }
  expectNoCrashSince(before);
}

// ---------------------------------------------------------------------------------------------
// The healthy session

interface Final {
  text: unknown;
  start: unknown;
  end: unknown;
}

/** A well-behaved canonical client: start, the scripted audio in quarter seconds, stop. */
async function healthySession(): Promise<{ finals: Final[]; errors: Message[]; close: number }> {
  const socket = await openJsonSocket(`${wsBase}/v1/listen`);
  socket.sendJson({ type: 'start', audio: PCM16_16K });
  await socket.next('ready');
  const quarter = new Uint8Array(8000);
  for (let q = 0; q < HEALTHY_SECONDS * 4; q++) {
    socket.sendBinary(quarter);
    // Paced, so the session overlaps the fuzzed ones rather than finishing in one burst.
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
  socket.sendJson({ type: 'stop' });
  const { code } = await socket.waitClosed();
  const finals = (socket.messages as Message[])
    .filter((m) => m.type === 'transcript' && m.isFinal)
    .map(({ text, start, end }) => ({ text, start, end }));
  return {
    finals,
    errors: (socket.messages as Message[]).filter((m) => m.type === 'error'),
    close: code,
  };
}

// ---------------------------------------------------------------------------------------------

describe('a live server with every wire mounted, under fuzzed connections', () => {
  let baseline: Awaited<ReturnType<typeof healthySession>>;
  let hammering = true;
  let healthyRuns: Promise<Awaited<ReturnType<typeof healthySession>>[]>;

  it('transcribes the scripted session on its own', async () => {
    baseline = await healthySession();
    expect(baseline.finals.map((f) => f.text)).toEqual(SCRIPT.map((u) => u.text));
    expect(baseline.errors).toEqual([]);
    expect(baseline.close).toBe(1000);
    // From here on the healthy client streams again and again while the wires are hammered.
    healthyRuns = (async () => {
      const runs = [];
      do runs.push(await healthySession());
      while (hammering);
      return runs;
    })();
  });

  for (const [index, wire] of WIRES.entries()) {
    it(`answers anything on the ${wire.name} in its wire's shape, never throwing`, async () => {
      await fc.assert(
        fc.asyncProperty(
          wire.path,
          fc.array(wire.frames, { minLength: 1, maxLength: 8 }),
          fc.constantFrom('stop' as const, 'close' as const, 'terminate' as const),
          (path, frames, ending) => fuzzConnection(wire, path, frames, ending),
        ),
        { seed: 0x5eed_0600 + index, numRuns: RUNS.frames },
      );
      const reached = seen.get(wire) ?? new Set();
      expect(
        wire.mustSee.filter((what) => !reached.has(what)),
        'never reached',
      ).toEqual([]);
    });
  }

  it('answers any upgrade URL of the dialects with a socket or an HTTP refusal, never throwing', async () => {
    const segment = fc.oneof(
      id,
      fc.string({ unit: 'binary', maxLength: 40 }).map(encodeURIComponent),
      fc.constantFrom('%E0%A4%A', '%', '%zz', '..', '%2F', 'a%00b', 'x'.repeat(200), ''),
    );
    const url = fc.oneof(
      segment.map((s) => `/transcription?conversationId=${s}`),
      fc.constant('/transcription'),
      segment.map((s) => `/ws/transcribe/${s}`),
      segment.map((s) => `/ws/${s}`),
      segment.map((s) => `/ws/${s}/${s}`),
    );
    await fc.assert(
      fc.asyncProperty(url, async (path) => {
        const before = crashes.length;
        const outcome = await upgrade(path);
        if (typeof outcome === 'number') expect(outcome).toBeGreaterThanOrEqual(400);
        expectNoCrashSince(before);
      }),
      { seed: 0x5eed_0610, numRuns: RUNS.upgrades },
    );
  });

  it("kept the healthy session's transcript what it is alone, and leaves no session behind", async () => {
    hammering = false;
    const runs = await healthyRuns;
    // Several runs, so the healthy session overlapped the fuzzing of every wire.
    expect(runs.length).toBeGreaterThanOrEqual(WIRES.length);
    for (const run of runs) expect(run).toEqual(baseline);
    await until(() => server.earshot.sessions().length === 0, 20_000).catch(() => undefined);
    expect(server.earshot.sessions().map(String)).toEqual([]);
    expect(server.earshot.twilio?.list()).toEqual([]);
    expectNoCrashSince(0);
  });
});

/**
 * Upgrades `path`: the HTTP status of a refusal, `'open'` (then closed at once), or `'dropped'`
 * for a path no transport owns (the server destroys such an upgrade's socket).
 */
function upgrade(path: string): Promise<number | 'open' | 'dropped'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${wsBase}${path}`);
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no answer to the upgrade of ${path} in 10 s`));
    }, 10_000);
    ws.once('error', () => {
      clearTimeout(timer);
      resolve('dropped');
    });
    ws.once('unexpected-response', (_req, res) => {
      clearTimeout(timer);
      resolve(res.statusCode ?? 0);
      ws.on('error', () => {});
      ws.terminate();
    });
    ws.once('open', () => {
      clearTimeout(timer);
      ws.terminate();
      resolve('open');
    });
  });
}
