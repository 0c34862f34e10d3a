import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CLIENT_MESSAGE_TYPES,
  ClientMessageSchema,
  EarshotError,
  type ErrorCode,
  type ParseResult,
  parseClientMessage,
  parseServerMessage,
  SERVER_MESSAGE_TYPES,
  ServerMessageSchema,
} from '../../src/index.js';
import {
  applyEdits,
  applyTextEdits,
  clientMessageArb,
  hostileJsonValueArb,
  jsonEditArb,
  nestedJson,
  nestingArb,
  PROTOTYPE_KEYS,
  serverMessageArb,
  startMessageArb,
  textEditArb,
} from './wire-arbitraries.js';

// Property-based fuzzing of protocol v1's text-frame parsers. Every property has its own fixed
// seed, so a run is reproducible; on failure fast-check prints the seed, the shrunk
// counterexample and the `path` to replay it (`fc.assert(..., { seed, path })`).

// However large the frame, an error message stays short: it never echoes the input whole. (The
// longest is fixed: a bad `error.code` lists all codes.)
const MAX_ERROR_MESSAGE_LENGTH = 1000;

type Side = {
  name: 'client' | 'server';
  parse: (text: string) => ParseResult<unknown>;
  types: readonly string[];
  schema: { safeParse(value: unknown): { success: boolean } };
};
const CLIENT: Side = {
  name: 'client',
  parse: parseClientMessage,
  types: CLIENT_MESSAGE_TYPES,
  schema: ClientMessageSchema,
};
const SERVER: Side = {
  name: 'server',
  parse: parseServerMessage,
  types: SERVER_MESSAGE_TYPES,
  schema: ServerMessageSchema,
};

/**
 * What parsing `text` must give, decided independently of the parser: the JSON verdict, then
 * whether the `type` is one the side knows, then the schema's verdict.
 */
function expectedOutcome(side: Side, text: string): 'ok' | ErrorCode {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'invalid_json';
  }
  const type =
    typeof json === 'object' && json !== null ? (json as { type?: unknown }).type : undefined;
  if (typeof type !== 'string' || !side.types.includes(type)) return 'unknown_message_type';
  return side.schema.safeParse(json).success ? 'ok' : 'invalid_message';
}

/** The same value after a trip through JSON (which turns -0 into 0, and drops `undefined`). */
const throughJson = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * The contract of a parse: it returns (never throws), an error is a non-fatal
 * {@link EarshotError} with the code the input deserves and a bounded message, and a message
 * that parsed is normalised: parsing it again gives itself (checked unless `normalised` is
 * false, for frames too deep for `JSON.stringify` to write back).
 */
function checkParse(side: Side, text: string, normalised = true): void {
  let result: ParseResult<unknown>;
  try {
    result = side.parse(text);
  } catch (error) {
    assert.fail(`the ${side.name} parser threw instead of returning an error: ${String(error)}`);
  }
  const expected = expectedOutcome(side, text);
  if (result.ok) {
    assert.equal('ok', expected);
    assert.ok(side.types.includes((result.message as { type: string }).type));
    if (normalised) assert.deepEqual(side.parse(JSON.stringify(result.message)), result);
    return;
  }
  const { error } = result;
  assert.ok(EarshotError.isInstance(error), 'the error is an EarshotError');
  assert.equal(error.code, expected);
  assert.equal(error.fatal, false);
  assert.ok(
    error.message.length <= MAX_ERROR_MESSAGE_LENGTH,
    `an error message of ${error.message.length} characters`,
  );
}

/** A valid message's JSON with the value at `field` replaced by raw JSON text. */
function withRawField(message: Record<string, unknown>, field: string, raw: string): string {
  const marker = '__earshot_fuzz_raw__';
  return JSON.stringify({ ...message, [field]: marker }).replace(`"${marker}"`, raw);
}

// Cases per property, sized so the file takes about 11 s on two shared cores.
const RUNS = {
  anyString: 30_000,
  anyJson: 10_000,
  mutatedClient: 10_000,
  mutatedServer: 6_000,
  corruptedText: 10_000,
  roundTripClient: 6_000,
  roundTripServer: 6_000,
  deepNesting: 120,
  hugeStrings: 100,
  prototypeKeys: 3_000,
};

describe('parseClientMessage and parseServerMessage under fuzzing', () => {
  it('never throw on any string, and refuse what is not a message with its stable code', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.string({ unit: 'grapheme', maxLength: 200 }),
          fc.string({ unit: fc.constantFrom('{', '}', '[', ']', '"', ':', ',', 'type', '1') }),
        ),
        fc.constantFrom(CLIENT.name, SERVER.name),
        (text, side) => checkParse(side === 'client' ? CLIENT : SERVER, text),
      ),
      { seed: 0x5eed_0001, numRuns: RUNS.anyString },
    );
  });

  it('classify any JSON value as a message, an unknown type or an invalid message', () => {
    fc.assert(
      fc.property(hostileJsonValueArb, fc.constantFrom(CLIENT.name, SERVER.name), (value, side) =>
        checkParse(side === 'client' ? CLIENT : SERVER, JSON.stringify(value) ?? 'null'),
      ),
      { seed: 0x5eed_0002, numRuns: RUNS.anyJson },
    );
  });

  it('hold their contract on valid client messages with fields deleted, replaced, added or retyped', () => {
    fc.assert(
      fc.property(
        clientMessageArb,
        fc.array(jsonEditArb, { minLength: 1, maxLength: 4 }),
        (message, edits) => checkParse(CLIENT, JSON.stringify(applyEdits(message, edits))),
      ),
      { seed: 0x5eed_0003, numRuns: RUNS.mutatedClient },
    );
  });

  it('hold their contract on valid server messages with fields deleted, replaced, added or retyped', () => {
    fc.assert(
      fc.property(
        serverMessageArb,
        fc.array(jsonEditArb, { minLength: 1, maxLength: 4 }),
        (message, edits) => checkParse(SERVER, JSON.stringify(applyEdits(message, edits))),
      ),
      { seed: 0x5eed_0004, numRuns: RUNS.mutatedServer },
    );
  });

  it('hold their contract on valid messages cut short or with characters put in or taken out', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          clientMessageArb.map((m) => ['client', m] as const),
          serverMessageArb.map((m) => ['server', m] as const),
        ),
        fc.array(textEditArb, { minLength: 1, maxLength: 3 }),
        ([side, message], edits) =>
          checkParse(
            side === 'client' ? CLIENT : SERVER,
            applyTextEdits(JSON.stringify(message), edits),
          ),
      ),
      { seed: 0x5eed_0005, numRuns: RUNS.corruptedText },
    );
  });

  it('give back every valid client message unchanged after a trip through JSON', () => {
    fc.assert(
      fc.property(clientMessageArb, (message) => {
        expect(parseClientMessage(JSON.stringify(message))).toEqual({
          ok: true,
          message: throughJson(message),
        });
      }),
      { seed: 0x5eed_0006, numRuns: RUNS.roundTripClient },
    );
  });

  it('give back every valid server message unchanged after a trip through JSON', () => {
    fc.assert(
      fc.property(serverMessageArb, (message) => {
        expect(parseServerMessage(JSON.stringify(message))).toEqual({
          ok: true,
          message: throughJson(message),
        });
      }),
      { seed: 0x5eed_0007, numRuns: RUNS.roundTripServer },
    );
  });

  it('survive nesting tens of thousands of levels deep, in any field or as the whole frame', () => {
    fc.assert(
      fc.property(
        nestingArb,
        startMessageArb,
        fc.constantFrom('(whole)', 'type', 'audio', 'providerOptions', 'metadata', 'keywords'),
        ({ depth, shape }, start, field) => {
          const deep = nestedJson(depth, shape);
          const text = field === '(whole)' ? deep : withRawField(start, field, deep);
          // A `start` whose providerOptions nest this deep is valid protocol: accepted, but
          // too deep for JSON.stringify, so not written back.
          checkParse(CLIENT, text, depth < 1000);
          checkParse(SERVER, text, depth < 1000);
        },
      ),
      { seed: 0x5eed_0008, numRuns: RUNS.deepNesting },
    );
  });

  it('answer huge strings and keys with a short error, never echoing them whole', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 10_000, max: 200_000 }),
        fc.constantFrom('type', 'language', 'encoding', 'keyword', 'metadataKey', 'resume'),
        startMessageArb,
        (length, where, start) => {
          const huge = 'x'.repeat(length);
          const message: Record<string, unknown> = { ...start };
          if (where === 'type') message.type = huge;
          if (where === 'language') message.language = huge;
          if (where === 'encoding') message.audio = { ...start.audio, encoding: huge };
          if (where === 'keyword') message.keywords = [huge];
          // A key is echoed in the path of the failing field: its value here is invalid.
          if (where === 'metadataKey') message.metadata = { [huge]: { nested: true } };
          if (where === 'resume') message.resume = { [huge]: 1 };
          checkParse(CLIENT, JSON.stringify(message));
        },
      ),
      { seed: 0x5eed_0009, numRuns: RUNS.hugeStrings },
    );
  });

  it('never let prototype keys in a frame reach Object.prototype', () => {
    fc.assert(
      fc.property(
        startMessageArb,
        fc.constantFrom(...PROTOTYPE_KEYS),
        fc.constantFrom('(top)', 'audio', 'metadata', 'providerOptions', 'resume'),
        (start, key, where) => {
          const injected = `{"${key}":{"polluted":true}}`;
          const text =
            where === '(top)'
              ? JSON.stringify(start).replace(/^\{/, `{"${key}":{"polluted":true},`)
              : withRawField(start, where, injected);
          checkParse(CLIENT, text);
          expect(({} as Record<string, unknown>).polluted).toBeUndefined();
          expect(Object.prototype).not.toHaveProperty('polluted');
        },
      ),
      { seed: 0x5eed_000a, numRuns: RUNS.prototypeKeys },
    );
  });
});
