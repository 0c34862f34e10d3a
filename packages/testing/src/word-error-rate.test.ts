import { describe, expect, it } from 'vitest';
import { normalizeWords, wordErrorRate } from './word-error-rate.js';

describe('wordErrorRate', () => {
  it('is zero for identical transcripts', () => {
    expect(
      wordErrorRate('he was not an ill disposed young man', 'he was not an ill disposed young man'),
    ).toBe(0);
  });

  it('ignores case and punctuation', () => {
    expect(
      wordErrorRate(
        'He was not, an ill-disposed young man.',
        'he was not an ill disposed young man',
      ),
    ).toBe(0);
  });

  it('counts one substitution, deletion or insertion per word over the reference length', () => {
    expect(wordErrorRate('the cat sat', 'the bat sat')).toBeCloseTo(1 / 3);
    expect(wordErrorRate('the cat sat', 'the sat')).toBeCloseTo(1 / 3);
    expect(wordErrorRate('the cat sat', 'the cat sat down')).toBeCloseTo(1 / 3);
  });

  it('uses the cheapest alignment', () => {
    // "a b c d" → "b c d e": delete a, insert e.
    expect(wordErrorRate('a b c d', 'b c d e')).toBe(0.5);
  });

  it('can exceed one when the hypothesis adds many words', () => {
    expect(wordErrorRate('yes', 'no no no')).toBe(3);
  });

  it('stays finite for an empty reference', () => {
    expect(wordErrorRate('', '')).toBe(0);
    expect(wordErrorRate('', 'something')).toBe(1);
  });
});

describe('normalizeWords', () => {
  it('lowercases, drops punctuation and keeps apostrophes inside words', () => {
    expect(normalizeWords("  Don't STOP -- 'now', ok?")).toEqual(["don't", 'stop', 'now', 'ok']);
  });
});
