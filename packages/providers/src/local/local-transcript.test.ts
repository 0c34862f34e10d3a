import { describe, expect, it } from 'vitest';
import { baseWord, isFillerWord, meanConfidence, segmentsToWords } from './local-transcript.js';

const seg = (word: string, startFrame: number, endFrame: number, probability = 1) => ({
  word,
  startFrame,
  endFrame,
  probability,
});

describe('segmentsToWords', () => {
  it('drops fillers and names alternate pronunciations by their base word', () => {
    const words = segmentsToWords(
      [
        seg('<s>', 0, 14),
        seg('been(2)', 15, 30),
        seg('<sil>', 31, 33),
        seg('[NOISE]', 34, 40),
        seg('made', 41, 60),
        seg('</s>', 61, 70),
      ],
      { offsetFrames: 0, floor: 0, ceiling: 10 },
    );
    expect(words.map((w) => w.word)).toEqual(['been', 'made']);
  });

  it('places frames on the stream clock after the utterance offset, end frame inclusive', () => {
    const [word] = segmentsToWords([seg('had', 22, 43, 0.5)], {
      offsetFrames: 300,
      floor: 0,
      ceiling: 10,
    });
    expect(word).toEqual({ word: 'had', start: 3.22, end: 3.44, confidence: 0.5 });
  });

  it('keeps times monotone, after the previous final and within the audio', () => {
    const words = segmentsToWords([seg('a', 0, 10), seg('b', 5, 8), seg('c', 900, 990)], {
      offsetFrames: 100,
      floor: 1.05,
      ceiling: 5,
    });
    expect(words).toEqual([
      { word: 'a', start: 1.05, end: 1.11, confidence: 1 },
      { word: 'b', start: 1.11, end: 1.11, confidence: 1 },
      { word: 'c', start: 5, end: 5, confidence: 1 },
    ]);
  });
});

describe('word helpers', () => {
  it('recognizes fillers and strips alternates', () => {
    expect(['<s>', '</s>', '<sil>', '[NOISE]', '++BREATH++'].every(isFillerWord)).toBe(true);
    expect(isFillerWord('amiable')).toBe(false);
    expect(baseWord('to(2)')).toBe('to');
  });

  it('averages word confidence', () => {
    expect(meanConfidence([])).toBeUndefined();
    expect(
      meanConfidence([
        { word: 'a', start: 0, end: 1, confidence: 0.5 },
        { word: 'b', start: 1, end: 2, confidence: 1 },
      ]),
    ).toBe(0.75);
  });
});
