import { CommandGrammarError } from './command-grammar-error.js';
import { DEFAULT_TOLERANCE, type MatchTolerance, matchElements } from './matcher.js';
import { normalizeTranscript } from './normalize.js';
import { compilePattern, type PatternElement } from './pattern.js';
import { soundDistance } from './phonetic.js';
import {
  BUILTIN_SLOT_TYPES,
  type LexiconEntry,
  lexiconReader,
  type SlotReader,
} from './slot-types.js';

/** One voice command: a name, the phrases that say it, and examples. */
export interface CommandDefinition {
  /** Stable name sent to clients, e.g. `write_prescription`. */
  readonly name: string;
  /**
   * Phrases that say the command. Words; `[optional words]`; `(one | another)`; `{name}` for
   * free text; `{name:type}` for a typed slot — `number`, `dose` (500 mg), `duration`
   * (2 weeks), `frequency` (twice daily, every 6 hours), or the name of a lexicon of the set.
   * E.g. `write [a] prescription [for] {drug:drug} {dose:dose} {frequency:frequency}`.
   */
  readonly patterns: readonly string[];
  /** What the command does, for docs and UIs. */
  readonly description?: string;
  /**
   * Utterances that must match this command (without the wake word). Checked at definition:
   * a grammar whose examples do not match fails to compile.
   */
  readonly examples?: readonly string[];
}

/** A set of commands, behind wake words (`"sully, add note …"`) or matched anywhere. */
export interface CommandSet {
  /** Words that must precede a command, matched by sound too. Empty: commands match anywhere. */
  readonly wakeWords?: readonly string[];
  /**
   * Named word lists for `{slot:lexicon}` (drug names, lab tests), matched by sound too; an
   * entry may list the ways it is said (`{ name: 'hemoglobin a1c', spoken: ['a one c'] }`).
   */
  readonly lexicons?: Readonly<Record<string, readonly LexiconEntry[]>>;
  readonly commands: readonly CommandDefinition[];
  /** The matcher's tolerances; defaults tuned on the evaluation corpus. */
  readonly tolerance?: Partial<MatchTolerance>;
}

/** A command found in a transcript. */
export interface CommandMatch {
  readonly name: string;
  /** Slot values: text for `{name}`, numbers, `{ value, unit }` doses and durations, lexicon entries. */
  readonly slots: Readonly<Record<string, unknown>>;
  /** From 1 (every word as the pattern says) down to 0 (at the edge of the tolerance). */
  readonly confidence: number;
  /** The words that said it, normalized. */
  readonly text: string;
}

/** Finds commands in transcripts. Compiled once; `detect` is pure and cheap. */
export interface CommandDetector {
  /** Every command said in `transcript`, in spoken order. */
  detect(transcript: string): CommandMatch[];
  /** The commands of the set. */
  readonly commands: readonly CommandDefinition[];
  /**
   * The words recognizers most often get wrong in this set: its wake words, then the names of
   * its lexicon entries. A server passes them to providers that boost keywords (Deepgram
   * `keyterm`, Google phrase hints, OpenAI's prompt), so the wake word is heard as itself.
   */
  readonly vocabulary: readonly string[];
}

const NAME = /^[a-z][a-z0-9_]*$/;
// Disfluencies the recognizer writes down: never part of a command.
const FILLERS = new Set(['um', 'uh', 'uhm', 'er', 'erm', 'ah', 'hmm', 'mm', 'mhm']);
// Said between the wake word and the command.
const LEAD_INS = new Set(['please', 'okay', 'ok', 'can', 'you', 'could', 'would', 'now', 'and']);
// Transcripts beyond this many characters are read in their last part only.
const MAX_TRANSCRIPT_CHARS = 20_000;

interface CompiledCommand {
  readonly definition: CommandDefinition;
  readonly patterns: readonly PatternElement[][];
}

/**
 * Compiles a command set into a detector. Throws {@link CommandGrammarError} at definition
 * for a bad or duplicate name, a command without patterns, a malformed pattern (with its
 * column), an unknown slot type, or an example its command does not match.
 *
 * @example
 * ```ts
 * const detector = createCommandDetector({
 *   wakeWords: ['sully'],
 *   lexicons: { drug: ['amoxicillin', 'lisinopril'] },
 *   commands: [
 *     { name: 'add_note', patterns: ['add [a] note {text}'] },
 *     {
 *       name: 'write_prescription',
 *       patterns: ['(write [a] prescription [for] | prescribe) {drug:drug} {dose:dose} {frequency:frequency}'],
 *     },
 *   ],
 * });
 * detector.detect('Sally, write a prescription for amoxicillin five hundred milligrams twice a day');
 * // [{ name: 'write_prescription', slots: { drug: 'amoxicillin', dose: { value: 500, unit: 'mg' },
 * //    frequency: 'twice daily' }, confidence: 1, text: '…' }]
 * ```
 */
export function createCommandDetector(set: CommandSet): CommandDetector {
  const tolerance = { ...DEFAULT_TOLERANCE, ...set.tolerance };
  const types: Record<string, SlotReader> = { ...BUILTIN_SLOT_TYPES };
  for (const [name, entries] of Object.entries(set.lexicons ?? {})) {
    if (!NAME.test(name))
      throw new CommandGrammarError(`lexicon name "${name}" must match ${NAME}`);
    if (name in BUILTIN_SLOT_TYPES || name === 'text') {
      throw new CommandGrammarError(`lexicon "${name}" has the name of a built-in slot type`);
    }
    if (entries.length === 0) throw new CommandGrammarError(`lexicon "${name}" is empty`);
    types[name] = lexiconReader(
      entries.map((entry) =>
        typeof entry === 'string'
          ? normalizeTranscript(entry)
          : { name: entry.name, spoken: entry.spoken.map(normalizeTranscript) },
      ),
    );
  }
  const names = new Set<string>();
  const compiled: CompiledCommand[] = set.commands.map((command) => {
    if (!NAME.test(command.name))
      throw new CommandGrammarError(`command name "${command.name}" must match ${NAME}`);
    if (names.has(command.name))
      throw new CommandGrammarError(`command "${command.name}" is defined twice`);
    if (command.patterns.length === 0)
      throw new CommandGrammarError(`command "${command.name}" has no patterns`);
    names.add(command.name);
    return {
      definition: command,
      patterns: command.patterns.map((p) => compilePattern(command.name, p, types)),
    };
  });
  const wakeWords = (set.wakeWords ?? []).map((w) => normalizeTranscript(w).split(' ').join(''));

  const matchAt = (
    words: readonly string[],
    at: number,
  ): (CommandMatch & { end: number }) | undefined => {
    let start = at;
    while (LEAD_INS.has(words[start] ?? '') && start < at + 3) start++;
    let best: (CommandMatch & { end: number; cost: number }) | undefined;
    for (const command of compiled) {
      for (const pattern of command.patterns) {
        for (const m of matchElements(pattern, words, start, tolerance)) {
          const better = !best || m.cost < best.cost || (m.cost === best.cost && m.end > best.end);
          if (better) {
            best = {
              name: command.definition.name,
              slots: m.slots,
              cost: m.cost,
              end: m.end,
              confidence: Math.max(0, 1 - m.cost / tolerance.maxCost),
              text: words.slice(start, m.end).join(' '),
            };
          }
        }
      }
    }
    if (!best) return undefined;
    const { cost: _cost, ...match } = best;
    return match;
  };

  const detect = (transcript: string): CommandMatch[] => {
    const words = normalizeTranscript(transcript.slice(-MAX_TRANSCRIPT_CHARS))
      .split(' ')
      .filter((w) => w !== '' && !FILLERS.has(w));
    const found: CommandMatch[] = [];
    if (wakeWords.length === 0) {
      for (let at = 0; at < words.length; ) {
        const match = matchAt(words, at);
        if (match) {
          const { end, ...rest } = match;
          found.push(rest);
          at = Math.max(end, at + 1);
        } else at++;
      }
      return found;
    }
    // Each wake word opens a region that runs to the next one: free text stops there.
    const wakes: { at: number; start: number }[] = [];
    for (let at = 0; at < words.length; at++) {
      const start = wakeAt(words, at, wakeWords, tolerance.wakeDistance);
      if (start !== undefined) {
        wakes.push({ at, start });
        at = start - 1;
      }
    }
    wakes.forEach((wake, i) => {
      const region = words.slice(wake.start, wakes[i + 1]?.at ?? words.length);
      const match = matchAt(region, 0);
      if (match) {
        const { end: _end, ...rest } = match;
        found.push(rest);
      }
    });
    return found;
  };

  // Examples are the grammar's own tests: a set whose examples do not match is not compiled.
  for (const command of compiled) {
    for (const example of command.definition.examples ?? []) {
      const words = normalizeTranscript(example).split(' ').filter(Boolean);
      const match = matchAt(words, 0);
      if (match?.name !== command.definition.name) {
        throw new CommandGrammarError(
          `command "${command.definition.name}": example "${example}" ${
            match ? `matches "${match.name}" instead` : 'matches none of its patterns'
          }`,
        );
      }
    }
  }

  const vocabulary = [
    ...new Set([
      ...(set.wakeWords ?? []),
      ...Object.values(set.lexicons ?? {}).flatMap((entries) =>
        entries.map((entry) => (typeof entry === 'string' ? entry : entry.name)),
      ),
    ]),
  ];
  return { detect, commands: set.commands, vocabulary };
}

/** Where the command after a wake word at `at` starts, if one is there (by sound). */
function wakeAt(
  words: readonly string[],
  at: number,
  wakeWords: readonly string[],
  maxDistance: number,
): number | undefined {
  for (const wake of wakeWords) {
    // A wake word may be heard as one word or split in two ("so lee").
    for (let span = 1; span <= 2 && at + span <= words.length; span++) {
      const heard = words.slice(at, at + span).join('');
      if (heard === wake || (wake.length >= 4 && soundDistance(heard, wake) <= maxDistance)) {
        return at + span;
      }
    }
  }
  return undefined;
}
