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
    test(`restarts a killed FFmpeg where it stopped (${container}): the output is the whole recording, nothing lost or doubled`, async () => {
      const bytes = container === 'webm' ? fx.liveWebm : fx.ogg;
      const reference = container === 'webm' ? fx.webmReference : fx.oggReference;
      const chunks = randomChunks(bytes, 5, 1024);
      const half = chunks.length >> 1;
      const sink = collectingSink();
      const stage = new FfmpegOpusStage(sink, { container });
      for (const chunk of chunks.slice(0, half)) stage.write(chunk);
      await sink.outputReaches(48000 * 2); // FFmpeg is up and decoding
      const firstPid = stage.pid!;
      process.kill(firstPid, 'SIGKILL');
      const error = await sink.nextError();
      expect(error).toMatchObject({ code: 'audio_decoder_failed', fatal: false });
      expect(error.message).toMatch(/restarted at .* nothing lost/);
      expect(stage.pid).not.toBe(firstPid);
      expect(processAlive(firstPid)).toBe(false);
      const join = sink.bytes / 2;
      for (const chunk of chunks.slice(half)) stage.write(chunk);
      await stage.end();
      expect(sink.errors).toHaveLength(1);
      expect(stage.restarts).toBe(1);
      // Before the fix a restart skipped to the next Cluster (WebM: up to 5 s here, 32 s from
      // a browser) or page, and every later time moved earlier by what was skipped.
      const samples = sink.samples();
      expect(Math.abs(samples.length - reference.length)).toBeLessThanOrEqual(FRAME);
      // After the join the samples are the recording's, in place (a lag of at most a frame).
      const after = join + 2 * FRAME;
      expect(snrDb(reference.subarray(after), samples.subarray(after), FRAME)).toBeGreaterThan(30);
    });
  }

  test('stands silence in for audio it could not replay, so later times stay true', async () => {
    const chunks = randomChunks(fx.liveWebm, 7, 1024);
    const quarter = chunks.length >> 2;
    const sink = collectingSink();
    // Room for about half a second of this 32 kbit/s stream: what FFmpeg holds back overflows.
    const stage = new FfmpegOpusStage(sink, { container: 'webm', maxPendingBytes: 2048 });
    for (const chunk of chunks.slice(0, quarter)) stage.write(chunk);
    await sink.outputReaches(48000); // FFmpeg is up and decoding
    const pid = stage.pid!;
    // Frozen, then killed with two quarters of the recording written to it and not decoded.
    process.kill(pid, 'SIGSTOP');
    for (const chunk of chunks.slice(quarter, 3 * quarter)) stage.write(chunk);
    process.kill(pid, 'SIGKILL');
    const error = await sink.nextError();
    expect(error).toMatchObject({ code: 'audio_decoder_failed', fatal: false });
    expect(error.message).toMatch(/could not be replayed/);
    for (const chunk of chunks.slice(3 * quarter)) stage.write(chunk);
    await stage.end();
    const samples = sink.samples();
    expect(Math.abs(samples.length - fx.webmReference.length)).toBeLessThanOrEqual(FRAME);
    // The last second is where it belongs.
    const last = fx.webmReference.length - 48000;
    expect(
      snrDb(fx.webmReference.subarray(last), samples.subarray(last, last + 48000), FRAME),
    ).toBeGreaterThan(30);
  });

  test('gives up with a fatal audio_decoder_failed when FFmpeg keeps dying, and leaves none behind', async () => {
    const sink = collectingSink();
    const stage = new FfmpegOpusStage(sink, { container: 'webm', maxRestarts: 2 });
    stage.write(fx.liveWebm.subarray(0, 20_000));
    await sink.outputReaches(2); // FFmpeg is decoding
    const pids: number[] = [];
    for (let death = 0; death < 3; death++) {
      // Each new FFmpeg dies at once, before it has decoded anything.
      pids.push(stage.pid!);
      process.kill(stage.pid!, 'SIGKILL');
      await sink.nextError(death + 1);
    }
    expect(sink.errors.map((e) => [e.code, e.fatal])).toEqual([
      ['audio_decoder_failed', false],
      ['audio_decoder_failed', false],
      ['audio_decoder_failed', true],
    ]);
    expect(sink.errors[2]!.message).toMatch(/3 times in a row; giving up/);
    await stage.closed();
    expect(pids.filter(processAlive)).toEqual([]);
    await stage.end(); // resolves at once: nothing runs
    stage.write(fx.liveWebm.subarray(20_000, 30_000)); // ignored, no new FFmpeg
    expect(stage.pid).toBe(pids[2]);
  });

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
