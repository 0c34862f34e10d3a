import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LIBRIVOX_DIR } from './speech-fixtures.js';
import { encodeWavPcm16, parseWavPcm16, readWavPcm16 } from './wav.js';

const dir = await mkdtemp(join(tmpdir(), 'earshot-wav-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('readWavPcm16', () => {
  it('reads the format and samples of a LibriVox recording', async () => {
    const { format, pcm } = await readWavPcm16(
      join(LIBRIVOX_DIR, 'sense_and_sensibility_01_austen_64kb-0880.wav'),
    );
    expect(format).toEqual({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
    expect(pcm.length / 32000).toBeCloseTo(2.99, 2);
  });

  it('finds the data chunk behind extra chunks instead of assuming a 44-byte header', async () => {
    const pcm = Buffer.from([1, 0, 2, 0, 3, 0, 4, 0]); // two stereo frames
    const plain = encodeWavPcm16(pcm, { encoding: 'pcm16', sampleRate: 8000, channels: 2 });
    // Insert an odd-sized LIST chunk (padded to even) between fmt and data.
    const list = Buffer.concat([
      Buffer.from('LIST'),
      Buffer.from([3, 0, 0, 0]),
      Buffer.from('abc\0'),
    ]);
    const withList = Buffer.concat([plain.subarray(0, 36), list, plain.subarray(36)]);
    withList.writeUInt32LE(withList.length - 8, 4);
    const path = join(dir, 'list.wav');
    await writeFile(path, withList);
    const parsed = await readWavPcm16(path);
    expect(parsed.format).toEqual({ encoding: 'pcm16', sampleRate: 8000, channels: 2 });
    expect([...parsed.pcm]).toEqual([...pcm]);
  });

  it('rejects files that are not 16-bit PCM WAV', () => {
    expect(() => parseWavPcm16(Buffer.from('not a wav at all'))).toThrow(/RIFF/);
    const eightBit = encodeWavPcm16(Buffer.alloc(4), {
      encoding: 'pcm16',
      sampleRate: 8000,
      channels: 1,
    });
    eightBit.writeUInt16LE(8, 34);
    expect(() => parseWavPcm16(eightBit)).toThrow(/unsupported|16-bit/i);
  });
});
