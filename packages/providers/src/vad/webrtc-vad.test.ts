import { EarshotError } from '@earshot/protocol';
import { describe, expect, it } from 'vitest';
import { createWebRtcVad, openWebRtcVadCount } from './webrtc-vad.js';

function tone(samples: number, sampleRate: number, hz: number, amplitude: number): Int16Array {
  const out = new Int16Array(samples);
  for (let i = 0; i < samples; i++) {
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / sampleRate));
  }
  return out;
}

describe('createWebRtcVad', () => {
  it('classifies digital silence as non-speech at every supported rate', async () => {
    for (const sampleRate of [8000, 16000, 32000, 48000]) {
      const vad = await createWebRtcVad({ sampleRate });
      try {
        const frame = new Int16Array((sampleRate * 30) / 1000);
        for (let i = 0; i < 20; i++) expect(vad.isSpeech(frame)).toBe(false);
      } finally {
        vad.close();
      }
    }
  });

  it('takes 10, 20 and 30 ms frames and rejects other lengths with invalid_audio', async () => {
    const vad = await createWebRtcVad({ sampleRate: 16000, mode: 0 });
    try {
      for (const samples of [160, 320, 480]) {
        expect(typeof vad.isSpeech(tone(samples, 16000, 300, 8000))).toBe('boolean');
      }
      const error = (() => {
        try {
          vad.isSpeech(new Int16Array(400));
        } catch (e) {
          return e;
        }
      })();
      expect(EarshotError.isInstance(error) && error.code).toBe('invalid_audio');
    } finally {
      vad.close();
    }
  });

  it('rejects a sample rate it does not take with unsupported_audio_format', async () => {
    for (const sampleRate of [11025, 22050, 44100, 24000]) {
      await expect(createWebRtcVad({ sampleRate })).rejects.toMatchObject({
        name: 'EarshotError',
        code: 'unsupported_audio_format',
      });
    }
  });

  it('frees its WASM instance on close, once, and refuses to work afterwards', async () => {
    const before = openWebRtcVadCount();
    const vads = await Promise.all([1, 2, 3].map(() => createWebRtcVad({ sampleRate: 16000 })));
    expect(openWebRtcVadCount()).toBe(before + 3);
    for (const vad of vads) {
      vad.close();
      vad.close();
      expect(vad.closed).toBe(true);
    }
    expect(openWebRtcVadCount()).toBe(before);
    expect(() => vads[0]?.isSpeech(new Int16Array(480))).toThrow(/after close/);
  });

  it('keeps working when many instances grow the WASM memory', async () => {
    // Growth replaces the heap views; a wrapper holding a stale view would throw or misread.
    // An instance takes about 3.6 kB (state and frame buffer) of a 16 MiB initial heap.
    const vads = await Promise.all(
      Array.from({ length: 6000 }, () => createWebRtcVad({ sampleRate: 48000 })),
    );
    try {
      const silence = new Int16Array(1440);
      for (const vad of vads) expect(vad.isSpeech(silence)).toBe(false);
    } finally {
      for (const vad of vads) vad.close();
    }
  });
});
