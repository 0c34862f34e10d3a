import { soundDistance } from './phonetic.js';
import { type Parsed, parseSpokenNumber } from './spoken-numbers.js';

/** A dose: an amount and its unit (`{ value: 500, unit: 'mg' }`). */
export interface Dose {
  readonly value: number;
  readonly unit: 'mg' | 'g' | 'mcg' | 'ml' | 'units' | 'tablets';
}

/** A span of time (`{ value: 2, unit: 'week' }`). */
export interface Duration {
  readonly value: number;
  readonly unit: 'minute' | 'hour' | 'day' | 'week' | 'month' | 'year';
}

/**
 * Reads one slot's value from the words at `at`; every reading that fits is a candidate (the
 * matcher picks the one that lets the whole pattern match best).
 */
export type SlotReader = (words: readonly string[], at: number) => Parsed<unknown>[];

const DOSE_UNITS: readonly [readonly string[], Dose['unit']][] = [
  [['milligrams', 'milligram', 'mg', 'milli grams', 'mgs'], 'mg'],
  [['micrograms', 'microgram', 'mcg', 'micro grams'], 'mcg'],
  [['grams', 'gram', 'g'], 'g'],
  [['milliliters', 'milliliter', 'millilitres', 'ml', 'cc', 'ccs', 'mls'], 'ml'],
  [['units', 'unit'], 'units'],
  [['tablets', 'tablet', 'pills', 'pill', 'capsules', 'capsule', 'caps'], 'tablets'],
];

const DURATION_UNITS: readonly [readonly string[], Duration['unit']][] = [
  [['minutes', 'minute', 'mins'], 'minute'],
  [['hours', 'hour'], 'hour'],
  [['days', 'day'], 'day'],
  [['weeks', 'week'], 'week'],
  [['months', 'month'], 'month'],
  [['years', 'year'], 'year'],
];

/** Frequencies of a prescription, as said → as written. `{n}` is a number of hours. */
const FREQUENCIES: readonly [readonly string[], string][] = [
  [['once a day', 'once daily', 'one time a day', 'daily', 'every day', 'each day'], 'once daily'],
  [['twice a day', 'twice daily', 'two times a day', 'two times daily'], 'twice daily'],
  [['three times a day', 'three times daily', 'thrice daily'], 'three times daily'],
  [['four times a day', 'four times daily'], 'four times daily'],
  [['as needed', 'when needed', 'as required', 'p r n', 'prn'], 'as needed'],
  [['at bedtime', 'at night', 'before bed', 'nightly', 'every night'], 'at bedtime'],
];

/** A unit from a list of spellings, tolerating a slip of the recognizer. */
function readUnit<U>(
  words: readonly string[],
  at: number,
  units: readonly [readonly string[], U][],
): Parsed<U> | undefined {
  let best: Parsed<U> | undefined;
  for (const [spellings, unit] of units) {
    for (const spelling of spellings) {
      const parts = spelling.split(' ');
      const heard = words.slice(at, at + parts.length);
      if (heard.length < parts.length) continue;
      const distance = soundDistance(heard.join(''), parts.join(''));
      if (distance <= (spelling.length <= 3 ? 0 : 0.25) && (!best || distance < best.cost)) {
        best = { value: unit, end: at + parts.length, cost: distance };
      }
    }
  }
  return best;
}

/** Built-in slot types, by the name patterns use (`{dose:dose}`). */
export const BUILTIN_SLOT_TYPES: Readonly<Record<string, SlotReader>> = {
  number: (words, at) => {
    const n = parseSpokenNumber(words, at);
    return n ? [n] : [];
  },
  dose: (words, at) => {
    const n = parseSpokenNumber(words, at);
    if (!n) return [];
    const unit = readUnit(words, n.end, DOSE_UNITS);
    if (!unit) return [];
    return [
      { value: { value: n.value, unit: unit.value }, end: unit.end, cost: n.cost + unit.cost },
    ];
  },
  duration: (words, at) => {
    let start = at;
    let n: Parsed<number> | undefined;
    // "a week", "an hour" ("the week": how a recognizer often writes "a week")
    if (['a', 'an', 'one', 'the'].includes(words[at] ?? '')) {
      n = { value: 1, end: at + 1, cost: 0 };
    } else n = parseSpokenNumber(words, at);
    if (!n) return [];
    start = n.end;
    const unit = readUnit(words, start, DURATION_UNITS);
    if (!unit) return [];
    return [
      { value: { value: n.value, unit: unit.value }, end: unit.end, cost: n.cost + unit.cost },
    ];
  },
  frequency: (words, at) => {
    const found: Parsed<unknown>[] = [];
    // "every six hours", "every four to six hours" is not a fixed schedule: only one number.
    if (words[at] === 'every') {
      const n = parseSpokenNumber(words, at + 1);
      if (n) {
        const unit = readUnit(words, n.end, [[['hours', 'hour'], 'hour']]);
        if (unit)
          found.push({ value: `every ${n.value} hours`, end: unit.end, cost: n.cost + unit.cost });
      }
    }
    const phrase = readUnit(words, at, FREQUENCIES);
    if (phrase) found.push(phrase);
    return found;
  },
};

/**
 * A lexicon entry: a name, or a name and the ways it is said (`{ name: 'hemoglobin a1c',
 * spoken: ['hemoglobin a one c', 'a one c'] }`).
 */
export type LexiconEntry = string | { readonly name: string; readonly spoken: readonly string[] };

/**
 * A slot reader for a lexicon (drug names, lab tests): a run of one to a few words that sounds
 * like one of its entries (or of their spoken forms), even split or misspelled by the
 * recognizer. The value is the entry's name.
 */
export function lexiconReader(entries: readonly LexiconEntry[], maxDistance = 0.34): SlotReader {
  const prepared = entries.flatMap((entry) => {
    const name = typeof entry === 'string' ? entry : entry.name;
    const forms = typeof entry === 'string' ? [entry] : [entry.name, ...entry.spoken];
    return forms.map((form) => ({
      entry: name,
      joined: form.toLowerCase().replace(/[^a-z0-9]/g, ''),
      words: form.split(/\s+/).length,
    }));
  });
  // A recognizer splits an unknown long word into up to a few short ones.
  const longest = Math.max(1, ...prepared.map((p) => p.words)) + 3;
  return (words, at) => {
    const found: Parsed<unknown>[] = [];
    for (let length = 1; length <= longest && at + length <= words.length; length++) {
      const heard = words.slice(at, at + length).join('');
      let best: { entry: string; distance: number } | undefined;
      for (const p of prepared) {
        // A span far longer or shorter than the entry cannot be it.
        if (Math.abs(heard.length - p.joined.length) > p.joined.length * 0.5 + 1) continue;
        const distance = soundDistance(heard, p.joined);
        if (distance <= maxDistance && (!best || distance < best.distance)) {
          best = { entry: p.entry, distance };
        }
      }
      if (best) found.push({ value: best.entry, end: at + length, cost: best.distance * 2 });
    }
    return found;
  };
}
