import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { collectingSink, RECORDING, readPcm16, snrDb } from './__fixtures__/opus-fixtures.js';
import { OggOpusStage } from './ogg-opus-stage.js';
import { OpusPacketDecoder } from './opus-packet-decoder.js';

const run = promisify(execFile);

afterEach(() => vi.restoreAllMocks());

describe('OpusPacketDecoder', () => {
  test('reports a corrupt packet as invalid_audio through libopus directly, printing nothing', async () => {
    const printed = vi.spyOn(console, 'error');
    const sink = collectingSink();
    const decoder = new OpusPacketDecoder({ channels: 1, preSkip: 0 }, sink, {
      outputSampleRate: 16000,
    });
    await decoder.flush(); // the WASM module has loaded
    // TOC byte of a code-3 packet claiming 63 frames with no payload: libopus refuses it.
    decoder.decode(new Uint8Array([0x03, 0xff]));
    await decoder.flush();
    expect(sink.errors.map((e) => e.code)).toEqual(['invalid_audio']);
    expect(printed).not.toHaveBeenCalled();
    decoder.destroy();
  });

  test('a stereo stream cannot corrupt the WASM heap that other sessions decode in', async () => {
    // Found by fuzzing: decoded by a stereo state, these two packets made opus-decoder 0.7 write
    // past its buffers, and the next decoder made in the shared heap failed with "memory access
    // out of bounds".
    const hostile = new OpusPacketDecoder({ channels: 2, preSkip: 312 }, collectingSink());
    await hostile.flush();
    hostile.decode(Buffer.from('78250e5baf', 'hex'));
    hostile.decode(Buffer.from('994964', 'hex'));
    hostile.destroy();

    const sink = collectingSink();
    const next = new OpusPacketDecoder({ channels: 1, preSkip: 0 }, sink);
    next.decode(Buffer.from('994964', 'hex'));
    await next.flush();
    expect(sink.errors).toEqual([]);
    expect(sink.samples().length).toBe(1920);
    next.destroy();
  });

  test('decodes a stereo Ogg/Opus stream to mono close to what FFmpeg mixes down', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'earshot-stereo-'));
    try {
      const quiet = ['-hide_banner', '-loglevel', 'error', '-y'];
      // Left: the recording; right: the same, later and quieter, so the channels differ.
      const stereo =
        '[0:a]asplit[l][r];[r]adelay=7,volume=0.5[d];[l][d]join=inputs=2:channel_layout=stereo';
      await run('ffmpeg', [
        ...quiet,
        '-i',
        RECORDING,
        '-filter_complex',
        stereo,
        '-c:a',
        'libopus',
        join(dir, 's.ogg'),
      ]);
      await run('ffmpeg', [
        ...quiet,
        '-c:a',
        'libopus',
        '-i',
        join(dir, 's.ogg'),
        '-f',
        's16le',
        '-ac',
        '1',
        '-ar',
        '48000',
        join(dir, 's.raw'),
      ]);
      const sink = collectingSink();
      const stage = new OggOpusStage(sink);
      stage.write(new Uint8Array(readFileSync(join(dir, 's.ogg'))));
      await stage.end();
      stage.destroy();
      expect(sink.errors).toEqual([]);
      // libopus mixes down inside the decoder, FFmpeg after it: the same speech, not the same bits.
      expect(snrDb(readPcm16(join(dir, 's.raw')), sink.samples(), 960)).toBeGreaterThan(30);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
