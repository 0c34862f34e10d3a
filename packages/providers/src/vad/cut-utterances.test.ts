import { readWavPcm16, synthesizeSpeech } from '@earshot/testing';
import { describe, expect, it } from 'vitest';
import { cutUtterances } from './cut-utterances.js';
import { openWebRtcVadCount } from './webrtc-vad.js';

describe('cutUtterances', () => {
  it('cuts two synthesized sentences apart by the silence between them', async () => {
    const texts = ['the quick brown fox jumps over the lazy dog', 'please call me back tomorrow'];
    const parts = await Promise.all(
      texts.map(async (text) => {
        const { pcm } = await readWavPcm16(await synthesizeSpeech(text, { engine: 'flite' }));
        return new Int16Array(Uint8Array.from(pcm).buffer);
      }),
    );
    const gap = 16000;
    const pcm = new Int16Array(parts[0]!.length + parts[1]!.length + 3 * gap);
    pcm.set(parts[0]!, gap);
    pcm.set(parts[1]!, 2 * gap + parts[0]!.length);
    const before = openWebRtcVadCount();
    const utterances = await cutUtterances(pcm, 16000, { preSpeechPaddingMs: 200 });
    expect(openWebRtcVadCount()).toBe(before);
    expect(utterances).toHaveLength(2);
    const secondStart = (2 * gap + parts[0]!.length) / 16000;
    expect(utterances[0]!.start).toBeGreaterThanOrEqual(0.7);
    expect(utterances[0]!.end).toBeLessThan(secondStart);
    expect(utterances[1]!.start).toBeGreaterThan(secondStart - 0.4);
    expect(utterances[1]!.end).toBeLessThanOrEqual(pcm.length / 16000);
  });

  it('rejects a sample rate WebRTC VAD does not take', async () => {
    await expect(cutUtterances(new Int16Array(100), 22050)).rejects.toMatchObject({
      code: 'unsupported_audio_format',
    });
  });
});
