import { CommandGrammarError } from './command-grammar-error.js';
import { normalizeTranscript } from './normalize.js';
import type { SlotReader } from './slot-types.js';

/** One piece of a compiled pattern. */
export type PatternElement =
  | { readonly kind: 'word'; readonly word: string }
  | { readonly kind: 'optional'; readonly body: readonly PatternElement[] }
  | { readonly kind: 'choice'; readonly options: readonly (readonly PatternElement[])[] }
  | { readonly kind: 'text'; readonly name: string }
  | {
      readonly kind: 'slot';
      readonly name: string;
      readonly type: string;
      readonly read: SlotReader;
    };

/**
 * Compiles a pattern: words; `[optional words]` or `[one | another]`; `(one | or another)`;
 * `{name}` (free text);
 * `{name:type}` (a typed slot: `number`, `dose`, `duration`, `frequency`, or a lexicon's name).
 * Errors name the command, the pattern and the column.
 */
export function compilePattern(
  command: string,
  pattern: string,
  types: Readonly<Record<string, SlotReader>>,
): PatternElement[] {
  let at = 0;
  const slots = new Set<string>();
  const fail = (problem: string, column = at): never => {
    throw new CommandGrammarError(
      `command "${command}": pattern "${pattern}": ${problem} at column ${column + 1}`,
    );
  };

  const sequence = (closers: string): PatternElement[] => {
    const elements: PatternElement[] = [];
    while (at < pattern.length) {
      const char = pattern[at] as string;
      if (/\s/.test(char)) {
        at++;
      } else if (closers.includes(char)) {
        return elements;
      } else if (char === '[' || char === '(') {
        // `(a | b)` says one of them; `[a | b]` one of them or nothing.
        const start = at++;
        const close = char === '[' ? ']' : ')';
        const options: PatternElement[][] = [];
        for (;;) {
          const option = sequence(`|${close}`);
          if (option.length === 0) fail('empty alternative', at);
          options.push(option);
          if (pattern[at] === '|') at++;
          else break;
        }
        if (pattern[at] !== close) fail(`unmatched "${char}"`, start);
        at++;
        const body: PatternElement[] =
          options.length === 1 ? (options[0] as PatternElement[]) : [{ kind: 'choice', options }];
        if (char === '[') elements.push({ kind: 'optional', body });
        else elements.push(...body);
      } else if (char === '{') {
        const start = at;
        const end = pattern.indexOf('}', at);
        if (end < 0) fail('unmatched "{"', start);
        const [name = '', type] = pattern
          .slice(at + 1, end)
          .split(':')
          .map((s) => s.trim());
        if (!/^[a-z][a-z0-9_]*$/.test(name)) fail(`bad slot name "${name}"`, start);
        if (slots.has(name)) fail(`slot {${name}} appears twice`, start);
        slots.add(name);
        at = end + 1;
        if (type === undefined || type === 'text') elements.push({ kind: 'text', name });
        else {
          const read = types[type];
          if (!read) {
            fail(
              `unknown slot type "${type}" (known: text, ${Object.keys(types).join(', ')})`,
              start,
            );
          }
          elements.push({ kind: 'slot', name, type, read: read as SlotReader });
        }
      } else if (']|)}'.includes(char)) {
        fail(`unmatched "${char}"`);
      } else {
        const start = at;
        while (at < pattern.length && !/[\s[\](){}|]/.test(pattern[at] as string)) at++;
        for (const word of normalizeTranscript(pattern.slice(start, at)).split(' ')) {
          if (word) elements.push({ kind: 'word', word });
        }
      }
    }
    return elements;
  };

  const elements = sequence('');
  if (elements.length === 0) fail('empty pattern', 0);
  if (elements[0]?.kind === 'text') fail('a pattern cannot start with free text', 0);
  return elements;
}
