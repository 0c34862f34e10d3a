import { describe, expect, test } from 'vitest';
import { collectingSink } from './__fixtures__/opus-fixtures.js';
import { FfmpegOpusStage } from './ffmpeg-stage.js';
import { OggOpusStage } from './ogg-opus-stage.js';
import { createOpusStage } from './opus-stage.js';
import { WebmOpusStage } from './webm-opus-stage.js';

const webm = { encoding: 'webm-opus', sampleRate: 48000, channels: 1 } as const;
const ogg = { encoding: 'ogg-opus', sampleRate: 48000, channels: 1 } as const;

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

  test('refuses formats that are not Opus in a container', () => {
    expect(() =>
      createOpusStage({ encoding: 'pcm16', sampleRate: 16000, channels: 1 }, collectingSink(), {
        decoder: 'wasm',
      }),
    ).toThrow(expect.objectContaining({ code: 'unsupported_audio_format' }));
  });
});
