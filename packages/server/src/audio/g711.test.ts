import { describe, expect, it } from 'vitest';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from './g711.js';

const ALL_CODES = Uint8Array.from({ length: 256 }, (_, i) => i);

describe('G.711 μ-law', () => {
  it('decodes the ITU-T reference values', () => {
    const pcm = decodeMulaw(new Uint8Array([0xff, 0x7f, 0x00, 0x80, 0xfe, 0x7e, 0xf0, 0x70]));
    expect(Array.from(pcm)).toEqual([0, 0, -32124, 32124, 8, -8, 120, -120]);
  });

  it('encodes the ITU-T reference values, saturating beyond ±32124', () => {
    // As in the reference code, the low bits are dropped by an arithmetic shift, so -1
    // already lands one step below zero.
    const codes = encodeMulaw(new Int16Array([0, -1, 32767, -32768, 8, -8, 32124, -32124]));
    expect(Array.from(codes)).toEqual([0xff, 0x7e, 0x80, 0x00, 0xfe, 0x7e, 0x80, 0x00]);
  });

  it('round-trips every code except the negative zero, which becomes positive zero', () => {
    const back = encodeMulaw(decodeMulaw(ALL_CODES));
    for (let code = 0; code < 256; code++) expect(back[code]).toBe(code === 0x7f ? 0xff : code);
  });

  it('keeps every unclipped 16-bit sample within one quantisation step of its decoded code', () => {
    const samples = Int16Array.from({ length: 65536 }, (_, i) => i - 32768);
    const decoded = decodeMulaw(encodeMulaw(samples));
    let worst = 0;
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i]!;
      // μ-law's top segment has steps of 1024; beyond ±32124 it clips.
      if (Math.abs(s) <= 32124) worst = Math.max(worst, Math.abs(decoded[i]! - s));
    }
    expect(worst).toBeLessThanOrEqual(1024);
  });

  it('writes into a caller-provided array and returns a view sized to the input', () => {
    const out = new Int16Array(8);
    const pcm = decodeMulaw(new Uint8Array([0xff, 0x00]), out);
    expect(pcm.buffer).toBe(out.buffer);
    expect(Array.from(pcm)).toEqual([0, -32124]);
    expect(() => decodeMulaw(new Uint8Array(9), out)).toThrow(RangeError);
  });
});

describe('G.711 A-law', () => {
  it('decodes the ITU-T reference values', () => {
    const pcm = decodeAlaw(new Uint8Array([0xd5, 0x55, 0xaa, 0x2a, 0x80, 0x00]));
    expect(Array.from(pcm)).toEqual([8, -8, 32256, -32256, 5504, -5504]);
  });

  it('encodes the ITU-T reference values', () => {
    const codes = encodeAlaw(new Int16Array([0, -1, 8, -8, 32767, -32768]));
    expect(Array.from(codes)).toEqual([0xd5, 0x55, 0xd5, 0x55, 0xaa, 0x2a]);
  });

  it('round-trips every code', () => {
    expect(Array.from(encodeAlaw(decodeAlaw(ALL_CODES)))).toEqual(Array.from(ALL_CODES));
  });

  it('writes into a caller-provided array', () => {
    const out = new Uint8Array(2);
    expect(encodeAlaw(new Int16Array([8, -8]), out)).toBe(out);
    expect(Array.from(out)).toEqual([0xd5, 0x55]);
  });
});
