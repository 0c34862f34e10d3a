import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  AudioFormatSchema,
  bytesPerSecond,
  describeAudioFormat,
  EarshotError,
  ERROR_CODES,
  ErrorMessageSchema,
  sameAudioFormat,
} from '../../src/index.js';
import { audioFormatArb } from './wire-arbitraries.js';

// Property-based fuzzing of what every catch block and every `start` lean on: wrapping anything
// thrown into an EarshotError, and audio formats. Fixed seed per property.

/** Anything a JavaScript `throw` may carry, hostile conversions to string included. */
const thrownArb = fc.oneof(
  fc.anything({
    withNullPrototype: true,
    withBoxedValues: true,
    withMap: true,
    withSet: true,
    withBigInt: true,
    withDate: true,
    withTypedArray: true,
    withSparseArray: true,
  }),
  fc.string().map((message) => new Error(message)),
  fc.string().map((message) => new TypeError(message)),
  fc.constantFrom(
    Symbol('thrown'),
    Object.create(null),
    { toString: 1 },
    { toString: 1, valueOf: 1 },
    {
      toString() {
        throw new Error('toString throws');
      },
    },
    {
      [Symbol.toPrimitive]() {
        throw new Error('toPrimitive throws');
      },
    },
    new Proxy(
      {},
      {
        // Every read throws, but for the hook fast-check uses to show a counterexample.
        get(_target, key) {
          if (key === fc.toStringMethod) return () => 'a proxy whose reads throw';
          throw new Error('a trap');
        },
      },
    ),
  ),
);

// Cases per property, sized so the file takes about 3 s on two shared cores.
const RUNS = { wrapAnything: 30_000, formats: 50_000, formatLookalikes: 25_000 };

describe('EarshotError.from under fuzzing', () => {
  it('wraps anything thrown into an error with a stable code and a string message, never throwing', () => {
    fc.assert(
      fc.property(
        thrownArb,
        fc.constantFrom(...ERROR_CODES),
        fc.boolean(),
        (thrown, code, fatal) => {
          const error = EarshotError.from(thrown, code, fatal);
          assert.ok(EarshotError.isInstance(error));
          assert.equal(typeof error.message, 'string');
          if (!EarshotError.isInstance(thrown)) {
            assert.equal(error.code, code);
            assert.equal(error.fatal, fatal);
            assert.equal(error.cause, thrown);
          }
          assert.ok(ErrorMessageSchema.safeParse(error.toWire()).success);
          assert.ok(error.asFatal().fatal);
        },
      ),
      { seed: 0x5eed_0201, numRuns: RUNS.wrapAnything },
    );
  });
});

describe('audio formats under fuzzing', () => {
  it('give raw formats a byte rate of rate × channels × sample width, and containers none', () => {
    fc.assert(
      fc.property(audioFormatArb, audioFormatArb, (format, other) => {
        const width = { pcm16: 2, mulaw: 1, alaw: 1 }[format.encoding as string];
        assert.equal(
          bytesPerSecond(format),
          width === undefined ? undefined : format.sampleRate * format.channels * width,
        );
        assert.ok(sameAudioFormat(format, { ...format }));
        assert.equal(sameAudioFormat(format, other), sameAudioFormat(other, format));
        assert.equal(
          sameAudioFormat(format, other),
          describeAudioFormat(format) === describeAudioFormat(other),
        );
      }),
      { seed: 0x5eed_0202, numRuns: RUNS.formats },
    );
  });

  it('accept exactly the formats within the protocol bounds, whatever else a client sends', () => {
    const lookalike = fc.record(
      {
        encoding: fc.oneof(
          fc.constantFrom('pcm16', 'mulaw', 'alaw', 'webm-opus', 'ogg-opus', 'wav'),
          fc.constantFrom('PCM16', 'mp3', '', 'toString', '__proto__'),
          fc.anything(),
        ),
        sampleRate: fc.oneof(
          fc.integer({ min: 7_999, max: 48_001 }),
          fc.double(),
          fc.constantFrom('16000', null, 2 ** 53, -0),
          fc.anything(),
        ),
        channels: fc.oneof(fc.integer({ min: -1, max: 3 }), fc.double(), fc.anything()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(lookalike, (value) => {
        const parsed = AudioFormatSchema.safeParse(value);
        // Only a missing channel count takes the default; `null` is not one.
        const channels = value.channels === undefined ? 1 : value.channels;
        const valid =
          ['pcm16', 'mulaw', 'alaw', 'webm-opus', 'ogg-opus', 'wav'].includes(
            value.encoding as string,
          ) &&
          Number.isSafeInteger(value.sampleRate) &&
          (value.sampleRate as number) >= 8000 &&
          (value.sampleRate as number) <= 48000 &&
          Number.isSafeInteger(channels) &&
          (channels as number) >= 1 &&
          (channels as number) <= 2;
        assert.equal(parsed.success, valid, JSON.stringify(value) ?? String(value));
      }),
      { seed: 0x5eed_0203, numRuns: RUNS.formatLookalikes },
    );
  });
});
