import { afterEach, describe, expect, test, vi } from 'vitest';
import { collectingSink } from './__fixtures__/opus-fixtures.js';
import { OpusPacketDecoder } from './opus-packet-decoder.js';

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
});
