import { processAlive } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  collectingSink,
  makeOpusFixtures,
  noise,
  type OpusFixtures,
  randomChunks,
  snrDb,
} from './__fixtures__/opus-fixtures.js';
import { FfmpegOpusStage, type OpusContainer } from './ffmpeg-stage.js';

const FRAME = 960;

let fx: OpusFixtures;
beforeAll(async () => {
  fx = await makeOpusFixtures();
});
afterAll(() => fx.cleanup());

async function decode(container: OpusContainer, chunks: Uint8Array[], outputSampleRate?: number) {
  const sink = collectingSink();
  const stage = new FfmpegOpusStage(sink, {
    container,
    ...(outputSampleRate === undefined ? {} : { outputSampleRate }),
  });
  for (const chunk of chunks) stage.write(chunk);
  await stage.end();
  return { sink, stage };
}

describe('FfmpegOpusStage', () => {
  test('decodes WebM/Opus fed in random chunks exactly as FFmpeg decodes the file', async () => {
    const { sink } = await decode('webm', randomChunks(fx.webm, 1));
    expect(sink.errors).toEqual([]);
    const samples = sink.samples();
    expect(Math.abs(samples.length - fx.webmReference.length)).toBeLessThanOrEqual(FRAME);
    expect(snrDb(fx.webmReference, samples, 960)).toBeGreaterThan(60);
  });

  test('decodes MediaRecorder-style WebM with unknown sizes', async () => {
    const { sink } = await decode('webm', randomChunks(fx.liveWebm, 2));
    expect(sink.errors).toEqual([]);
    expect(snrDb(fx.webmReference, sink.samples(), 960)).toBeGreaterThan(60);
  });

  test('decodes Ogg/Opus fed in random chunks', async () => {
    const { sink } = await decode('ogg', randomChunks(fx.ogg, 3));
    expect(sink.errors).toEqual([]);
    const samples = sink.samples();
    expect(Math.abs(samples.length - fx.oggReference.length)).toBeLessThanOrEqual(FRAME);
    expect(snrDb(fx.oggReference, samples, 960)).toBeGreaterThan(60);
  });

  test('emits at the output sample rate it is given', async () => {
    const { sink, stage } = await decode('webm', [fx.webm], 16000);
    expect(stage.output).toEqual({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
    expect(Math.abs(sink.samples().length - fx.webmReference.length / 3)).toBeLessThanOrEqual(
      FRAME / 3,
    );
  });

  test('end resolves after FFmpeg has exited and been reaped, with everything emitted', async () => {
    const { sink, stage } = await decode('webm', randomChunks(fx.webm, 4));
    expect(sink.samples().length).toBe(fx.webmReference.length);
    expect(processAlive(stage.pid!)).toBe(false);
  });

  for (const container of ['webm', 'ogg'] as const) {
    test(`restarts a killed FFmpeg with the ${container} header replayed, and the rest still decodes`, async () => {
      const bytes = container === 'webm' ? fx.liveWebm : fx.ogg;
      const chunks = randomChunks(bytes, 5, 1024);
      const half = chunks.length >> 1;
      const sink = collectingSink();
      const stage = new FfmpegOpusStage(sink, { container });
      for (const chunk of chunks.slice(0, half)) stage.write(chunk);
      await sink.outputReaches(48000 * 2); // FFmpeg is up and decoding
      const firstPid = stage.pid!;
      process.kill(firstPid, 'SIGKILL');
      const error = await sink.nextError();
      expect(error).toMatchObject({ code: 'internal', fatal: false });
      expect(error.message).toMatch(/restarted/);
      expect(stage.pid).not.toBe(firstPid);
      expect(processAlive(firstPid)).toBe(false);
      const before = sink.bytes;
      for (const chunk of chunks.slice(half)) stage.write(chunk);
      await stage.end();
      expect(sink.errors).toHaveLength(1);
      expect(stage.restarts).toBe(1);
      // Output went on after the restart: at least the last fifth of the recording.
      expect(sink.bytes - before).toBeGreaterThan((fx.webmReference.length * 2) / 5);
      const samples = sink.samples();
      const reference = container === 'webm' ? fx.webmReference : fx.oggReference;
      const tail = reference.subarray(reference.length - 48000);
      expect(snrDb(tail, samples.subarray(samples.length - 48000), FRAME)).toBeGreaterThan(30);
    });
  }

  test('destroy kills FFmpeg and leaves no child process behind', async () => {
    const sink = collectingSink();
    const stage = new FfmpegOpusStage(sink, { container: 'webm' });
    stage.write(fx.webm.subarray(0, 10_000));
    const pid = stage.pid!;
    expect(processAlive(pid)).toBe(true);
    stage.destroy();
    await stage.closed();
    expect(processAlive(pid)).toBe(false);
    expect(sink.errors).toEqual([]);
  });

  test('reports input FFmpeg rejects as a fatal invalid_audio, and its FFmpeg is reaped', async () => {
    const sink = collectingSink();
    const stage = new FfmpegOpusStage(sink, { container: 'webm' });
    const pid = stage.pid!;
    stage.write(noise(200_000, 3));
    const error = await sink.nextError();
    expect(error).toMatchObject({ code: 'invalid_audio', fatal: true });
    expect(error.message).toMatch(/FFmpeg rejected the audio/);
    await stage.closed();
    expect(processAlive(pid)).toBe(false);
    await stage.end();
    expect(sink.errors).toHaveLength(1);
    expect(sink.bytes).toBe(0);
  });

  test('reports a first chunk that is not WebM, ended at once, as invalid_audio', async () => {
    const { sink } = await decode('webm', [noise(2000, 3)]);
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]!.code).toBe('invalid_audio');
    expect(sink.bytes).toBe(0);
  });

  test('reports a truncated stream as invalid_audio at the end', async () => {
    const { sink } = await decode('webm', randomChunks(fx.webm.subarray(0, 20_000), 6));
    expect(sink.errors.length).toBeGreaterThanOrEqual(1);
    expect(sink.errors.every((e) => e.code === 'invalid_audio')).toBe(true);
    expect(sink.bytes).toBeGreaterThan(0);
  });

  test('ignores writes after destroy without throwing', () => {
    const stage = new FfmpegOpusStage(collectingSink(), { container: 'ogg' });
    stage.destroy();
    expect(() => stage.write(fx.ogg)).not.toThrow();
    return stage.closed();
  });
});
