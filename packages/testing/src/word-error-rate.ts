/**
 * The words of a transcript for scoring: lower case, punctuation dropped (apostrophes
 * inside words kept, so `don't` stays one word), split on whitespace.
 */
export function normalizeWords(text: string): string[] {
  return text
    .toLowerCase()
    .replace(/[^\p{L}\p{N}'\s]+/gu, ' ')
    .replace(/(^|\s)'+|'+(?=\s|$)/g, ' ')
    .split(/\s+/)
    .filter((word) => word !== '');
}

/**
 * Word error rate: the word-level edit distance (substitutions + deletions + insertions)
 * from `reference` to `hypothesis`, divided by the number of reference words. Case and
 * punctuation do not count. An empty reference scores 0 against an empty hypothesis and 1
 * against anything else, so the rate stays finite.
 *
 * @example
 * ```ts
 * wordErrorRate('the cat sat', 'the cat sat down'); // 1/3
 * ```
 */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const ref = normalizeWords(reference);
  const hyp = normalizeWords(hypothesis);
  if (ref.length === 0) return hyp.length === 0 ? 0 : 1;
  // One row of the Levenshtein table at a time.
  let previous = Array.from({ length: hyp.length + 1 }, (_, j) => j);
  for (let i = 1; i <= ref.length; i += 1) {
    const current = [i];
    for (let j = 1; j <= hyp.length; j += 1) {
      const substitution = (previous[j - 1] ?? 0) + (ref[i - 1] === hyp[j - 1] ? 0 : 1);
      const deletion = (previous[j] ?? 0) + 1;
      const insertion = (current[j - 1] ?? 0) + 1;
      current.push(Math.min(substitution, deletion, insertion));
    }
    previous = current;
  }
  return (previous[hyp.length] ?? 0) / ref.length;
}
