import { describe, expect, it } from 'vitest';
import { readWavHeader } from './wav-header.js';

function wav(
  tag: number,
  bits: number,
  rate: number,
  channels: number,
  extra = Buffer.alloc(0),
): Buffer {
  const fmt = Buffer.alloc(24);
  fmt.write('fmt ', 0, 'ascii');
  fmt.writeUInt32LE(16, 4);
  fmt.writeUInt16LE(tag, 8);
  fmt.writeUInt16LE(channels, 10);
  fmt.writeUInt32LE(rate, 12);
  fmt.writeUInt32LE((rate * channels * bits) / 8, 16);
  fmt.writeUInt16LE((channels * bits) / 8, 20);
  fmt.writeUInt16LE(bits, 22);
  const data = Buffer.from('data\0\0\0\0', 'binary');
  data.writeUInt32LE(4, 4);
  return Buffer.concat([
    Buffer.from('RIFF\0\0\0\0WAVE', 'binary'),
    fmt,
    extra,
    data,
    Buffer.alloc(4),
  ]);
}

describe('readWavHeader', () => {
  it('reads PCM16, μ-law and A-law headers and where the samples start', () => {
    expect(readWavHeader(wav(1, 16, 16000, 1))).toEqual({
      complete: true,
      format: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
      dataOffset: 44,
      dataBytes: 4,
    });
    expect(readWavHeader(wav(7, 8, 8000, 1))).toMatchObject({ format: { encoding: 'mulaw' } });
    expect(readWavHeader(wav(6, 8, 8000, 1))).toMatchObject({ format: { encoding: 'alaw' } });
  });

  it('skips chunks before data and answers incomplete until data begins, byte by byte', () => {
    const list = Buffer.concat([Buffer.from('LIST\x03\0\0\0abc\0', 'binary')]);
    const file = wav(1, 16, 48000, 2, list);
    for (let n = 0; n < 56; n++)
      expect(readWavHeader(file.subarray(0, n))).toEqual({ complete: false });
    expect(readWavHeader(file.subarray(0, 56))).toMatchObject({ complete: true, dataOffset: 56 });
  });

  it('waits for the real format tag of a WAVE_FORMAT_EXTENSIBLE header cut anywhere', () => {
    const fmt = Buffer.alloc(48);
    fmt.write('fmt ', 0, 'ascii');
    fmt.writeUInt32LE(40, 4);
    fmt.writeUInt16LE(0xfffe, 8);
    fmt.writeUInt16LE(1, 10);
    fmt.writeUInt32LE(16000, 12);
    fmt.writeUInt32LE(32000, 16);
    fmt.writeUInt16LE(2, 20);
    fmt.writeUInt16LE(16, 22);
    fmt.writeUInt16LE(22, 24);
    fmt.writeUInt16LE(16, 26);
    fmt.writeUInt32LE(4, 28);
    fmt.writeUInt16LE(1, 32); // the sub-format GUID starts with the real tag: PCM
    const file = Buffer.concat([
      Buffer.from('RIFF\0\0\0\0WAVE', 'binary'),
      fmt,
      Buffer.from('data\0\0\0\0', 'binary'),
    ]);
    for (let n = 0; n < file.byteLength; n++)
      expect(readWavHeader(file.subarray(0, n))).toEqual({ complete: false });
    expect(readWavHeader(file)).toEqual({
      complete: true,
      format: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
      dataOffset: 68,
      dataBytes: undefined,
    });
  });

  it('refuses a stream that is not RIFF/WAVE with invalid_audio', () => {
    expect(() => readWavHeader(Buffer.from('OggS and more bytes here'))).toThrow(
      expect.objectContaining({ code: 'invalid_audio' }),
    );
    expect(() => readWavHeader(Buffer.from('Og'))).toThrow(
      expect.objectContaining({ code: 'invalid_audio' }),
    );
  });

  it('refuses codecs and shapes the protocol does not carry with unsupported_audio_format', () => {
    expect(() => readWavHeader(wav(3, 32, 16000, 1))).toThrow(
      expect.objectContaining({ code: 'unsupported_audio_format' }),
    );
    expect(() => readWavHeader(wav(1, 16, 16000, 8))).toThrow(
      expect.objectContaining({ code: 'unsupported_audio_format' }),
    );
    expect(() => readWavHeader(wav(1, 16, 10_000_000, 1))).toThrow(/10000000 Hz/);
  });
});
