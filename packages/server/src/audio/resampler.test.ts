import { EarshotError } from '@earshot/protocol';
import { describe, expect, it } from 'vitest';
import { createResampler, type ResamplerQuality } from './resampler.js';

function sine(rate: number, hz: number, amplitude: number, seconds: number): Int16Array {
  const n = Math.round(rate * seconds);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++)
    out[i] = Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate));
  return out;
}

function noise(n: number, seed: number): Int16Array {
  const out = new Int16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) | 0;
    out[i] = s >> 17;
  }
  return out;
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function resampleWhole(
  input: Int16Array,
  from: number,
  to: number,
  quality?: ResamplerQuality,
): Int16Array {
  const resampler = createResampler(from, to, quality ? { quality } : {});
  return concat([resampler.process(input), resampler.flush()]);
}

function rms(samples: ArrayLike<number>, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += samples[i]! ** 2;
  return Math.sqrt(sum / (to - from));
}

const PAIRS: Array<[number, number]> = [
  [8000, 16000],
  [16000, 8000],
  [48000, 16000],
  [44100, 16000],
  [16000, 44100],
  [8000, 48000],
  [24000, 16000],
  [11025, 16000],
  [47999, 48000],
];

describe('createResampler', () => {
  it.each(PAIRS)(
    'gives bit-exact output from %i to %i Hz however the stream is cut into chunks',
    (from, to) => {
      const input = noise(Math.round(from * 0.3), from ^ to);
      const whole = resampleWhole(input, from, to);
      let seed = to;
      for (let trial = 0; trial < 3; trial++) {
        const resampler = createResampler(from, to);
        const parts: Int16Array[] = [];
        for (let at = 0; at < input.length; ) {
          seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
          // Mostly small chunks, some empty or one sample long, now and then a large one.
          const size = seed % 17 === 0 ? 3000 : seed % 5 === 0 ? seed % 2 : seed % 400;
          parts.push(resampler.process(input.subarray(at, at + size)));
          at += size;
        }
        parts.push(resampler.flush());
        expect(concat(parts)).toEqual(whole);
      }
    },
  );

  it.each(PAIRS)('emits ceil(input × %i→%i ratio) samples over a stream', (from, to) => {
    const input = noise(12345, 1);
    expect(resampleWhole(input, from, to).length).toBe(Math.ceil((12345 * to) / from));
  });

  it('keeps a 1 kHz sine at 8→16 kHz at its frequency and amplitude (SNR ≥ 80 dB)', () => {
    const amplitude = 16000;
    const out = resampleWhole(sine(8000, 1000, amplitude, 1), 8000, 16000);
    let signal = 0;
    let error = 0;
    // Away from the edges, where the stream starts and ends against silence.
    for (let i = 800; i < out.length - 800; i++) {
      const ideal = amplitude * Math.sin((2 * Math.PI * 1000 * i) / 16000);
      signal += ideal ** 2;
      error += (out[i]! - ideal) ** 2;
    }
    expect(10 * Math.log10(signal / error)).toBeGreaterThanOrEqual(80);
  });

  it.each([9000, 10000, 12000, 20000])(
    'attenuates a %i Hz tone by at least 60 dB when downsampling 48→16 kHz (no aliasing)',
    (hz) => {
      const input = sine(48000, hz, 30000, 0.5);
      const out = resampleWhole(input, 48000, 16000);
      const ratio = rms(out, 400, out.length - 400) / rms(input, 0, input.length);
      expect(20 * Math.log10(ratio)).toBeLessThanOrEqual(-60);
    },
  );

  it.each(PAIRS)('passes DC from %i to %i Hz at unity gain', (from, to) => {
    const out = resampleWhole(new Int16Array(from / 10).fill(-12345), from, to);
    const middle = out.subarray(Math.floor(out.length / 3), Math.floor((2 * out.length) / 3));
    expect(new Set(middle)).toEqual(new Set([-12345]));
  });

  it('clips to the 16-bit range instead of wrapping around', () => {
    // A full-scale square wave overshoots (Gibbs) next to each edge once band-limited.
    const period = 480;
    const square = Int16Array.from({ length: 9600 }, (_, i) =>
      i % period < period / 2 ? 32767 : -32768,
    );
    const out = resampleWhole(square, 48000, 16000);
    expect(Math.max(...out)).toBe(32767);
    expect(Math.min(...out)).toBe(-32768);
    for (let j = 0; j < out.length; j++) {
      const at = (3 * j) % period;
      // Where the overshoot peaks, a wrapped sample would have the wrong sign.
      if (at >= 6 && at < period / 2 - 6) expect(out[j]).toBeGreaterThan(0);
      if (at >= period / 2 + 6 && at < period - 6 && j > 0) expect(out[j]).toBeLessThan(0);
    }
  });

  it('returns its input untouched when the rates are equal', () => {
    const resampler = createResampler(16000, 16000);
    const input = noise(100, 3);
    expect(resampler.process(input)).toBe(input);
    expect(resampler.flush().length).toBe(0);
    expect(resampler.latencySamples).toBe(0);
  });

  it('starts a new stream after flush, giving the same output again', () => {
    const resampler = createResampler(44100, 16000, { quality: 'voip' });
    const input = noise(5000, 9);
    const first = concat([resampler.process(input), resampler.flush()]);
    const second = concat([resampler.process(input), resampler.flush()]);
    expect(second).toEqual(first);
  });

  it.each(['voip', 'high'] as const)('resamples at %s quality too', (quality) => {
    const amplitude = 10000;
    const out = resampleWhole(sine(8000, 440, amplitude, 0.5), 8000, 16000, quality);
    const middle = out.subarray(1000, out.length - 1000);
    expect(rms(middle, 0, middle.length)).toBeCloseTo(amplitude / Math.SQRT2, -1);
  });

  it.each([
    [7999, 16000],
    [16000, 48001],
    [44100.5, 16000],
  ])('refuses %s → %s Hz with unsupported_audio_format', (from, to) => {
    expect(() => createResampler(from, to)).toThrow(EarshotError);
    expect(() => createResampler(from, to)).toThrow(
      expect.objectContaining({ code: 'unsupported_audio_format' }),
    );
  });

  it('refuses an unknown quality with unsupported_audio_format', () => {
    expect(() => createResampler(8000, 16000, { quality: 'best' as 'high' })).toThrow(
      expect.objectContaining({ code: 'unsupported_audio_format' }),
    );
  });
});
