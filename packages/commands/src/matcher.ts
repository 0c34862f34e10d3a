import type { PatternElement } from './pattern.js';
import { soundDistance } from './phonetic.js';

/** One way a pattern matched words: where it ended, its slots, and how unsure it is. */
export interface PatternMatch {
  readonly end: number;
  readonly slots: Readonly<Record<string, unknown>>;
  readonly cost: number;
}

/** The matcher's tolerances (tuned on eval/). */
export interface MatchTolerance {
  /** Most total cost of a match (misheard words, skipped words, unsure slot readings). */
  readonly maxCost: number;
  /** Cost of a word heard where the pattern has none ("write *the* prescription"). */
  readonly skipCost: number;
  /** Most sound distance of a misheard pattern word (words of 4+ letters only). */
  readonly wordDistance: number;
  /** Most sound distance of a misheard wake word ("shelly" for "sully" is 0.4). */
  readonly wakeDistance: number;
}

/** The tolerances tuned on the evaluation corpus (eval/README.md). */
export const DEFAULT_TOLERANCE: MatchTolerance = {
  maxCost: 1.2,
  skipCost: 0.6,
  wordDistance: 0.3,
  wakeDistance: 0.4,
};

// A pattern is matched against at most this many words: a command is a sentence, and the
// bound keeps matching a 100 kB transcript linear.
export const MAX_COMMAND_WORDS = 40;

/**
 * Every way `elements` match `words` from `at`, within the tolerance. Small patterns over a
 * bounded window: a plain backtracking search.
 */
export function matchElements(
  elements: readonly PatternElement[],
  words: readonly string[],
  at: number,
  tolerance: MatchTolerance = DEFAULT_TOLERANCE,
): PatternMatch[] {
  const limit = Math.min(words.length, at + MAX_COMMAND_WORDS);
  const results: PatternMatch[] = [];
  const step = (
    queue: readonly PatternElement[],
    wi: number,
    slots: Record<string, unknown>,
    cost: number,
  ): void => {
    if (cost > tolerance.maxCost) return;
    const [element, ...rest] = queue;
    if (!element) {
      results.push({ end: wi, slots, cost });
      return;
    }
    switch (element.kind) {
      case 'word': {
        const heard = words[wi];
        if (heard === undefined || wi >= limit) return;
        const distance = heard === element.word ? 0 : wordDistance(heard, element.word, tolerance);
        if (distance !== undefined) step(rest, wi + 1, slots, cost + distance * 2);
        // A word the pattern does not have, before this one.
        const next = words[wi + 1];
        if (next !== undefined && wi > at && next === element.word) {
          step(rest, wi + 2, slots, cost + tolerance.skipCost);
        }
        return;
      }
      case 'optional':
        step([...element.body, ...rest], wi, slots, cost);
        step(rest, wi, slots, cost);
        return;
      case 'choice':
        for (const option of element.options) step([...option, ...rest], wi, slots, cost);
        return;
      case 'text': {
        if (wi >= limit) return;
        // Free text runs to where the rest of the pattern matches, or to the end.
        const ends = rest.length === 0 ? [limit] : range(wi + 1, limit);
        for (const end of ends) {
          step(rest, end, { ...slots, [element.name]: words.slice(wi, end).join(' ') }, cost);
        }
        return;
      }
      case 'slot':
        if (wi >= limit) return;
        for (const reading of element.read(words, wi)) {
          step(rest, reading.end, { ...slots, [element.name]: reading.value }, cost + reading.cost);
        }
        return;
    }
  };
  step(elements, at, {}, 0);
  return results;
}

function wordDistance(heard: string, word: string, tolerance: MatchTolerance): number | undefined {
  if (word.length < 4) return undefined;
  const distance = soundDistance(heard, word);
  return distance <= tolerance.wordDistance ? distance : undefined;
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i);
}
