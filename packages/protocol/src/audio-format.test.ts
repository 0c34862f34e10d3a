import { describe, expect, it } from 'vitest';
import {
  AudioFormatSchema,
  bytesPerSecond,
  describeAudioFormat,
  sameAudioFormat,
} from './index.js';

describe('audio formats', () => {
  it('knows the byte rate of raw formats and not of containers', () => {
    expect(bytesPerSecond({ encoding: 'pcm16', sampleRate: 16000, channels: 1 })).toBe(32000);
    expect(bytesPerSecond({ encoding: 'pcm16', sampleRate: 48000, channels: 2 })).toBe(192000);
    expect(bytesPerSecond({ encoding: 'mulaw', sampleRate: 8000, channels: 1 })).toBe(8000);
    expect(
      bytesPerSecond({ encoding: 'webm-opus', sampleRate: 48000, channels: 1 }),
    ).toBeUndefined();
  });

  it('compares and describes formats', () => {
    const a = AudioFormatSchema.parse({ encoding: 'pcm16', sampleRate: 16000 });
    expect(sameAudioFormat(a, { encoding: 'pcm16', sampleRate: 16000, channels: 1 })).toBe(true);
    expect(sameAudioFormat(a, { encoding: 'pcm16', sampleRate: 8000, channels: 1 })).toBe(false);
    expect(describeAudioFormat(a)).toBe('pcm16/16000/1');
  });

  it('refuses rates and channel counts outside what the protocol supports', () => {
    for (const bad of [
      { sampleRate: 0 },
      { sampleRate: 10_000_000 },
      { sampleRate: 16000.5 },
      { channels: 8 },
      { channels: 0 },
    ]) {
      expect(
        AudioFormatSchema.safeParse({ encoding: 'pcm16', sampleRate: 16000, ...bad }).success,
      ).toBe(false);
    }
  });
});
