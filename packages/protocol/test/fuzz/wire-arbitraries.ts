import fc from 'fast-check';
import {
  AUDIO_ENCODINGS,
  type AudioFormat,
  CLIENT_MESSAGE_TYPES,
  CLOSE_REASONS,
  type ClientMessage,
  COMMAND_PHASES,
  ERROR_CODES,
  MAX_CHANNELS,
  MAX_SAMPLE_RATE,
  MIN_SAMPLE_RATE,
  PROTOCOL_VERSION,
  SERVER_MESSAGE_TYPES,
  SESSION_STATUSES,
  type ServerMessage,
} from '../../src/index.js';

// Arbitraries of protocol v1 for the fuzz tests: valid messages (as a parse returns them,
// defaults applied), the hostile JSON a client may send instead, and mutations of the first
// into the second.

/** Strings that survive JSON and stay within a length bound counted in UTF-16 units. */
const text = (minLength = 0, maxLength = 40) =>
  fc.string({ unit: 'grapheme-ascii', minLength, maxLength });

/** Doubles that JSON carries exactly: no NaN, no infinities, no -0. */
const finite = (min?: number, max?: number) =>
  fc.double({ min, max, noNaN: true, noDefaultInfinity: true }).map((n) => (n === 0 ? 0 : n));

const seconds = finite(0, 1e6);
const count = fc.nat({ max: 2 ** 40 });

/** Plain-object keys: no `__proto__`, which JSON carries but a parsed record does not keep. */
const key = text(0, 12).filter((k) => k !== '__proto__');

export const audioFormatArb: fc.Arbitrary<AudioFormat> = fc.record({
  encoding: fc.constantFrom(...AUDIO_ENCODINGS),
  sampleRate: fc.integer({ min: MIN_SAMPLE_RATE, max: MAX_SAMPLE_RATE }),
  channels: fc.integer({ min: 1, max: MAX_CHANNELS }),
});

const metadataArb = fc.dictionary(
  key,
  fc.oneof(text(), finite(), fc.boolean(), fc.constant(null)),
  { maxKeys: 5 },
);

const jsonRecordArb = fc.dictionary(key, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 });

/** A `start` with its defaults applied, optional fields present or not. */
export const startMessageArb = fc.record(
  {
    type: fc.constant('start' as const),
    audio: audioFormatArb,
    language: text(2, 35),
    interimResults: fc.boolean(),
    keywords: fc.array(text(1, 100), { maxLength: 8 }),
    diarize: fc.boolean(),
    provider: text(1, 64),
    providerOptions: jsonRecordArb,
    metadata: metadataArb,
    resume: fc.record(
      {
        sessionId: text(1),
        resumeToken: text(1),
        audioBytes: count,
        finals: count,
      },
      { requiredKeys: ['sessionId', 'resumeToken', 'audioBytes'] },
    ),
  },
  { requiredKeys: ['type', 'audio', 'language', 'interimResults', 'keywords', 'diarize'] },
);

/** Every client → server message, as {@link parseClientMessage} returns it. */
export const clientMessageArb: fc.Arbitrary<ClientMessage> = fc.oneof(
  startMessageArb,
  fc.constantFrom(
    { type: 'finalize' as const },
    { type: 'stop' as const },
    { type: 'session_info' as const },
  ),
  fc.record(
    { type: fc.constant('ping' as const), id: fc.oneof(text(0, 100), finite()) },
    { requiredKeys: ['type'] },
  ),
);

const limitsArb = fc.record({
  maxFrameBytes: fc.integer({ min: 1, max: 2 ** 31 }),
  maxSessionSeconds: finite(0.001, 1e6),
  idleTimeoutSeconds: finite(0.001, 1e6),
});

const wordArb = fc.record(
  {
    word: text(),
    start: seconds,
    end: seconds,
    confidence: finite(0, 1),
    speaker: fc.nat({ max: 16 }),
  },
  { requiredKeys: ['word', 'start', 'end'] },
);

const latencyArb = fc.record({
  count,
  mean: seconds,
  p50: seconds,
  p95: seconds,
  max: seconds,
});

const metricsArb = fc.record(
  {
    chunksReceived: count,
    bytesReceived: count,
    audioSeconds: seconds,
    finalSegments: count,
    interimSegments: count,
    firstTranscriptMs: seconds,
    providerLatencyMs: latencyArb,
    resumes: count,
    providerReconnects: count,
    replayedAudioSeconds: seconds,
    errors: count,
    durationSeconds: seconds,
  },
  {
    requiredKeys: [
      'chunksReceived',
      'bytesReceived',
      'audioSeconds',
      'finalSegments',
      'interimSegments',
      'resumes',
      'providerReconnects',
      'replayedAudioSeconds',
      'errors',
      'durationSeconds',
    ],
  },
);

/** Every server → client message, as {@link parseServerMessage} returns it. */
export const serverMessageArb: fc.Arbitrary<ServerMessage> = fc.oneof(
  fc.record(
    {
      type: fc.constant('ready' as const),
      protocolVersion: fc.constant(PROTOCOL_VERSION),
      sessionId: text(),
      resumeToken: text(),
      audio: audioFormatArb,
      provider: text(),
      providerAudio: audioFormatArb,
      conversion: text(),
      resumed: fc.boolean(),
      limits: limitsArb,
    },
    {
      requiredKeys: [
        'type',
        'protocolVersion',
        'sessionId',
        'resumeToken',
        'audio',
        'provider',
        'resumed',
        'limits',
      ],
    },
  ),
  fc.record(
    {
      type: fc.constant('transcript' as const),
      segmentId: text(),
      isFinal: fc.boolean(),
      text: fc.string({ unit: 'grapheme', maxLength: 80 }),
      confidence: finite(0, 1),
      words: fc.array(wordArb, { maxLength: 5 }),
      start: seconds,
      end: seconds,
      speaker: fc.nat({ max: 16 }),
      language: text(),
    },
    { requiredKeys: ['type', 'segmentId', 'isFinal', 'text', 'words', 'start', 'end'] },
  ),
  fc.record({ type: fc.constant('speech_started' as const), timestamp: seconds }),
  fc.record(
    { type: fc.constant('utterance_end' as const), timestamp: seconds, segmentId: text() },
    { requiredKeys: ['type', 'timestamp'] },
  ),
  fc.record(
    {
      type: fc.constant('command' as const),
      name: text(),
      phase: fc.constantFrom(...COMMAND_PHASES),
      segmentId: text(),
      slots: jsonRecordArb,
      result: fc.jsonValue({ maxDepth: 2 }),
      error: text(),
    },
    { requiredKeys: ['type', 'name', 'phase', 'slots'] },
  ),
  fc.record({ type: fc.constant('ack' as const), audioBytes: count }),
  fc.record({
    type: fc.constant('error' as const),
    code: fc.constantFrom(...ERROR_CODES),
    message: fc.string({ unit: 'grapheme', maxLength: 80 }),
    fatal: fc.boolean(),
  }),
  fc.record(
    {
      type: fc.constant('session_info' as const),
      sessionId: text(),
      status: fc.constantFrom(...SESSION_STATUSES),
      provider: text(),
      audio: audioFormatArb,
      audioBytes: count,
      audioSeconds: seconds,
      finalSegments: count,
      startedAt: text(),
      metrics: metricsArb,
    },
    {
      requiredKeys: [
        'type',
        'sessionId',
        'status',
        'audioBytes',
        'audioSeconds',
        'finalSegments',
        'startedAt',
      ],
    },
  ),
  fc.record(
    { type: fc.constant('pong' as const), id: fc.oneof(text(), finite()), timestamp: finite() },
    { requiredKeys: ['type', 'timestamp'] },
  ),
  fc.record({ type: fc.constant('broadcast' as const), payload: fc.jsonValue({ maxDepth: 3 }) }),
  fc.record({
    type: fc.constant('closed' as const),
    reason: fc.constantFrom(...CLOSE_REASONS),
    summary: fc.record({ audioSeconds: seconds, finalSegments: count, durationSeconds: seconds }),
  }),
) as fc.Arbitrary<ServerMessage>;

/**
 * Object keys that trip code which treats JSON as plain objects: prototype members, and
 * values whose conversion to a string or number throws (`{"toString": 1}`).
 */
export const PROTOTYPE_KEYS = [
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'toJSON',
] as const;

/** Every message `type` either side knows, and a few it does not. */
const typeNameArb = fc.oneof(
  fc.constantFrom(...CLIENT_MESSAGE_TYPES, ...SERVER_MESSAGE_TYPES),
  fc.constantFrom(...PROTOTYPE_KEYS),
  text(),
);

/**
 * JSON a hostile or broken client may send: any value, with prototype keys, huge strings and
 * numbers JSON can only approximate.
 */
export const hostileJsonValueArb: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom(
      null,
      true,
      false,
      0,
      -1,
      1e308,
      -1e-308,
      2 ** 53 + 1,
      '',
      '\u0000',
      '\ud800',
      '\uffff',
    ),
    fc.string({ unit: 'binary', maxLength: 50 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.oneof(fc.constantFrom('type', 'audio', ...PROTOTYPE_KEYS), key),
      tie('value'),
      { maxKeys: 4 },
    ),
    fc
      .record({ type: typeNameArb }, { requiredKeys: [] })
      .chain((base) =>
        fc.dictionary(key, tie('value'), { maxKeys: 3 }).map((rest) => ({ ...rest, ...base })),
      ),
  ),
})).value;

/** A JSON text nested `depth` levels deep (arrays or objects), around `core`. */
export function nestedJson(depth: number, shape: 'array' | 'object', core = '0'): string {
  return shape === 'array'
    ? `${'['.repeat(depth)}${core}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}${core}${'}'.repeat(depth)}`;
}

/** Nesting far past any sane message, up to what fits in the server's 256 KiB frame limit. */
export const nestingArb = fc.record({
  depth: fc.oneof(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1_000, max: 50_000 })),
  shape: fc.constantFrom('array' as const, 'object' as const),
});

/** One edit of a JSON value: where (an index into its paths, wrapped) and what. */
export type JsonEdit =
  | { kind: 'delete'; at: number }
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'add'; at: number; key: string; value: unknown }
  | { kind: 'retype'; at: number; type: string };

export const jsonEditArb: fc.Arbitrary<JsonEdit> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileJsonValueArb }),
  fc.record({
    kind: fc.constant('add' as const),
    at: fc.nat(),
    key: fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), key),
    value: hostileJsonValueArb,
  }),
  fc.record({ kind: fc.constant('retype' as const), at: fc.nat(), type: typeNameArb }),
);

type Path = (string | number)[];

function pathsOf(value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(value)) {
    for (const [i, v] of value.entries()) pathsOf(v, [...prefix, i], out);
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) pathsOf(v, [...prefix, k], out);
  }
  return out;
}

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * Applies `edits` to a copy of the JSON value `value`. Containers are edited in place by key,
 * with `Object.defineProperty` so that a `__proto__` key is an own key, as `JSON.parse` makes it.
 */
export function applyEdits(value: unknown, edits: readonly JsonEdit[]): unknown {
  let root = clone(value);
  for (const edit of edits) {
    const paths = pathsOf(root);
    const path = paths[edit.at % paths.length]!;
    const parentPath = path.slice(0, -1);
    const last = path.at(-1);
    const parent = parentPath.reduce<unknown>(
      (node, k) => (node as Record<string | number, unknown>)[k],
      root,
    ) as Record<string | number, unknown> | undefined;
    const target = path.reduce<unknown>(
      (node, k) => (node as Record<string | number, unknown>)[k],
      root,
    );
    const set = (value: unknown) => {
      if (last === undefined || parent === undefined) root = value;
      else Object.defineProperty(parent, last, { value, enumerable: true, writable: true });
    };
    switch (edit.kind) {
      case 'delete':
        if (last !== undefined && parent !== undefined) {
          if (Array.isArray(parent)) parent.splice(last as number, 1);
          else delete parent[last];
        }
        break;
      case 'replace':
        set(edit.value);
        break;
      case 'add':
        if (typeof target === 'object' && target !== null) {
          Object.defineProperty(target, Array.isArray(target) ? target.length : edit.key, {
            value: edit.value,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        break;
      case 'retype':
        if (typeof target === 'object' && target !== null && !Array.isArray(target)) {
          Object.defineProperty(target, 'type', {
            value: edit.type,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        break;
    }
  }
  return root;
}

/** One edit of a JSON text: cut it short, or put a character in or out somewhere. */
export type TextEdit =
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; char: string }
  | { kind: 'remove'; at: number };

export const textEditArb: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    char: fc.oneof(
      fc.constantFrom('"', '\\', '{', '}', '[', ']', ',', ':', '\u0000', '\ud800', 'e', '-'),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
    ),
  }),
  fc.record({ kind: fc.constant('remove' as const), at: fc.nat() }),
);

export function applyTextEdits(text: string, edits: readonly TextEdit[]): string {
  let out = text;
  for (const edit of edits) {
    const at = edit.at % (out.length + 1);
    if (edit.kind === 'truncate') out = out.slice(0, at);
    else if (edit.kind === 'insert') out = out.slice(0, at) + edit.char + out.slice(at);
    else out = out.slice(0, at) + out.slice(at + 1);
  }
  return out;
}
