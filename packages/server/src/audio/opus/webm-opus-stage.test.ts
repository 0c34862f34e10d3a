import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  allIndexesOf,
  collectingSink,
  concat,
  decodeWith,
  indexOf,
  makeOpusFixtures,
  noise,
  type OpusFixtures,
  randomChunks,
  snrDb,
} from './__fixtures__/opus-fixtures.js';
import { WebmOpusStage } from './webm-opus-stage.js';

// One Opus frame at 48 kHz (20 ms): decoders may differ by up to this at the end.
const FRAME = 960;

let fx: OpusFixtures;
beforeAll(async () => {
  fx = await makeOpusFixtures();
});
afterAll(() => fx.cleanup());

const decode = (chunks: Uint8Array[]) => decodeWith((sink) => new WebmOpusStage(sink), chunks);

describe('WebmOpusStage', () => {
  test('decodes a WebM/Opus file fed in random chunks to the same samples as libopus in FFmpeg', async () => {
    for (const seed of [1, 2, 3]) {
      const sink = await decode(randomChunks(fx.webm, seed));
      expect(sink.errors).toEqual([]);
      const samples = sink.samples();
      expect(Math.abs(samples.length - fx.webmLibopusReference.length)).toBeLessThanOrEqual(FRAME);
      expect(snrDb(fx.webmLibopusReference, samples, 960)).toBeGreaterThan(60);
      // FFmpeg's own Opus decoder differs from libopus in the last bits only.
      expect(snrDb(fx.webmReference, samples, 960)).toBeGreaterThan(25);
    }
  });

  test('decodes MediaRecorder-style WebM whose Segment and Clusters have unknown sizes', async () => {
    const sink = await decode(randomChunks(fx.liveWebm, 9));
    expect(sink.errors).toEqual([]);
    const samples = sink.samples();
    expect(Math.abs(samples.length - fx.webmLibopusReference.length)).toBeLessThanOrEqual(FRAME);
    expect(snrDb(fx.webmLibopusReference, samples, 960)).toBeGreaterThan(60);
  });

  test('decodes a stream fed one byte at a time', async () => {
    const bytes = Array.from({ length: fx.liveWebm.byteLength }, (_, i) =>
      fx.liveWebm.subarray(i, i + 1),
    );
    const sink = await decode(bytes);
    expect(sink.errors).toEqual([]);
    expect(snrDb(fx.webmLibopusReference, sink.samples(), 960)).toBeGreaterThan(60);
  });

  test('end resolves after everything written is decoded and emitted', async () => {
    const sink = collectingSink();
    const stage = new WebmOpusStage(sink);
    // Written synchronously, before the WASM decoder can be ready: all of it is queued.
    stage.write(fx.webm);
    await stage.end();
    expect(sink.samples().length).toBe((await decode(randomChunks(fx.webm, 4))).samples().length);
    stage.destroy();
  });

  test('reports a first chunk that is not WebM as invalid_audio without throwing', async () => {
    const sink = await decode([new TextEncoder().encode('RIFF....WAVEfmt this is not webm')]);
    expect(sink.errors.length).toBeGreaterThanOrEqual(1);
    expect(sink.errors.every((e) => e.code === 'invalid_audio')).toBe(true);
    expect(sink.errors[0]!.message).toMatch(/not a WebM stream/);
    expect(sink.bytes).toBe(0);
  });

  test('reports garbage right after the WebM header as invalid_audio', async () => {
    const firstCluster = indexOf(fx.liveWebm, [0x1f, 0x43, 0xb6, 0x75]);
    const header = fx.liveWebm.subarray(0, 40); // EBML header and the Segment's start
    const garbage = noise(5000, 7);
    const sink = await decode([header, garbage]);
    expect(firstCluster).toBeGreaterThan(40);
    expect(sink.errors.length).toBeGreaterThanOrEqual(1);
    expect(sink.errors.every((e) => e.code === 'invalid_audio')).toBe(true);
    expect(sink.bytes).toBe(0);
  });

  test('reports a WebM track that is not Opus as a fatal invalid_audio', async () => {
    const vorbis = fx.liveWebm.slice();
    const at = indexOf(vorbis, [...new TextEncoder().encode('A_OPUS')]);
    vorbis.set(new TextEncoder().encode('A_VORB'), at);
    const sink = await decode(randomChunks(vorbis, 5));
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]).toMatchObject({ code: 'invalid_audio', fatal: true });
    expect(sink.errors[0]!.message).toMatch(/A_VORB, not Opus/);
    expect(sink.bytes).toBe(0);
  });

  test('reports a stream truncated inside a block as invalid_audio at the end', async () => {
    const sink = await decode(randomChunks(fx.webm.subarray(0, fx.webm.byteLength - 1000), 6));
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]).toMatchObject({ code: 'invalid_audio', fatal: false });
    expect(sink.errors[0]!.message).toMatch(/truncated/);
    expect(sink.bytes).toBeGreaterThan(0);
  });

  test('reports garbage mid-stream once, resyncs at the next Cluster and decodes the rest', async () => {
    const clusters = allIndexesOf(fx.liveWebm, [0x1f, 0x43, 0xb6, 0x75]);
    expect(clusters.length).toBeGreaterThanOrEqual(2);
    const cut = clusters[1]! - 2000; // inside the first cluster, before the second
    const corrupt = concat(
      fx.liveWebm.subarray(0, cut),
      noise(3000, 11),
      fx.liveWebm.subarray(cut),
    );
    const sink = await decode(randomChunks(corrupt, 8));
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]).toMatchObject({ code: 'invalid_audio', fatal: false });
    // Everything but the rest of the damaged cluster is decoded.
    const samples = sink.samples();
    expect(samples.length).toBeGreaterThan(fx.webmLibopusReference.length * 0.6);
    // The last second matches the reference (our end is not trimmed: allow a frame of lag).
    const tail = fx.webmLibopusReference.subarray(fx.webmLibopusReference.length - 48000);
    expect(snrDb(tail, samples.subarray(samples.length - 48000 - FRAME), FRAME)).toBeGreaterThan(
      30,
    );
  });

  test('refuses a block larger than its limit and drops it without buffering it', async () => {
    const sink = collectingSink();
    const stage = new WebmOpusStage(sink, { maxElementBytes: 64 });
    stage.write(fx.liveWebm);
    await stage.end();
    stage.destroy();
    expect(sink.errors.length).toBeGreaterThanOrEqual(1);
    expect(sink.errors.every((e) => e.code === 'invalid_audio')).toBe(true);
    expect(sink.errors[0]!.message).toMatch(/larger than the limit/);
  });

  test('never throws out of write on random bytes and ends', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const sink = await decode(randomChunks(noise(200_000, seed), seed));
      expect(sink.errors.every((e) => e.code === 'invalid_audio')).toBe(true);
      expect(sink.bytes).toBe(0);
    }
  });
});
