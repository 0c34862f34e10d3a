/** What {@link offlineReplyText} needs besides the transcript. */
export interface OfflineReplyContext {
  /** The name the assistant answers to. */
  readonly name: string;
  /** The time to tell when asked. */
  readonly now: Date;
  /** IANA time zone of that time (`Europe/Paris`); the system's when absent. */
  readonly timeZone?: string;
  /** Longest reply, in characters; a longer echo is cut at a word and ends with `…`. */
  readonly maxTextLength: number;
}

interface Rule {
  readonly pattern: RegExp;
  readonly reply: (context: OfflineReplyContext) => string;
}

// Checked in order, first match wins: specific questions before greetings, so "hello, can you
// hear me" is answered as a question, and goodbye before thanks ("thanks, bye" ends it).
const RULES: readonly Rule[] = [
  {
    pattern: /\b(good ?bye|bye|see you|farewell|good night)\b/,
    reply: () => 'Goodbye! Talk to you soon.',
  },
  { pattern: /\b(thanks|thank you|cheers)\b/, reply: () => "You're welcome!" },
  {
    pattern: /\b(what time is it|what('s| is) the time|tell me the time)\b/,
    reply: ({ now, timeZone }) =>
      `It is ${new Intl.DateTimeFormat('en-US', {
        hour: 'numeric',
        minute: '2-digit',
        ...(timeZone ? { timeZone } : {}),
      }).format(now)}.`,
  },
  {
    pattern: /\b(what('s| is) your name|who are you)\b/,
    reply: ({ name }) => `I am ${name}, a voice assistant that runs offline.`,
  },
  {
    pattern: /\b(can|do) you hear me\b|\bare you (there|listening)\b/,
    reply: () => 'Yes, I can hear you.',
  },
  {
    pattern: /\b(hello|hi|hey|howdy|good (morning|afternoon|evening))\b/,
    reply: ({ name }) => `Hello! I am ${name}. How can I help?`,
  },
];

/** Lower case, curly apostrophes straightened, punctuation (but apostrophes) to spaces. */
function normalize(text: string): string {
  return text
    .toLowerCase()
    .replace(/[\u2018\u2019]/g, "'")
    .replace(/[^\p{L}\p{N}' ]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

/** `text` cut to at most `max` characters, at a word boundary when there is one. */
function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = text.slice(0, max - 1);
  const space = cut.lastIndexOf(' ');
  return `${space > max / 2 ? cut.slice(0, space) : cut}…`;
}

/**
 * The offline responder's answer to `transcript`, by a few fixed rules: goodbye, thanks,
 * "what time is it", "what is your name" / "who are you", "can you hear me", greetings, and
 * otherwise an echo (`I heard: …`). Deterministic for a given context.
 *
 * @example
 * ```ts
 * offlineReplyText('Hello there', { name: 'Earshot', now: new Date(), maxTextLength: 400 });
 * // 'Hello! I am Earshot. How can I help?'
 * ```
 */
export function offlineReplyText(transcript: string, context: OfflineReplyContext): string {
  const heard = transcript.replace(/\s+/g, ' ').trim();
  if (heard === '') return "I didn't catch that. Could you say it again?";
  const words = normalize(heard);
  const rule = RULES.find((r) => r.pattern.test(words));
  return clip(rule ? rule.reply(context) : `I heard: ${heard}`, context.maxTextLength);
}
