import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SPEECH_WAV } from '../../test/fixtures.js';
import { readAudioFile } from './read-audio-file.js';
import { parseWav } from './wav.js';

interface FmtFields {
  tag?: number;
  channels?: number;
  sampleRate?: number;
  bits?: number;
  extensibleTag?: number;
}

function chunk(id: string, body: Uint8Array): Uint8Array {
  const out = Buffer.alloc(8 + body.byteLength + (body.byteLength % 2));
  out.write(id, 0, 'ascii');
  out.writeUInt32LE(body.byteLength, 4);
  out.set(body, 8);
  return out;
}

function fmt({ tag = 1, channels = 1, sampleRate = 16000, bits = 16, extensibleTag }: FmtFields) {
  const body = Buffer.alloc(extensibleTag === undefined ? 16 : 40);
  const block = (channels * bits) / 8;
  body.writeUInt16LE(extensibleTag === undefined ? tag : 0xfffe, 0);
  body.writeUInt16LE(channels, 2);
  body.writeUInt32LE(sampleRate, 4);
  body.writeUInt32LE(sampleRate * block, 8);
  body.writeUInt16LE(block, 12);
  body.writeUInt16LE(bits, 14);
  if (extensibleTag !== undefined) {
    body.writeUInt16LE(22, 16);
    body.writeUInt16LE(extensibleTag, 24);
  }
  return chunk('fmt ', body);
}

function wav(...chunks: Uint8Array[]): Uint8Array {
  const body = Buffer.concat([Buffer.from('WAVE'), ...chunks]);
  const head = Buffer.alloc(8);
  head.write('RIFF', 0, 'ascii');
  head.writeUInt32LE(body.byteLength, 4);
  return Buffer.concat([head, body]);
}

describe('parseWav', () => {
  it('reads the format and the data chunk of a real PocketSphinx recording', async () => {
    const { format, data } = await readAudioFile(SPEECH_WAV);
    expect(format).toEqual({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
    // The file's header is the plain 44 bytes; the data chunk runs to the end.
    expect(data.byteLength).toBe(227200);
    expect(data[0]).toBe(0x49);
  });

  it('walks past other chunks, including an odd-sized padded one, to find fmt and data', () => {
    const samples = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const bytes = wav(
      chunk('LIST', new Uint8Array(3)),
      fmt({ channels: 2, sampleRate: 44100 }),
      chunk('fact', new Uint8Array(4)),
      chunk('data', samples),
    );
    const { format, data } = parseWav(bytes);
    expect(format).toEqual({ encoding: 'pcm16', sampleRate: 44100, channels: 2 });
    // Four bytes are one stereo frame; the torn rest is dropped.
    expect([...data]).toEqual([1, 2, 3, 4]);
  });

  it('accepts WAVE_FORMAT_EXTENSIBLE with a PCM sub-format, and G.711 μ-law', () => {
    const ext = parseWav(wav(fmt({ extensibleTag: 1 }), chunk('data', new Uint8Array(4))));
    expect(ext.format.encoding).toBe('pcm16');
    const mulaw = parseWav(
      wav(fmt({ tag: 7, bits: 8, sampleRate: 8000 }), chunk('data', new Uint8Array(3))),
    );
    expect(mulaw.format).toEqual({ encoding: 'mulaw', sampleRate: 8000, channels: 1 });
    expect(mulaw.data.byteLength).toBe(3);
  });

  it('reads a data chunk whose declared size runs past the end of the file', () => {
    const bytes = Buffer.from(wav(fmt({}), chunk('data', new Uint8Array(8))));
    bytes.writeUInt32LE(0xffffffff, bytes.byteLength - 12);
    expect(parseWav(bytes).data.byteLength).toBe(8);
  });

  it('rejects other encodings and rates with unsupported_audio_format', () => {
    const float = wav(fmt({ tag: 3, bits: 32 }), chunk('data', new Uint8Array(8)));
    expect(() => parseWav(float)).toThrow(
      expect.objectContaining({ code: 'unsupported_audio_format' }),
    );
    const pcm8 = wav(fmt({ bits: 8 }), chunk('data', new Uint8Array(8)));
    expect(() => parseWav(pcm8)).toThrow(
      expect.objectContaining({ code: 'unsupported_audio_format' }),
    );
    const tooFast = wav(fmt({ sampleRate: 96000 }), chunk('data', new Uint8Array(8)));
    expect(() => parseWav(tooFast)).toThrow(
      expect.objectContaining({ code: 'unsupported_audio_format' }),
    );
  });

  it('rejects broken files with invalid_audio', () => {
    expect(() => parseWav(wav(chunk('data', new Uint8Array(2))))).toThrow(
      expect.objectContaining({ code: 'invalid_audio' }),
    );
    expect(() => parseWav(wav(fmt({})))).toThrow(
      expect.objectContaining({ code: 'invalid_audio' }),
    );
    expect(() => parseWav(new Uint8Array(10))).toThrow(
      expect.objectContaining({ code: 'invalid_audio' }),
    );
  });
});

describe('readAudioFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'earshot-client-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('takes a .raw file as PCM16, 16 kHz, mono unless told otherwise', async () => {
    const path = join(dir, 'speech.raw');
    await writeFile(path, new Uint8Array([1, 2, 3, 4]));
    expect(await readAudioFile(path)).toEqual({
      format: { encoding: 'pcm16', sampleRate: 16000, channels: 1 },
      data: new Uint8Array([1, 2, 3, 4]),
    });
    const told = await readAudioFile(path, {
      format: { encoding: 'mulaw', sampleRate: 8000, channels: 1 },
    });
    expect(told.format.encoding).toBe('mulaw');
  });

  it('refuses a file whose format it cannot tell', async () => {
    const path = join(dir, 'song.mp3');
    await writeFile(path, new Uint8Array([0xff, 0xfb, 0, 0]));
    await expect(readAudioFile(path)).rejects.toMatchObject({ code: 'unsupported_audio_format' });
    const fake = join(dir, 'fake.wav');
    await writeFile(fake, new Uint8Array(64));
    await expect(readAudioFile(fake)).rejects.toMatchObject({ code: 'invalid_audio' });
  });
});
