import assert from 'node:assert/strict';
import { AudioFormatSchema } from '@earshot/protocol';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { DIALECT_ID, decodeUriPart } from '../../src/transports/dialects/dialect-socket.js';
import { sniffAudioFormat } from '../../src/transports/dialects/sniff-audio.js';
import { parseAudioFormat } from '../../src/transports/dialects/stt-stream-dialect.js';
import { TranscriptDeltas } from '../../src/transports/dialects/transcript-deltas.js';
import {
  decodeBase64Strict,
  parseTwilioFrame,
  TwilioEventSchema,
} from '../../src/transports/twilio/twilio-events.js';
import {
  applyEdits,
  hostileJsonArb,
  jsonEditArb,
  nestedJson,
  nestingArb,
  PROTOTYPE_KEYS,
  withRawField,
} from './hostile-json.js';

// Property-based fuzzing of the pure parsers behind the server's wires: Twilio's media-stream
// frames, its base64, and what the dialects read from their frontends. Each property has a
// fixed seed; on failure fast-check prints it with the shrunk counterexample and its path.

const TWILIO_EVENTS = ['connected', 'start', 'media', 'mark', 'dtmf', 'stop'] as const;

// A frame's problem is logged: its detail stays a line, whatever the frame.
const MAX_DETAIL_LENGTH = 300;

const str = (minLength = 0, maxLength = 24) => fc.string({ minLength, maxLength });
const decimal = fc.oneof(fc.nat().map(String), fc.bigInt({ min: 0n, max: 10n ** 40n }).map(String));
const base64 = fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('base64'));

/** Twilio's messages as Twilio sends them (optional fields present or not). */
const twilioEventArb = fc.oneof(
  fc.record(
    { event: fc.constant('connected'), protocol: str(), version: str() },
    { requiredKeys: ['event'] },
  ),
  fc.record(
    {
      event: fc.constant('start'),
      sequenceNumber: decimal,
      streamSid: str(1),
      start: fc.record(
        {
          streamSid: str(1),
          accountSid: str(),
          callSid: str(1, 256),
          tracks: fc.array(str(), { maxLength: 3 }),
          customParameters: fc.dictionary(
            str().filter((k) => k !== '__proto__'),
            str(),
            { maxKeys: 4 },
          ),
          mediaFormat: fc.record({
            encoding: str(),
            sampleRate: fc.integer({ min: 1, max: 2 ** 31 }),
            channels: fc.integer({ min: 1, max: 8 }),
          }),
        },
        { requiredKeys: ['streamSid', 'callSid'] },
      ),
    },
    { requiredKeys: ['event', 'streamSid', 'start'] },
  ),
  fc.record(
    {
      event: fc.constant('media'),
      sequenceNumber: decimal,
      streamSid: str(),
      media: fc.record(
        { track: str(), chunk: decimal, timestamp: decimal, payload: base64 },
        { requiredKeys: ['payload'] },
      ),
    },
    { requiredKeys: ['event', 'sequenceNumber', 'media'] },
  ),
  fc.record(
    {
      event: fc.constant('mark'),
      sequenceNumber: decimal,
      streamSid: str(),
      mark: fc.record({ name: str() }),
    },
    { requiredKeys: ['event', 'mark'] },
  ),
  fc.record(
    {
      event: fc.constant('dtmf'),
      sequenceNumber: decimal,
      streamSid: str(),
      dtmf: fc.record({ track: str(), digit: str() }, { requiredKeys: ['digit'] }),
    },
    { requiredKeys: ['event', 'dtmf'] },
  ),
  fc.record(
    {
      event: fc.constant('stop'),
      sequenceNumber: decimal,
      streamSid: str(),
      stop: fc.record({ accountSid: str(), callSid: str() }, { requiredKeys: [] }),
    },
    { requiredKeys: ['event'] },
  ),
);

/** What parsing a Twilio frame must give, decided without the parser. */
function expectedTwilioOutcome(
  text: string,
): 'ok' | 'invalid_json' | 'unknown_event' | 'malformed' {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return 'invalid_json';
  }
  const name =
    typeof raw === 'object' && raw !== null ? (raw as { event?: unknown }).event : undefined;
  if (typeof name !== 'string' || !(TWILIO_EVENTS as readonly string[]).includes(name)) {
    return 'unknown_event';
  }
  return TwilioEventSchema.safeParse(raw).success ? 'ok' : 'malformed';
}

/** parseTwilioFrame returns (never throws) the outcome the frame deserves, with a short detail. */
function checkTwilioFrame(text: string): void {
  let result: ReturnType<typeof parseTwilioFrame>;
  try {
    result = parseTwilioFrame(text);
  } catch (error) {
    assert.fail(`parseTwilioFrame threw: ${String(error)}`);
  }
  const expected = expectedTwilioOutcome(text);
  if (result.ok) {
    assert.equal('ok', expected);
    return;
  }
  assert.equal(result.problem, expected);
  assert.ok(result.detail.length <= MAX_DETAIL_LENGTH, `a detail of ${result.detail.length}`);
}

// Strict base64: whole quanta, padding only at the end, nothing Buffer.from would skip.
const CANONICAL_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

// Cases per property, sized so the file takes about 9 s on two shared cores.
const RUNS = {
  twilioAnyText: 25_000,
  twilioAnyJson: 10_000,
  twilioRoundTrip: 8_000,
  twilioMutated: 8_000,
  twilioDeep: 100,
  base64RoundTrip: 80_000,
  base64AnyText: 150_000,
  audioFormat: 20_000,
  sniff: 100_000,
  deltas: 20_000,
  uriParts: 80_000,
};

describe('parseTwilioFrame under fuzzing', () => {
  it('never throws on any text, and names the problem of what it refuses', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.string({ unit: fc.constantFrom('{', '}', '"', ':', ',', 'event', 'media', '1') }),
        ),
        checkTwilioFrame,
      ),
      { seed: 0x5eed_0301, numRuns: RUNS.twilioAnyText },
    );
  });

  it('classifies any JSON value as an event, an unknown event or a malformed one', () => {
    fc.assert(
      fc.property(hostileJsonArb(TWILIO_EVENTS), (value) =>
        checkTwilioFrame(JSON.stringify(value) ?? 'null'),
      ),
      { seed: 0x5eed_0302, numRuns: RUNS.twilioAnyJson },
    );
  });

  it('reads every message Twilio sends as that message, with its defaults filled in', () => {
    fc.assert(
      fc.property(twilioEventArb, (event) => {
        const parsed = parseTwilioFrame(JSON.stringify(event));
        assert.ok(parsed.ok, !parsed.ok ? parsed.detail : '');
        const sent = event as Record<string, unknown>;
        assert.equal(parsed.event.event, sent.event);
        if (parsed.event.event === 'start') {
          const start = sent.start as Record<string, unknown>;
          assert.equal(parsed.event.start.callSid, start.callSid);
          assert.deepEqual(parsed.event.start.tracks, start.tracks ?? ['inbound']);
          assert.deepEqual(
            { ...parsed.event.start.customParameters },
            { ...((start.customParameters as object) ?? {}) },
          );
        }
        if (parsed.event.event === 'media') {
          const media = sent.media as Record<string, unknown>;
          assert.equal(parsed.event.media.payload, media.payload);
          assert.equal(parsed.event.media.track, media.track ?? 'inbound');
        }
      }),
      { seed: 0x5eed_0303, numRuns: RUNS.twilioRoundTrip },
    );
  });

  it('holds its contract on Twilio messages with fields deleted, replaced or added', () => {
    fc.assert(
      fc.property(
        twilioEventArb,
        fc.array(jsonEditArb(TWILIO_EVENTS), { minLength: 1, maxLength: 4 }),
        (event, edits) => checkTwilioFrame(JSON.stringify(applyEdits(event, edits)) ?? 'null'),
      ),
      { seed: 0x5eed_0304, numRuns: RUNS.twilioMutated },
    );
  });

  it('survives any field nested tens of thousands of levels deep', () => {
    fc.assert(
      fc.property(
        nestingArb,
        twilioEventArb,
        fc.constantFrom('event', 'start', 'media', 'sequenceNumber', 'streamSid'),
        ({ depth, shape }, event, field) =>
          checkTwilioFrame(withRawField(event, field, nestedJson(depth, shape))),
      ),
      { seed: 0x5eed_0305, numRuns: RUNS.twilioDeep },
    );
  });
});

describe('decodeBase64Strict under fuzzing', () => {
  it('gives back any bytes encoded as base64', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const decoded = decodeBase64Strict(Buffer.from(bytes).toString('base64'));
        assert.ok(decoded !== undefined);
        assert.ok(Buffer.from(bytes).equals(decoded));
      }),
      { seed: 0x5eed_0311, numRuns: RUNS.base64RoundTrip },
    );
  });

  it('takes exactly the text made of whole base64 quanta, and decodes every character of it', () => {
    const base64Char = fc.constantFrom(
      ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=',
      '-',
      '_',
      ' ',
      '\n',
      '\u00e9',
    );
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: base64Char, maxLength: 40 }), fc.string({ maxLength: 12 })),
        (text) => {
          const decoded = decodeBase64Strict(text);
          assert.equal(decoded !== undefined, CANONICAL_BASE64.test(text), JSON.stringify(text));
          if (decoded) {
            const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
            assert.equal(decoded.byteLength, (text.length / 4) * 3 - padding);
          }
        },
      ),
      { seed: 0x5eed_0312, numRuns: RUNS.base64AnyText },
    );
  });
});

describe("the dialects' frontend parsers under fuzzing", () => {
  // Found by fuzzing (fixed since): `String()`/`Number()` on the frontend's values threw for
  // `{"toString": 1}`, and over a socket that took the server process down.
  it("stt-stream's parseAudioFormat answers any audio_format with a format or a reason, never throwing", () => {
    const fieldValue = fc.oneof(
      fc.constantFrom('linear16', 'LINEAR16', 'mu-law', 'audio/webm;codecs=opus', 'opus', 'wav'),
      fc.constantFrom('__proto__', 'constructor', 'toString', 'audio/ webm'),
      fc.integer({ min: 0, max: 96_000 }),
      hostileJsonArb(),
    );
    const audioFormat = fc.oneof(
      fc.record(
        {
          encoding: fieldValue,
          mimeType: fieldValue,
          sample_rate: fieldValue,
          sampleRate: fieldValue,
          channels: fieldValue,
        },
        { requiredKeys: [] },
      ),
      hostileJsonArb(),
      fc.constantFrom(...PROTOTYPE_KEYS).map((key) => JSON.parse(`{"encoding":{"${key}":1}}`)),
    );
    fc.assert(
      fc.property(audioFormat, (raw) => {
        const format = parseAudioFormat(raw);
        if (typeof format !== 'string') assert.ok(AudioFormatSchema.safeParse(format).success);
      }),
      { seed: 0x5eed_0321, numRuns: RUNS.audioFormat },
    );
  });

  it('sniffAudioFormat names the container of any first bytes, or nothing, never throwing', () => {
    const magic = fc.constantFrom(
      [],
      [0x1a, 0x45, 0xdf, 0xa3],
      [...Buffer.from('OggS')],
      [...Buffer.from('RIFF\0\0\0\0WAVE')],
      [...Buffer.from('RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0')],
    );
    fc.assert(
      fc.property(magic, fc.uint8Array({ maxLength: 64 }), (prefix, rest) => {
        const bytes = Buffer.concat([Buffer.from(prefix), rest]);
        const format = sniffAudioFormat(bytes);
        if (format !== undefined) assert.ok(AudioFormatSchema.safeParse(format).success);
        if (prefix.length === 4 && prefix[0] === 0x1a) assert.equal(format?.encoding, 'webm-opus');
        if (prefix.length === 4 && prefix[0] === 0x4f) assert.equal(format?.encoding, 'ogg-opus');
        if (prefix.length >= 12) assert.equal(format?.encoding, 'wav');
      }),
      { seed: 0x5eed_0322, numRuns: RUNS.sniff },
    );
  });

  it('TranscriptDeltas sends deltas that join into the latest text that extended what was sent', () => {
    const item = fc.constantFrom('s:1', 's:2', 's:3', '__proto__', 'constructor');
    const op = fc.oneof(
      fc.record({ kind: fc.constant('next' as const), item, text: fc.string({ maxLength: 12 }) }),
      // Interims usually grow: the previous text of that item plus a little.
      fc.record({ kind: fc.constant('grow' as const), item, more: fc.string({ maxLength: 4 }) }),
      fc.record({ kind: fc.constant('settle' as const), item }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (ops) => {
        const deltas = new TranscriptDeltas();
        // What the frontend shows of each item: every delta it was sent, joined.
        const shown = new Map<string, string>();
        for (const o of ops) {
          const before = shown.get(o.item) ?? '';
          if (o.kind === 'settle') {
            assert.equal(deltas.settle(o.item), shown.has(o.item));
            shown.delete(o.item);
            continue;
          }
          const text = o.kind === 'grow' ? before + o.more : o.text;
          const delta = deltas.next(o.item, text);
          const extends_ = text.length > before.length && text.startsWith(before);
          assert.equal(delta !== undefined, extends_);
          if (delta !== undefined) {
            shown.set(o.item, before + delta);
            assert.equal(before + delta, text);
          }
        }
      }),
      { seed: 0x5eed_0323, numRuns: RUNS.deltas },
    );
  });

  it('decodeUriPart decodes any path segment or refuses it, never throwing, and DIALECT_ID bounds ids', () => {
    const uriChar = fc.constantFrom(
      '%',
      'E',
      '0',
      'A',
      '4',
      'f',
      'z',
      '/',
      '.',
      ':',
      '-',
      '_',
      ' ',
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: uriChar, maxLength: 20 }),
          fc.string({ unit: 'binary', maxLength: 20 }),
        ),
        (text) => {
          const decoded = decodeUriPart(text);
          let expected: string | undefined;
          try {
            expected = decodeURIComponent(text);
          } catch {
            expected = undefined;
          }
          assert.equal(decoded, expected);
          if (decoded !== undefined && DIALECT_ID.test(decoded)) {
            assert.ok(decoded.length >= 1 && decoded.length <= 128);
            assert.ok(!/[/%\s]/.test(decoded));
          }
        },
      ),
      { seed: 0x5eed_0324, numRuns: RUNS.uriParts },
    );
  });
});
