/**
 * Deepgram's live (`/v1/listen`) messages, server → client, as `@deepgram/sdk` v5 delivers them
 * (parsed JSON), with a validator. Fields Earshot does not use are left out and let through.
 *
 * Hand-written rather than zod: `@earshot/providers` does not depend on zod, and these four
 * shapes are small. Keep them to the SDK's `listen/resources/v1/types/*.d.ts`.
 */

/** A word of a `Results` alternative. */
export interface DeepgramWord {
  readonly word: string;
  /** Seconds of stream audio. */
  readonly start: number;
  readonly end: number;
  readonly confidence: number;
  /** With `punctuate` / `smart_format`. */
  readonly punctuated_word?: string;
  /** With `diarize`. */
  readonly speaker?: number;
}

/** A transcript of one window of audio, interim (`is_final: false`) or final. */
export interface DeepgramResults {
  readonly type: 'Results';
  /** Seconds of stream audio where the window starts, and its length. */
  readonly start: number;
  readonly duration: number;
  /** This window will not be revised. */
  readonly is_final?: boolean;
  /** Endpointing heard a pause: the utterance ends here. */
  readonly speech_final?: boolean;
  /** The result of a `Finalize`. */
  readonly from_finalize?: boolean;
  readonly channel: {
    readonly alternatives: readonly {
      readonly transcript: string;
      readonly confidence: number;
      readonly words: readonly DeepgramWord[];
    }[];
  };
}

/** A gap of `utterance_end_ms` after the last finalised word. */
export interface DeepgramUtteranceEnd {
  readonly type: 'UtteranceEnd';
  readonly last_word_end: number;
}

/** Speech began (with `vad_events=true`). */
export interface DeepgramSpeechStarted {
  readonly type: 'SpeechStarted';
  readonly timestamp: number;
}

/** The summary sent last, after `CloseStream`. */
export interface DeepgramMetadata {
  readonly type: 'Metadata';
  readonly request_id: string;
  readonly duration: number;
}

/** A message of a type this provider does not know (a newer API); ignored. */
export interface DeepgramOtherMessage {
  readonly type: string;
}

/** Any server → client message. */
export type DeepgramMessage =
  | DeepgramResults
  | DeepgramUtteranceEnd
  | DeepgramSpeechStarted
  | DeepgramMetadata
  | DeepgramOtherMessage;

/** The outcome of {@link parseDeepgramMessage}. */
export type ParsedDeepgramMessage =
  | { readonly ok: true; readonly message: DeepgramMessage }
  | { readonly ok: false; readonly problem: string };

type Check = (value: unknown) => string | undefined;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const finite: Check = (v) => (typeof v === 'number' && Number.isFinite(v) ? undefined : 'a number');
const text: Check = (v) => (typeof v === 'string' ? undefined : 'a string');
const flag: Check = (v) => (v === undefined || typeof v === 'boolean' ? undefined : 'a boolean');
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined ? undefined : check(v);

/** Field checks, as a list built once: this runs for every message of every stream. */
type Checks = readonly (readonly [key: string, check: Check])[];
const checks = (fields: Record<string, Check>): Checks => Object.entries(fields);

/** The first field of `value` that fails its check, as `path: expected` (path built only then). */
function firstProblem(
  value: Record<string, unknown>,
  fields: Checks,
  path: () => string,
): string | undefined {
  for (const [key, check] of fields) {
    const problem = check(value[key]);
    if (problem !== undefined) return `${path()}${key}: expected ${problem}`;
  }
  return undefined;
}

const RESULTS_CHECKS = checks({
  start: finite,
  duration: finite,
  is_final: flag,
  speech_final: flag,
  from_finalize: flag,
});
const ALTERNATIVE_CHECKS = checks({ transcript: text, confidence: finite });
const WORD_CHECKS = checks({
  word: text,
  start: finite,
  end: finite,
  confidence: finite,
  punctuated_word: optional(text),
  speaker: optional(finite),
});
const TOP = () => '';

function resultsProblem(m: Record<string, unknown>): string | undefined {
  const top = firstProblem(m, RESULTS_CHECKS, TOP);
  if (top) return top;
  const alternatives = isRecord(m.channel) ? m.channel.alternatives : undefined;
  if (!Array.isArray(alternatives)) return 'channel.alternatives: expected an array';
  for (let i = 0; i < alternatives.length; i++) {
    const alt: unknown = alternatives[i];
    if (!isRecord(alt)) return `channel.alternatives.${i}: expected an object`;
    const problem = firstProblem(alt, ALTERNATIVE_CHECKS, () => `alternatives.${i}.`);
    if (problem) return problem;
    const words = alt.words;
    if (!Array.isArray(words)) return `alternatives.${i}.words: expected an array`;
    for (let j = 0; j < words.length; j++) {
      const word: unknown = words[j];
      if (!isRecord(word)) return `alternatives.${i}.words.${j}: expected an object`;
      const wordProblem = firstProblem(word, WORD_CHECKS, () => `alternatives.${i}.words.${j}.`);
      if (wordProblem) return wordProblem;
    }
  }
  return undefined;
}

const UTTERANCE_END_CHECKS = checks({ last_word_end: finite });
const SPEECH_STARTED_CHECKS = checks({ timestamp: finite });
const METADATA_CHECKS = checks({ request_id: text, duration: finite });
const CHECKS: Record<string, (m: Record<string, unknown>) => string | undefined> = {
  Results: resultsProblem,
  UtteranceEnd: (m) => firstProblem(m, UTTERANCE_END_CHECKS, TOP),
  SpeechStarted: (m) => firstProblem(m, SPEECH_STARTED_CHECKS, TOP),
  Metadata: (m) => firstProblem(m, METADATA_CHECKS, TOP),
};

/**
 * Checks a message the SDK parsed. Known types must have the fields Earshot reads; unknown
 * types pass as {@link DeepgramOtherMessage}.
 *
 * @example
 * ```ts
 * const parsed = parseDeepgramMessage({ type: 'SpeechStarted', channel: [0, 1], timestamp: 1.2 });
 * if (parsed.ok && parsed.message.type === 'SpeechStarted') parsed.message; // DeepgramSpeechStarted
 * ```
 */
export function parseDeepgramMessage(value: unknown): ParsedDeepgramMessage {
  if (!isRecord(value)) return { ok: false, problem: 'not a JSON object' };
  if (typeof value.type !== 'string') return { ok: false, problem: 'type: expected a string' };
  const check = Object.hasOwn(CHECKS, value.type) ? CHECKS[value.type] : undefined;
  const problem = check?.(value);
  return problem === undefined
    ? { ok: true, message: value as unknown as DeepgramMessage }
    : { ok: false, problem: `${value.type}.${problem}` };
}

/** Narrows a parsed message to `Results`. */
export function isResults(message: DeepgramMessage): message is DeepgramResults {
  return message.type === 'Results';
}
/** Narrows a parsed message to `UtteranceEnd`. */
export function isUtteranceEnd(message: DeepgramMessage): message is DeepgramUtteranceEnd {
  return message.type === 'UtteranceEnd';
}
/** Narrows a parsed message to `SpeechStarted`. */
export function isSpeechStarted(message: DeepgramMessage): message is DeepgramSpeechStarted {
  return message.type === 'SpeechStarted';
}
/** Narrows a parsed message to `Metadata`. */
export function isMetadata(message: DeepgramMessage): message is DeepgramMetadata {
  return message.type === 'Metadata';
}
