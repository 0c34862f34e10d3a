import { CommandGrammarError } from './command-grammar-error.js';
import { normalizeTranscript } from './normalize.js';

/** One voice command: a name and the phrases that say it. */
export interface CommandDefinition {
  /** Stable name sent to clients, e.g. `add_note`. */
  readonly name: string;
  /**
   * Phrases with `{slot}` placeholders for free text, e.g. `add note {text}` or
   * `write prescription for {drug}`. Matching ignores case and punctuation.
   */
  readonly patterns: readonly string[];
  /** What the command does, for docs and UIs. */
  readonly description?: string;
}

/** A set of commands, optionally behind wake words (`"sully, add note …"`). */
export interface CommandSet {
  /** Words that must precede a command. Empty: commands match anywhere. */
  readonly wakeWords?: readonly string[];
  readonly commands: readonly CommandDefinition[];
}

/** A command found in a transcript. */
export interface CommandMatch {
  readonly name: string;
  /** Slot values, normalized (lower case, no punctuation). */
  readonly slots: Readonly<Record<string, string>>;
}

/** Finds commands in transcripts. Compiled once; `detect` is pure and cheap. */
export interface CommandDetector {
  /** Every command said in `transcript`, in spoken order. */
  detect(transcript: string): CommandMatch[];
}

const NAME = /^[a-z][a-z0-9_]*$/;
const SLOT = /\{([a-z][a-z0-9_]*)\}/g;

interface CompiledPattern {
  readonly name: string;
  readonly regex: RegExp;
  readonly slots: readonly string[];
}

function escapeWords(text: string): string {
  return normalizeTranscript(text)
    .split(' ')
    .filter(Boolean)
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
    .join('\\s+');
}

function compilePattern(name: string, pattern: string): CompiledPattern {
  const stray = pattern.replace(SLOT, '').match(/[{}]/);
  if (stray)
    throw new CommandGrammarError(
      `command "${name}": pattern "${pattern}" has an unmatched "${stray[0]}"`,
    );
  const slots: string[] = [];
  let source = '';
  let last = 0;
  for (const m of pattern.matchAll(SLOT)) {
    const slot = m[1] as string;
    if (slots.includes(slot))
      throw new CommandGrammarError(
        `command "${name}": slot {${slot}} appears twice in "${pattern}"`,
      );
    slots.push(slot);
    const literal = escapeWords(pattern.slice(last, m.index));
    source += literal ? `${source ? '\\s+' : ''}${literal}` : '';
    source += `${source ? '\\s+' : ''}(.+?)`;
    last = (m.index ?? 0) + m[0].length;
  }
  const tail = escapeWords(pattern.slice(last));
  if (tail) source += `${source ? '\\s+' : ''}${tail}`;
  if (!source) throw new CommandGrammarError(`command "${name}": empty pattern`);
  // A trailing slot takes the rest of the utterance.
  if (source.endsWith('(.+?)')) source = `${source.slice(0, -5)}(.+)`;
  return { name, regex: new RegExp(`(?:^|\\s)${source}(?=$|\\s)`), slots };
}

/**
 * Compiles a command set into a detector. Throws {@link CommandGrammarError} at definition
 * for a bad name, a duplicate, an empty or malformed pattern.
 *
 * @example
 * ```ts
 * const detector = createCommandDetector({
 *   wakeWords: ['sully'],
 *   commands: [{ name: 'add_note', patterns: ['add note {text}'] }],
 * });
 * detector.detect('Sully, add note patient is stable'); // [{ name: 'add_note', slots: { text: 'patient is stable' } }]
 * ```
 */
export function createCommandDetector(set: CommandSet): CommandDetector {
  const names = new Set<string>();
  const compiled: CompiledPattern[] = [];
  for (const command of set.commands) {
    if (!NAME.test(command.name))
      throw new CommandGrammarError(`command name "${command.name}" must match ${NAME}`);
    if (names.has(command.name))
      throw new CommandGrammarError(`command "${command.name}" is defined twice`);
    if (command.patterns.length === 0)
      throw new CommandGrammarError(`command "${command.name}" has no patterns`);
    names.add(command.name);
    for (const pattern of command.patterns) compiled.push(compilePattern(command.name, pattern));
  }
  const wakeWords = (set.wakeWords ?? []).map(normalizeTranscript).filter(Boolean);

  return {
    detect(transcript) {
      const text = normalizeTranscript(transcript);
      // Each wake word opens a region that runs to the next wake word; without wake words the
      // whole utterance is one region.
      const regions = wakeWords.length === 0 ? [text] : splitAfterWakeWords(text, wakeWords);
      const found: CommandMatch[] = [];
      for (const region of regions) {
        for (const pattern of compiled) {
          const m = pattern.regex.exec(region);
          if (!m) continue;
          const slots: Record<string, string> = {};
          pattern.slots.forEach((slot, i) => {
            slots[slot] = m[i + 1] ?? '';
          });
          found.push({ name: pattern.name, slots });
          break;
        }
      }
      return found;
    },
  };
}

function splitAfterWakeWords(text: string, wakeWords: readonly string[]): string[] {
  const words = text.split(' ');
  const regions: string[] = [];
  let current: string[] | undefined;
  for (let i = 0; i < words.length; i++) {
    const wake = wakeWords.find((w) => words.slice(i, i + w.split(' ').length).join(' ') === w);
    if (wake) {
      if (current) regions.push(current.join(' '));
      current = [];
      i += wake.split(' ').length - 1;
    } else current?.push(words[i] as string);
  }
  if (current) regions.push(current.join(' '));
  return regions.filter(Boolean);
}
