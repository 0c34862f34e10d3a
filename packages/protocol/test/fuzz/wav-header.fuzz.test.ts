import assert from 'node:assert/strict';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import {
  type AudioFormat,
  AudioFormatSchema,
  EarshotError,
  isWav,
  MAX_CHANNELS,
  MAX_SAMPLE_RATE,
  MIN_SAMPLE_RATE,
  readWavHeader,
  type WavHeader,
} from '../../src/index.js';

// Property-based fuzzing of the RIFF/WAVE header reader, which sees the first bytes of any
// binary frame a client sends. Fixed seed per property; fast-check prints seed and path on
// failure.

/** A header as a generator describes it, and the bytes it becomes. */
interface WavSpec {
  readonly format: AudioFormat;
  /** How the fmt chunk says it: a plain tag, or WAVE_FORMAT_EXTENSIBLE with the tag in its GUID. */
  readonly extensible: boolean;
  /** Bytes after the 16 (or 40) of the fmt body: some writers add a cbSize and more. */
  readonly fmtExtra: number;
  /** Chunks before `fmt ` and between it and `data` (LIST, fact, junk…). */
  readonly before: readonly Chunk[];
  readonly between: readonly Chunk[];
  /** What `data` declares: 0 and 0xFFFFFFFF are "unknown" (streaming recorders). */
  readonly dataSize: number;
}

interface Chunk {
  readonly id: string;
  readonly body: Uint8Array;
}

const TAGS = { pcm16: 0x0001, alaw: 0x0006, mulaw: 0x0007 } as const;
const BITS = { pcm16: 16, alaw: 8, mulaw: 8 } as const;

const chunkArb: fc.Arbitrary<Chunk> = fc.record({
  id: fc
    .string({ unit: 'grapheme-ascii', minLength: 4, maxLength: 4 })
    .filter((id) => id !== 'fmt ' && id !== 'data'),
  body: fc.uint8Array({ maxLength: 40 }),
});

const wavSpecArb: fc.Arbitrary<WavSpec> = fc.record({
  format: fc.record({
    encoding: fc.constantFrom('pcm16' as const, 'mulaw' as const, 'alaw' as const),
    sampleRate: fc.integer({ min: MIN_SAMPLE_RATE, max: MAX_SAMPLE_RATE }),
    channels: fc.integer({ min: 1, max: MAX_CHANNELS }),
  }),
  extensible: fc.boolean(),
  fmtExtra: fc.constantFrom(0, 2, 3, 22),
  before: fc.array(chunkArb, { maxLength: 2 }),
  between: fc.array(chunkArb, { maxLength: 2 }),
  dataSize: fc.oneof(fc.constantFrom(0, 0xffffffff, 0xfffffffe), fc.nat({ max: 1 << 20 })),
});

function chunkBytes(id: string, body: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.write(id, 0, 'latin1');
  head.writeUInt32LE(body.byteLength, 4);
  // Chunks are padded to an even size.
  return Buffer.concat([head, body, Buffer.alloc(body.byteLength % 2)]);
}

/** The header's bytes, up to and including the `data` chunk's id and size. */
function wavBytes(spec: WavSpec): Buffer {
  const { encoding, sampleRate, channels } = spec.format;
  const bits = BITS[encoding as keyof typeof BITS];
  const fmt = Buffer.alloc((spec.extensible ? 40 : 16) + spec.fmtExtra);
  fmt.writeUInt16LE(spec.extensible ? 0xfffe : TAGS[encoding as keyof typeof TAGS], 0);
  fmt.writeUInt16LE(channels, 2);
  fmt.writeUInt32LE(sampleRate, 4);
  fmt.writeUInt32LE((sampleRate * channels * bits) / 8, 8);
  fmt.writeUInt16LE((channels * bits) / 8, 12);
  fmt.writeUInt16LE(bits, 14);
  if (spec.extensible) {
    fmt.writeUInt16LE(22, 16);
    fmt.writeUInt16LE(bits, 18);
    fmt.writeUInt16LE(TAGS[encoding as keyof typeof TAGS], 24);
  }
  const data = Buffer.alloc(8);
  data.write('data', 0, 'latin1');
  data.writeUInt32LE(spec.dataSize, 4);
  return Buffer.concat([
    Buffer.from('RIFF\xff\xff\xff\xffWAVE', 'latin1'),
    ...spec.before.map((c) => chunkBytes(c.id, c.body)),
    chunkBytes('fmt ', fmt),
    ...spec.between.map((c) => chunkBytes(c.id, c.body)),
    data,
  ]);
}

const READ_ERROR_CODES = ['invalid_audio', 'unsupported_audio_format'];

/**
 * readWavHeader's contract for any bytes: an answer that holds together (a complete header
 * names a valid format and a data offset inside the bytes), or an {@link EarshotError} with
 * one of the two audio codes. Nothing else is thrown.
 */
function readAnyHeader(bytes: Uint8Array): WavHeader | EarshotError {
  let header: WavHeader;
  try {
    header = readWavHeader(bytes);
  } catch (error) {
    assert.ok(EarshotError.isInstance(error), `readWavHeader threw ${String(error)}`);
    assert.ok(READ_ERROR_CODES.includes(error.code), `code ${error.code}`);
    return error;
  }
  if (header.complete) {
    assert.ok(AudioFormatSchema.safeParse(header.format).success);
    assert.ok(header.dataOffset >= 12 + 8 + 16 && header.dataOffset <= bytes.byteLength);
    assert.ok(header.dataBytes === undefined || header.dataBytes > 0);
  }
  return header;
}

// Cases per property, sized so the file takes about 6 s on two shared cores.
const RUNS = {
  validHeaders: 20_000,
  prefixes: 3_000,
  randomBytes: 120_000,
  riffBytes: 150_000,
  mutatedHeaders: 50_000,
};

describe('readWavHeader under fuzzing', () => {
  it('reads every valid header, whatever chunks surround fmt, as the format and offset it declares', () => {
    fc.assert(
      fc.property(wavSpecArb, (spec) => {
        const bytes = wavBytes(spec);
        const unknown = spec.dataSize === 0 || spec.dataSize === 0xffffffff;
        assert.deepEqual(readWavHeader(bytes), {
          complete: true,
          format: { ...spec.format },
          dataOffset: bytes.byteLength,
          dataBytes: unknown ? undefined : spec.dataSize,
        });
      }),
      { seed: 0x5eed_0101, numRuns: RUNS.validHeaders },
    );
  });

  it('answers incomplete, never an error, for every prefix of a valid header', () => {
    fc.assert(
      fc.property(wavSpecArb, (spec) => {
        const bytes = wavBytes(spec);
        for (let n = 0; n < bytes.byteLength; n++) {
          assert.deepEqual(readWavHeader(bytes.subarray(0, n)), { complete: false }, `at ${n}`);
        }
      }),
      { seed: 0x5eed_0102, numRuns: RUNS.prefixes },
    );
  });

  it('answers any bytes with a consistent header or a stable audio error code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (bytes) => {
        const header = readAnyHeader(bytes);
        if (!isWav(bytes) && bytes.byteLength >= 12) assert.ok(EarshotError.isInstance(header));
      }),
      { seed: 0x5eed_0103, numRuns: RUNS.randomBytes },
    );
  });

  it('walks random chunks after a RIFF/WAVE preamble without throwing anything else', () => {
    const preamble = Buffer.from('RIFF\0\0\0\0WAVE', 'latin1');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 96 }), (rest) => {
        readAnyHeader(Buffer.concat([preamble, rest]));
      }),
      { seed: 0x5eed_0104, numRuns: RUNS.riffBytes },
    );
  });

  it('survives valid headers with bytes overwritten, sizes made huge, or cut short', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), value: fc.nat(255) }),
      fc.record({
        kind: fc.constant('size' as const),
        at: fc.nat(),
        value: fc.constantFrom(0, 1, 15, 16, 39, 40, 0x7fffffff, 0xfffffffe, 0xffffffff),
      }),
      fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
    );
    fc.assert(
      fc.property(wavSpecArb, fc.array(mutation, { minLength: 1, maxLength: 4 }), (spec, edits) => {
        let bytes = wavBytes(spec);
        for (const edit of edits) {
          const at = edit.at % bytes.byteLength;
          if (edit.kind === 'byte') bytes[at] = edit.value;
          else if (edit.kind === 'size' && at + 4 <= bytes.byteLength)
            bytes.writeUInt32LE(edit.value, at);
          else if (edit.kind === 'cut') bytes = bytes.subarray(0, at);
        }
        readAnyHeader(bytes);
      }),
      { seed: 0x5eed_0105, numRuns: RUNS.mutatedHeaders },
    );
  });
});
