import { EarshotError } from '@earshot/protocol';
import { describe, expect, it } from 'vitest';
import { downmixStereo, Pcm16Framer, pcm16FromBytes, pcm16ToBytes, upmixMono } from './pcm16.js';

function bytesOf(samples: number[]): Uint8Array {
  return pcm16ToBytes(Int16Array.from(samples));
}

describe('pcm16FromBytes', () => {
  it('reads little-endian samples as a view of the same memory when the offset is even', () => {
    const bytes = new Uint8Array([0x01, 0x00, 0xff, 0xff, 0x00, 0x80, 0xff, 0x7f]);
    const samples = pcm16FromBytes(bytes);
    expect(Array.from(samples)).toEqual([1, -1, -32768, 32767]);
    expect(samples.buffer).toBe(bytes.buffer);
  });

  it('copies only when the bytes start at an odd offset', () => {
    const backing = new Uint8Array([0xaa, 0x02, 0x00, 0xfe, 0xff]);
    const samples = pcm16FromBytes(backing.subarray(1));
    expect(Array.from(samples)).toEqual([2, -2]);
    expect(samples.buffer).not.toBe(backing.buffer);
  });

  it('refuses an odd byte count with invalid_audio', () => {
    expect(() => pcm16FromBytes(new Uint8Array(3))).toThrow(
      expect.objectContaining({ code: 'invalid_audio' }),
    );
  });

  it('writes samples back as a view of their bytes', () => {
    const samples = new Int16Array([258, -1]);
    const bytes = pcm16ToBytes(samples);
    expect(Array.from(bytes)).toEqual([0x02, 0x01, 0xff, 0xff]);
    expect(bytes.buffer).toBe(samples.buffer);
  });
});

describe('Pcm16Framer', () => {
  it('carries an odd byte to the next chunk', () => {
    const framer = new Pcm16Framer(1);
    const stream = bytesOf([1, 2, 3, -4]);
    expect(Array.from(framer.push(stream.subarray(0, 3)))).toEqual([1]);
    expect(framer.pendingBytes).toBe(1);
    expect(Array.from(framer.push(stream.subarray(3, 4)))).toEqual([2]);
    expect(Array.from(framer.push(stream.subarray(4, 5)))).toEqual([]);
    expect(Array.from(framer.push(stream.subarray(5)))).toEqual([3, -4]);
    expect(framer.pendingBytes).toBe(0);
  });

  it('returns whole stereo frames, holding up to three bytes of a cut frame', () => {
    const framer = new Pcm16Framer(2);
    const stream = bytesOf([1, -1, 2, -2, 3, -3]);
    expect(Array.from(framer.push(stream.subarray(0, 7)))).toEqual([1, -1]);
    expect(framer.pendingBytes).toBe(3);
    expect(Array.from(framer.push(stream.subarray(7, 9)))).toEqual([2, -2]);
    expect(framer.pendingBytes).toBe(1);
    expect(Array.from(framer.push(stream.subarray(9)))).toEqual([3, -3]);
  });

  it('yields the same samples however a stream is cut', () => {
    const samples = Int16Array.from({ length: 1000 }, (_, i) => ((i * 7919) % 65536) - 32768);
    const stream = pcm16ToBytes(samples);
    let seed = 7;
    for (const channels of [1, 2] as const) {
      const framer = new Pcm16Framer(channels);
      const got: number[] = [];
      for (let at = 0; at < stream.length; ) {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        const size = seed % 11;
        got.push(...framer.push(stream.subarray(at, at + size)));
        at += size;
      }
      expect(got).toEqual(Array.from(samples));
    }
  });

  it('views a frame-aligned chunk at an even offset instead of copying it', () => {
    const framer = new Pcm16Framer(1);
    const chunk = bytesOf([5, 6]);
    expect(framer.push(chunk).buffer).toBe(chunk.buffer);
  });

  it('reports and forgets the bytes of an unfinished frame on reset', () => {
    const framer = new Pcm16Framer(2);
    framer.push(new Uint8Array(5));
    expect(framer.reset()).toBe(1);
    expect(framer.pendingBytes).toBe(0);
  });

  it('refuses more than two channels', () => {
    expect(() => new Pcm16Framer(3 as 2)).toThrow(EarshotError);
  });
});

describe('channel mixing', () => {
  it('averages left and right, rounding halves to even, without overflow at full scale', () => {
    const mono = downmixStereo(
      new Int16Array([32767, 32767, -32768, -32768, 32767, -32768, 1, 2, 3, 4, -1, -2, 100, -50]),
    );
    expect(Array.from(mono)).toEqual([32767, -32768, 0, 2, 4, -2, 25]);
  });

  it('refuses a cut stereo frame with invalid_audio', () => {
    expect(() => downmixStereo(new Int16Array(3))).toThrow(
      expect.objectContaining({ code: 'invalid_audio' }),
    );
  });

  it('duplicates mono into both stereo channels', () => {
    expect(Array.from(upmixMono(new Int16Array([1, -2])))).toEqual([1, 1, -2, -2]);
  });

  it('writes a downmix into a caller-provided array', () => {
    const out = new Int16Array(4);
    const mono = downmixStereo(new Int16Array([2, 4]), out);
    expect(mono.buffer).toBe(out.buffer);
    expect(Array.from(mono)).toEqual([3]);
  });
});
