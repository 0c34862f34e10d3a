import assert from 'node:assert/strict';
import { type AudioFormat, EarshotError } from '@earshot/protocol';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { AudioPipeline } from '../../src/audio/audio-pipeline.js';
import type { AudioSink } from '../../src/audio/audio-stage.js';
import { wavClip } from '../../src/audio/clip.js';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from '../../src/audio/g711.js';
import { OpusPacketDecoder } from '../../src/audio/opus/opus-packet-decoder.js';
import {
  downmixStereo,
  Pcm16Framer,
  pcm16FromBytes,
  pcm16ToBytes,
  upmixMono,
} from '../../src/audio/pcm16.js';
import { createResampler } from '../../src/audio/resampler.js';
import {
  applyByteEdits,
  byteEditArb,
  oggOpus,
  opusPacketsArb,
  splitAt,
  webmOpus,
} from './container-builders.js';

// Property-based fuzzing of the audio decoders every binary frame goes through: G.711, PCM16
// framing and mixing, the resampler, WAV clips, the Opus packet decoder (libopus in WASM), and
// the whole AudioPipeline with WAV sniffing and container demuxing. Bad bytes must come out as
// `invalid_audio` / `unsupported_audio_format` errors, never as a throw, and nothing may be
// buffered without bound. Fixed seed per property; fast-check prints seed and path on failure.

const AUDIO_ERROR_CODES = ['invalid_audio', 'unsupported_audio_format'];

const cutsArb = fc.array(fc.nat(), { maxLength: 10 });

// Cases per property, sized so the file takes about 8 s on two shared cores.
const RUNS = {
  mulawRoundTrip: 150_000,
  alawRoundTrip: 150_000,
  g711Monotonic: 50_000,
  framer: 100_000,
  mixing: 60_000,
  resamplerChunking: 1_500,
  resamplerRates: 20_000,
  wavClip: 40_000,
  pipelineRaw: 6_000,
  pipelineWavHead: 400,
  pipelineOpus: 300,
  opusPackets: 3_000,
};

describe('G.711 under fuzzing', () => {
  it('μ-law: decoding then encoding gives back any code, but for negative zero', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), (codes) => {
        const back = encodeMulaw(decodeMulaw(codes));
        for (let i = 0; i < codes.length; i++) {
          assert.equal(back[i], codes[i] === 0x7f ? 0xff : codes[i]);
        }
      }),
      { seed: 0x5eed_0501, numRuns: RUNS.mulawRoundTrip },
    );
  });

  it('A-law: decoding then encoding gives back any code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 160 }), (codes) => {
        assert.deepEqual(encodeAlaw(decodeAlaw(codes)), codes);
      }),
      { seed: 0x5eed_0502, numRuns: RUNS.alawRoundTrip },
    );
  });

  it('both laws keep the order of samples: a louder sample never decodes quieter', () => {
    fc.assert(
      fc.property(fc.int16Array({ minLength: 2, maxLength: 64 }), (samples) => {
        const sorted = Int16Array.from(samples).sort();
        for (const [encode, decode] of [
          [encodeMulaw, decodeMulaw],
          [encodeAlaw, decodeAlaw],
        ] as const) {
          const out = decode(encode(sorted));
          for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]! <= out[i]!);
        }
      }),
      { seed: 0x5eed_0503, numRuns: RUNS.g711Monotonic },
    );
  });
});

describe('PCM16 under fuzzing', () => {
  it('frames any split of a byte stream into the same samples, holding only a partial frame', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(1 as const, 2 as const),
        fc.uint8Array({ maxLength: 200 }),
        cutsArb,
        fc.nat(3),
        (channels, bytes, cuts, offset) => {
          // Chunks at odd offsets too, as Node's pooled Buffers often are.
          const padded = new Uint8Array(bytes.byteLength + offset);
          padded.set(bytes, offset);
          const framer = new Pcm16Framer(channels);
          const out: number[] = [];
          for (const chunk of splitAt(padded.subarray(offset), cuts)) {
            out.push(...framer.push(chunk));
          }
          const whole = bytes.byteLength - (bytes.byteLength % (2 * channels));
          assert.deepEqual(out, [...pcm16FromBytes(bytes.slice(0, whole))]);
          assert.equal(framer.pendingBytes, bytes.byteLength % (2 * channels));
          assert.equal(framer.reset(), bytes.byteLength % (2 * channels));
        },
      ),
      { seed: 0x5eed_0511, numRuns: RUNS.framer },
    );
  });

  it('reads odd byte counts as invalid_audio, and mixes mono to stereo and back unchanged', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 64 }),
        fc.int16Array({ maxLength: 64 }),
        (bytes, mono) => {
          if (bytes.byteLength % 2 === 1) {
            assert.throws(() => pcm16FromBytes(bytes), { code: 'invalid_audio' });
          } else {
            assert.deepEqual(pcm16ToBytes(pcm16FromBytes(bytes)), bytes);
          }
          assert.deepEqual(downmixStereo(upmixMono(mono)), mono);
        },
      ),
      { seed: 0x5eed_0512, numRuns: RUNS.mixing },
    );
  });
});

describe('the resampler under fuzzing', () => {
  // Few distinct pairs, so their filter tables stay in the resampler's cache (32 pairs).
  const RATES = [8000, 16000, 22050, 44100, 48000] as const;

  it('gives the same samples however a stream is cut, and ceil(n · to / from) of them', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...RATES),
        fc.constantFrom(...RATES),
        fc.int16Array({ maxLength: 600 }),
        cutsArb,
        (from, to, samples, cuts) => {
          const whole = createResampler(from, to);
          const expected = [...whole.process(samples), ...whole.flush()];
          const chunked = createResampler(from, to);
          const got: number[] = [];
          const points = [...cuts.map((c) => c % (samples.length + 1)), samples.length];
          let start = 0;
          for (const end of points.sort((a, b) => a - b)) {
            got.push(...chunked.process(samples.slice(start, Math.max(start, end))));
            start = Math.max(start, end);
          }
          got.push(...chunked.flush());
          assert.deepEqual(got, expected);
          assert.equal(expected.length, Math.ceil((samples.length * to) / from));
        },
      ),
      { seed: 0x5eed_0521, numRuns: RUNS.resamplerChunking },
    );
  });

  it('takes exactly the integer rates the protocol allows, refusing others as unsupported_audio_format', () => {
    const rate = fc.oneof(
      fc.constantFrom(...RATES),
      fc.integer({ min: -1, max: 7_999 }),
      fc.integer({ min: 48_001, max: 2 ** 31 }),
      fc.double(),
      fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 16000.5, -0),
    );
    fc.assert(
      fc.property(rate, rate, (from, to) => {
        const valid = (r: number) => Number.isInteger(r) && r >= 8000 && r <= 48000;
        try {
          createResampler(from, to);
          assert.ok(valid(from) && valid(to), `${from} → ${to} was accepted`);
        } catch (error) {
          assert.ok(EarshotError.isInstance(error), String(error));
          assert.equal(error.code, 'unsupported_audio_format');
          assert.ok(!(valid(from) && valid(to)));
        }
      }),
      { seed: 0x5eed_0522, numRuns: RUNS.resamplerRates },
    );
  });
});

describe('wavClip under fuzzing', () => {
  it('cuts any WAV file to whole samples within the bytes it was given, or refuses it with an audio code', () => {
    const header = fc
      .record({
        tag: fc.constantFrom(1, 6, 7, 3, 0xfffe),
        channels: fc.nat(3),
        rate: fc.oneof(fc.constantFrom(8000, 16000, 48000), fc.nat()),
        bits: fc.constantFrom(8, 16, 24),
        dataSize: fc.oneof(fc.nat(400), fc.constantFrom(0, 0xfffffffe, 0xffffffff)),
      })
      .map(({ tag, channels, rate, bits, dataSize }) => {
        const b = Buffer.alloc(44);
        b.write('RIFF', 0, 'latin1');
        b.write('WAVEfmt ', 8, 'latin1');
        b.writeUInt32LE(16, 16);
        b.writeUInt16LE(tag, 20);
        b.writeUInt16LE(channels, 22);
        b.writeUInt32LE(rate, 24);
        b.writeUInt16LE(bits, 34);
        b.write('data', 36, 'latin1');
        b.writeUInt32LE(dataSize, 40);
        return b;
      });
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 300 }), (head, body) => {
        const bytes = Buffer.concat([head, body]);
        let clip: ReturnType<typeof wavClip>;
        try {
          clip = wavClip(bytes);
        } catch (error) {
          assert.ok(EarshotError.isInstance(error), String(error));
          assert.ok(AUDIO_ERROR_CODES.includes(error.code));
          return;
        }
        assert.ok(clip !== undefined);
        const width = (clip.format.encoding === 'pcm16' ? 2 : 1) * clip.format.channels;
        assert.equal(clip.data.byteLength % width, 0);
        assert.ok(clip.data.byteLength <= body.byteLength);
        assert.equal(clip.data.buffer, bytes.buffer, 'the clip is a view, not a copy');
      }),
      { seed: 0x5eed_0531, numRuns: RUNS.wavClip },
    );
  });
});

/** A sink that checks the pipeline's contract as output and errors arrive. */
function checkingSink() {
  const state = { bytes: 0, errors: [] as EarshotError[], fatal: false, afterFatal: 0 };
  const sink: AudioSink = {
    data(chunk) {
      if (state.fatal) state.afterFatal++;
      state.bytes += chunk.byteLength;
    },
    error(error) {
      if (state.fatal) state.afterFatal++;
      assert.ok(EarshotError.isInstance(error));
      assert.ok(AUDIO_ERROR_CODES.includes(error.code), `${error.code}: ${error.message}`);
      state.errors.push(error);
      state.fatal ||= error.fatal;
    },
  };
  return { sink, state };
}

const rawFormatArb: fc.Arbitrary<AudioFormat> = fc.record({
  encoding: fc.constantFrom('pcm16' as const, 'mulaw' as const, 'alaw' as const, 'wav' as const),
  sampleRate: fc.constantFrom(8000, 16000, 44100, 48000),
  channels: fc.constantFrom(1, 2),
});

// What providers take: the local engine's PCM16 16 kHz, telephony μ-law, a 48 kHz stereo set.
const ACCEPTED: readonly (readonly AudioFormat[])[] = [
  [{ encoding: 'pcm16', sampleRate: 16000, channels: 1 }],
  [{ encoding: 'mulaw', sampleRate: 8000, channels: 1 }],
  [
    { encoding: 'pcm16', sampleRate: 48000, channels: 2 },
    { encoding: 'pcm16', sampleRate: 8000, channels: 1 },
  ],
];

/** Bytes a client may send as audio: noise, or something that starts like a WAV file. */
const audioBytesArb = fc.oneof(
  fc.uint8Array({ maxLength: 600 }),
  fc
    .tuple(
      fc.constantFrom(
        'RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data\0\0\0\0',
        'RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x07\0\x01\0\x40\x1f\0\0\x40\x1f\0\0\x01\0\x08\0data\xff\xff\xff\xff',
        'RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x03\0\x01\0\x80\xbb\0\0\0\0\0\0\x04\0\x20\0data\0\0\0\0',
        'RIFF\0\0\0\0WAVELIST\xfe\xff\xff\xff',
        'RIFF\0\0\0\0WAVE',
        'RIFF',
      ),
      fc.array(byteEditArb, { maxLength: 2 }),
      fc.uint8Array({ maxLength: 300 }),
    )
    .map(([head, edits, rest]) =>
      Buffer.concat([applyByteEdits(Buffer.from(head, 'latin1'), edits), rest]),
    ),
);

describe('the audio pipeline under fuzzing', () => {
  it('takes any bytes in any raw or WAV format, split anywhere: decodes or reports them, never throwing', async () => {
    await fc.assert(
      fc.asyncProperty(
        rawFormatArb,
        fc.constantFrom(...ACCEPTED),
        audioBytesArb,
        cutsArb,
        async (declared, accepted, bytes, cuts) => {
          const { sink, state } = checkingSink();
          let pipeline: AudioPipeline;
          try {
            pipeline = new AudioPipeline(declared, accepted, sink, {});
          } catch (error) {
            assert.ok(EarshotError.isInstance(error));
            assert.equal(error.code, 'unsupported_audio_format');
            return;
          }
          try {
            for (const chunk of splitAt(bytes, cuts)) pipeline.write(chunk);
            await pipeline.end();
            assert.equal(state.afterFatal, 0, 'output or errors after a fatal error');
            assert.ok(Number.isFinite(pipeline.outputSeconds) && pipeline.outputSeconds >= 0);
          } finally {
            pipeline.destroy();
          }
        },
      ),
      { seed: 0x5eed_0541, numRuns: RUNS.pipelineRaw },
    );
  });

  it('never holds more than 64 KiB waiting for a WAV header, whatever sizes the header claims', async () => {
    const claim = fc.constantFrom(
      'RIFF\0\0\0\0WAVELIST\xfe\xff\xff\xff',
      'RIFF\xff\xff\xff\xffWAVEJUNK\xff\xff\xff\x7f',
      'RIFF\0\0\0\0WAVEfmt \xfe\xff\xff\xff\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0',
    );
    await fc.assert(
      fc.asyncProperty(
        claim,
        fc.constantFrom<AudioFormat['encoding']>('wav', 'pcm16'),
        fc.integer({ min: 1_000, max: 16_000 }),
        async (head, encoding, chunkBytes) => {
          const { sink, state } = checkingSink();
          const pipeline = new AudioPipeline(
            { encoding, sampleRate: 16000, channels: 1 },
            ACCEPTED[0]!,
            sink,
            {},
          );
          try {
            pipeline.write(Buffer.from(head, 'latin1'));
            const chunk = new Uint8Array(chunkBytes);
            for (let sent = 0; sent <= 64 * 1024 + chunkBytes; sent += chunkBytes) {
              pipeline.write(chunk);
            }
            assert.equal(state.fatal, true, 'the pipeline still waits for a header');
            assert.equal(state.errors.at(-1)?.code, 'invalid_audio');
            assert.equal(state.bytes, 0);
          } finally {
            pipeline.destroy();
          }
        },
      ),
      { seed: 0x5eed_0542, numRuns: RUNS.pipelineWavHead },
    );
  });

  it('decodes WebM/Opus and Ogg/Opus, whole or corrupted, to PCM or invalid_audio, never to internal', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('webm-opus' as const, 'ogg-opus' as const),
        opusPacketsArb,
        fc.array(byteEditArb, { maxLength: 3 }),
        cutsArb,
        async (encoding, packets, edits, cuts) => {
          const built = encoding === 'webm-opus' ? webmOpus(packets) : oggOpus(packets);
          const { sink, state } = checkingSink();
          const pipeline = new AudioPipeline(
            { encoding, sampleRate: 48000, channels: 1 },
            ACCEPTED[0]!,
            sink,
            {},
          );
          try {
            for (const chunk of splitAt(applyByteEdits(built, edits), cuts)) pipeline.write(chunk);
            await pipeline.end();
            assert.equal(state.afterFatal, 0, 'output or errors after a fatal error');
            assert.equal(state.bytes % 2, 0, 'PCM16 output in whole samples');
          } finally {
            pipeline.destroy();
          }
        },
      ),
      { seed: 0x5eed_0543, numRuns: RUNS.pipelineOpus },
    );
  });
});

describe('the Opus packet decoder under fuzzing', () => {
  it('decodes any packet to PCM or drops it as invalid_audio, reporting a run of bad ones once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 9000 }), { maxLength: 8 }),
        fc.constantFrom(8000, 16000, 48000 as const),
        fc.constantFrom(1, 2, 255),
        async (packets, rate, channels) => {
          const { sink, state } = checkingSink();
          const decoder = new OpusPacketDecoder({ channels, preSkip: 312 }, sink, {
            outputSampleRate: rate as 8000 | 16000 | 48000,
          });
          try {
            for (const packet of packets) decoder.decode(packet);
            await decoder.flush();
            assert.equal(state.bytes % 2, 0);
            assert.ok(state.errors.every((e) => !e.fatal));
            assert.ok(state.errors.length <= packets.length);
          } finally {
            decoder.destroy();
          }
        },
      ),
      { seed: 0x5eed_0551, numRuns: RUNS.opusPackets },
    );
  });
});
