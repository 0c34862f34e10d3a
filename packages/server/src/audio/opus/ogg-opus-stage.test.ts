import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  allIndexesOf,
  decodeWith,
  makeOpusFixtures,
  noise,
  type OpusFixtures,
  randomChunks,
  snrDb,
} from './__fixtures__/opus-fixtures.js';
import { OggOpusStage } from './ogg-opus-stage.js';

const FRAME = 960;
const OGGS = [0x4f, 0x67, 0x67, 0x53];

let fx: OpusFixtures;
beforeAll(async () => {
  fx = await makeOpusFixtures();
});
afterAll(() => fx.cleanup());

const decode = (chunks: Uint8Array[]) => decodeWith((sink) => new OggOpusStage(sink), chunks);

describe('OggOpusStage', () => {
  test('decodes an Ogg/Opus file fed in random chunks to the same samples as libopus in FFmpeg', async () => {
    for (const seed of [1, 2, 3]) {
      const sink = await decode(randomChunks(fx.ogg, seed));
      expect(sink.errors).toEqual([]);
      const samples = sink.samples();
      expect(Math.abs(samples.length - fx.oggLibopusReference.length)).toBeLessThanOrEqual(FRAME);
      expect(snrDb(fx.oggLibopusReference, samples, 960)).toBeGreaterThan(60);
      expect(snrDb(fx.oggReference, samples, 960)).toBeGreaterThan(25);
    }
  });

  test('decodes a stream fed one byte at a time, with packets spanning pages', async () => {
    const bytes = Array.from({ length: fx.ogg.byteLength }, (_, i) => fx.ogg.subarray(i, i + 1));
    const sink = await decode(bytes);
    expect(sink.errors).toEqual([]);
    expect(snrDb(fx.oggLibopusReference, sink.samples(), 960)).toBeGreaterThan(60);
  });

  test('reports a first chunk that is not Ogg as invalid_audio without throwing', async () => {
    const sink = await decode([fx.webm]);
    expect(sink.errors.length).toBeGreaterThanOrEqual(1);
    expect(sink.errors.every((e) => e.code === 'invalid_audio')).toBe(true);
    expect(sink.errors[0]!.message).toMatch(/not an Ogg stream/);
    expect(sink.bytes).toBe(0);
  });

  test('drops a page that fails its CRC, reports it once and decodes the rest', async () => {
    const pages = allIndexesOf(fx.ogg, OGGS);
    const corrupt = fx.ogg.slice();
    corrupt[pages[3]! + 100] = corrupt[pages[3]! + 100]! ^ 0xff;
    const sink = await decode(randomChunks(corrupt, 4));
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]).toMatchObject({ code: 'invalid_audio', fatal: false });
    expect(sink.errors[0]!.message).toMatch(/CRC/);
    expect(sink.samples().length).toBeGreaterThan(fx.oggLibopusReference.length * 0.7);
  });

  test('reports garbage between pages once and resyncs at the next OggS', async () => {
    const pages = allIndexesOf(fx.ogg, OGGS);
    const at = pages[4]!;
    const corrupt = new Uint8Array(fx.ogg.byteLength + 3000);
    corrupt.set(fx.ogg.subarray(0, at));
    corrupt.set(noise(3000, 5), at);
    corrupt.set(fx.ogg.subarray(at), at + 3000);
    const sink = await decode(randomChunks(corrupt, 6));
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]!.code).toBe('invalid_audio');
    expect(Math.abs(sink.samples().length - fx.oggLibopusReference.length)).toBeLessThanOrEqual(
      FRAME,
    );
  });

  test('reports a stream truncated inside a page as invalid_audio at the end', async () => {
    const sink = await decode(randomChunks(fx.ogg.subarray(0, fx.ogg.byteLength - 500), 2));
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]).toMatchObject({ code: 'invalid_audio', fatal: false });
    expect(sink.errors[0]!.message).toMatch(/truncated/);
  });

  test('never throws out of write on random bytes and ends', async () => {
    for (const seed of [1, 2, 3]) {
      const sink = await decode(randomChunks(noise(200_000, seed), seed));
      expect(sink.errors.every((e) => e.code === 'invalid_audio')).toBe(true);
      expect(sink.bytes).toBe(0);
    }
  });
});
