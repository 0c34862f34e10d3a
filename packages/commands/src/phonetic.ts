/**
 * How recognizers misspell what they hear: a word may come out as another spelling of the same
 * sounds ("sully" → "sally"), split ("amoxicillin" → "a mock so cillin"), or one letter off.
 * A phonetic key (a consonant skeleton after English spelling rules) and an edit distance
 * catch these; thresholds are tuned on the evaluation corpus (eval/).
 */

const RULES: readonly [RegExp, string][] = [
  [/[^a-z]/g, ''],
  [/ph/g, 'f'],
  [/ck/g, 'k'],
  [/q/g, 'k'],
  [/x/g, 'ks'],
  [/tch/g, 'ch'],
  [/sch/g, 'sk'],
  [/c(?=[eiy])/g, 's'],
  [/ch/g, 'x'],
  [/sh/g, 'x'],
  [/th/g, '0'],
  [/dg(?=[eiy])/g, 'j'],
  [/c/g, 'k'],
  [/gh(?![aeiouy])/g, ''],
  [/z/g, 's'],
  [/v/g, 'f'],
  [/wh/g, 'w'],
];

/**
 * A word's phonetic key: its first letter's sound, then its consonant sounds, doubled ones
 * once. `sully`, `sally`, `solly` → `sl`; `amoxicillin` → `amksln`.
 */
export function phoneticKey(word: string): string {
  let key = keys.get(word);
  if (key === undefined) {
    key = computeKey(word);
    // Transcripts bring new words without end: the cache is bounded, and simply restarts.
    if (keys.size >= MAX_CACHED_KEYS) keys.clear();
    keys.set(word, key);
  }
  return key;
}

// Keys of the words seen lately: lexicon entries and frequent words are keyed once.
const keys = new Map<string, string>();
const MAX_CACHED_KEYS = 20_000;

function computeKey(word: string): string {
  let text = word.toLowerCase();
  for (const [pattern, replacement] of RULES) {
    text = text.replace(pattern, replacement);
  }
  text = text.replace(/^(kn|gn|pn|wr)/, (m) => m.slice(1));
  if (text === '') return '';
  const first = text[0] as string;
  const rest = text
    .slice(1)
    .replace(/[aeiouyhw]/g, '')
    .replace(/(.)\1+/g, '$1');
  return (first + rest).replace(/(.)\1+/g, '$1');
}

/** Levenshtein distance of `a` and `b`; stops counting beyond `max` (returns `max + 1`). */
export function editDistance(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const value = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      current.push(value);
      rowMin = Math.min(rowMin, value);
    }
    if (rowMin > max) return max + 1;
    previous = current;
  }
  return previous[b.length] as number;
}

/**
 * How far what was heard is from what was meant, from 0 (the same) to 1 (nothing alike): the
 * lesser of the spelling distance and the sound distance, each relative to the meant word's
 * length.
 */
export function soundDistance(heard: string, meant: string): number {
  if (heard === meant) return 0;
  const spelling = editDistance(heard, meant) / Math.max(meant.length, 1);
  const keyHeard = phoneticKey(heard);
  const keyMeant = phoneticKey(meant);
  const sound =
    keyMeant.length === 0 ? 1 : editDistance(keyHeard, keyMeant) / Math.max(keyMeant.length, 2);
  return Math.min(1, spelling, sound + 0.1);
}
