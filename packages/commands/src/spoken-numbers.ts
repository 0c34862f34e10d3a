/** A value read from transcript words: what it is, and the word index just after it. */
export interface Parsed<T> {
  readonly value: T;
  readonly end: number;
  /** How unsure the reading is (0: exact words; more for homophones and tolerated slips). */
  readonly cost: number;
}

const UNITS: Readonly<Record<string, number>> = {
  zero: 0,
  oh: 0,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
  thirteen: 13,
  fourteen: 14,
  fifteen: 15,
  sixteen: 16,
  seventeen: 17,
  eighteen: 18,
  nineteen: 19,
};
const TENS: Readonly<Record<string, number>> = {
  twenty: 20,
  thirty: 30,
  forty: 40,
  fifty: 50,
  sixty: 60,
  seventy: 70,
  eighty: 80,
  ninety: 90,
};
// What recognizers write for a number they heard, where a number is expected.
const HOMOPHONES: Readonly<Record<string, number>> = { to: 2, too: 2, for: 4, won: 1, ate: 8 };

function unitOf(word: string | undefined): { value: number; cost: number } | undefined {
  if (word === undefined) return undefined;
  if (word in UNITS) return { value: UNITS[word] as number, cost: 0 };
  if (word in HOMOPHONES) return { value: HOMOPHONES[word] as number, cost: 0.5 };
  return undefined;
}

/**
 * Reads a number said in words or digits at `words[at]`: "five hundred" → 500, "two fifty" →
 * 250 (the way doses and blood pressures are said), "one hundred and twenty" → 120, "1,000",
 * "0.5", "point five" → 0.5, "a half" / "half" → 0.5.
 */
export function parseSpokenNumber(
  words: readonly string[],
  at: number,
): Parsed<number> | undefined {
  const first = words[at];
  if (first === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(first)) {
    return withDecimals(words, at + 1, Number(first), 0);
  }
  if (first === 'half' || (first === 'a' && words[at + 1] === 'half')) {
    return { value: 0.5, end: first === 'a' ? at + 2 : at + 1, cost: 0 };
  }
  if (first === 'point') return decimals(words, at, 0, 0);
  let i = at;
  let total = 0;
  let current = 0;
  let cost = 0;
  let read = false;
  const unit = unitOf(words[i]);
  // "two fifty", "one twenty five", "one eighteen": a digit then a two-digit number (not a
  // single digit) is hundreds.
  const next = unitOf(words[i + 1]);
  const teen = next !== undefined && next.cost === 0 && next.value >= 10;
  if (unit && unit.value >= 1 && unit.value <= 9 && ((words[i + 1] ?? '') in TENS || teen)) {
    const rest = twoDigits(words, i + 1);
    if (rest) return withDecimals(words, rest.end, unit.value * 100 + rest.value, unit.cost);
  }
  while (i < words.length) {
    const word = words[i] as string;
    if (word === 'and' && read && (words[i + 1] ?? '') in { ...UNITS, ...TENS }) {
      i++;
      continue;
    }
    if (word === 'hundred' && read) {
      current = (current === 0 ? 1 : current) * 100;
      i++;
      continue;
    }
    if (word === 'thousand' && read) {
      total += (current === 0 ? 1 : current) * 1000;
      current = 0;
      i++;
      continue;
    }
    if (word === 'a' && !read && (words[i + 1] === 'hundred' || words[i + 1] === 'thousand')) {
      current = 1;
      read = true;
      i++;
      continue;
    }
    const two = twoDigits(words, i);
    if (!two || (read && current % 100 !== 0)) break;
    current += two.value;
    cost += two.cost;
    read = true;
    i = two.end;
  }
  if (!read) return undefined;
  return withDecimals(words, i, total + current, cost);
}

/** A number from 0 to 99 in words: "seven", "twenty", "forty five". */
function twoDigits(words: readonly string[], at: number): Parsed<number> | undefined {
  const word = words[at];
  if (word === undefined) return undefined;
  if (word in TENS) {
    const unit = unitOf(words[at + 1]);
    if (unit && unit.value >= 1 && unit.value <= 9 && unit.cost === 0) {
      return { value: (TENS[word] as number) + unit.value, end: at + 2, cost: 0 };
    }
    return { value: TENS[word] as number, end: at + 1, cost: 0 };
  }
  const unit = unitOf(word);
  return unit ? { value: unit.value, end: at + 1, cost: unit.cost } : undefined;
}

function withDecimals(
  words: readonly string[],
  at: number,
  value: number,
  cost: number,
): Parsed<number> {
  return words[at] === 'point'
    ? (decimals(words, at, value, cost) ?? { value, end: at, cost })
    : { value, end: at, cost };
}

/** "point five" after a whole part. */
function decimals(
  words: readonly string[],
  at: number,
  whole: number,
  cost: number,
): Parsed<number> | undefined {
  let digits = '';
  let i = at + 1;
  for (; i < words.length; i++) {
    const unit = unitOf(words[i]);
    if (!unit || unit.value > 9) break;
    digits += String(unit.value);
  }
  if (digits === '') return undefined;
  return { value: Number(`${whole}.${digits}`), end: i, cost };
}
