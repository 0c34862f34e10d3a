import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { referenceTranscript } from './reference-transcript.js';
import { speechFixtures, synthesizeSpeech } from './speech-fixtures.js';
import { readWavPcm16 } from './wav.js';
import { wordErrorRate } from './word-error-rate.js';

const cacheDir = await mkdtemp(join(tmpdir(), 'earshot-speech-test-'));
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

describe('speechFixtures', () => {
  it('lists the five LibriVox recordings with their transcriptions', async () => {
    const fixtures = await speechFixtures();
    expect(fixtures).toHaveLength(5);
    expect(fixtures[1]).toEqual({
      name: 'sense_and_sensibility_01_austen_64kb-0880',
      path: '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav',
      text: 'he was not an ill disposed young man',
    });
  });
});

describe('synthesizeSpeech', () => {
  it.each(['espeak-ng', 'flite'] as const)(
    'speaks text with %s into a cached 16 kHz mono PCM16 WAV',
    async (engine) => {
      const path = await synthesizeSpeech('open the pod bay doors', { engine, cacheDir });
      const { format, pcm } = await readWavPcm16(path);
      expect(format).toEqual({ encoding: 'pcm16', sampleRate: 16000, channels: 1 });
      expect(pcm.length).toBeGreaterThan(16000);
      expect(await synthesizeSpeech('open the pod bay doors', { engine, cacheDir })).toBe(path);
    },
  );
});

describe('referenceTranscript', () => {
  it('returns the utterances pocketsphinx_continuous prints for a recording', async () => {
    const [fixture] = await speechFixtures();
    if (!fixture) throw new Error('no fixture');
    const lines = await referenceTranscript(fixture.path);
    expect(lines.length).toBeGreaterThan(0);
    expect(wordErrorRate(fixture.text, lines.join(' '))).toBeLessThan(0.5);
    expect(await referenceTranscript(fixture.path)).toBe(lines);
  });
});
