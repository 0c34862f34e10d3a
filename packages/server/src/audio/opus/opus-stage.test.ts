import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createResampler } from '../resampler.js';
import {
  collectingSink,
  makeOpusFixtures,
  type OpusFixtures,
  snrDb,
} from './__fixtures__/opus-fixtures.js';
import { FfmpegOpusStage } from './ffmpeg-stage.js';
import { OggOpusStage } from './ogg-opus-stage.js';
import { createOpusStage } from './opus-stage.js';
import { WebmOpusStage } from './webm-opus-stage.js';

const webm = { encoding: 'webm-opus', sampleRate: 48000, channels: 1 } as const;
const ogg = { encoding: 'ogg-opus', sampleRate: 48000, channels: 1 } as const;

let fixtures: OpusFixtures;
beforeAll(async () => {
  fixtures = await makeOpusFixtures();
});
afterAll(() => fixtures.cleanup());

describe('createOpusStage', () => {
  test('builds the in-process stage for the container the input format names', () => {
    const a = createOpusStage(webm, collectingSink(), { decoder: 'wasm' });
    const b = createOpusStage(ogg, collectingSink(), { decoder: 'wasm' });
    expect(a).toBeInstanceOf(WebmOpusStage);
    expect(b).toBeInstanceOf(OggOpusStage);
    expect(a.output).toEqual({ encoding: 'pcm16', sampleRate: 48000, channels: 1 });
    a.destroy();
    b.destroy();
  });

  test('builds one FFmpeg stage per call, at the output rate asked for', async () => {
    const a = createOpusStage(webm, collectingSink(), {
      decoder: 'ffmpeg',
      outputSampleRate: 16000,
    });
    const b = createOpusStage(webm, collectingSink(), { decoder: 'ffmpeg' });
    expect(a).toBeInstanceOf(FfmpegOpusStage);
    expect(a.output.sampleRate).toBe(16000);
    expect(b.output.sampleRate).toBe(48000);
    expect((a as FfmpegOpusStage).pid).not.toBe((b as FfmpegOpusStage).pid);
    a.destroy();
    b.destroy();
    await Promise.all([(a as FfmpegOpusStage).closed(), (b as FfmpegOpusStage).closed()]);
  });

  test('decodes straight to 16 kHz in process, as well as decoding at 48 kHz and resampling', async () => {
    const direct = collectingSink();
    const at16 = createOpusStage(webm, direct, { decoder: 'wasm', outputSampleRate: 16000 });
    expect(at16.output).toEqual({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
    at16.write(fixtures.webm);
    await at16.end();

    const full = collectingSink();
    const at48 = createOpusStage(webm, full, { decoder: 'wasm' });
    at48.write(fixtures.webm);
    await at48.end();
    const resampler = createResampler(48000, 16000);
    const a = resampler.process(full.samples());
    const b = resampler.flush();
    const resampled = new Int16Array(a.length + b.length);
    resampled.set(a);
    resampled.set(b, a.length);

    expect(direct.errors).toEqual([]);
    expect(Math.abs(direct.samples().length - resampled.length)).toBeLessThan(320);
    expect(snrDb(resampled, direct.samples())).toBeGreaterThan(15);
  });

  test('refuses a wasm decode rate libopus does not have', () => {
    expect(() =>
      createOpusStage(webm, collectingSink(), { decoder: 'wasm', outputSampleRate: 44100 }),
    ).toThrow(expect.objectContaining({ code: 'unsupported_audio_format' }));
  });

  test('refuses formats that are not Opus in a container', () => {
    expect(() =>
      createOpusStage({ encoding: 'pcm16', sampleRate: 16000, channels: 1 }, collectingSink(), {
        decoder: 'wasm',
      }),
    ).toThrow(expect.objectContaining({ code: 'unsupported_audio_format' }));
  });
});
