import { EarshotError, type Logger, silentLogger } from '@earshot/protocol';
import { offlineReplyText } from './offline-rules.js';
import { type OfflineSpeechEngine, synthesizeOffline } from './offline-synthesizer.js';
import { replyAborted, withinReplyDeadline } from './reply-deadline.js';
import { numberOption } from './reply-options.js';
import { replyWav } from './reply-wav.js';
import type { Reply, ReplyRequest, Responder } from './responder.js';

export type { OfflineSpeechEngine } from './offline-synthesizer.js';

/** Options of {@link createOfflineResponder}. Every one has a working default on Debian. */
export interface OfflineResponderOptions {
  /** Speak the reply (`audio`), or answer text only. Defaults to true. */
  readonly speak?: boolean;
  /** The synthesizer: Debian's `espeak-ng` (default) or `flite`. */
  readonly engine?: OfflineSpeechEngine;
  /** The engine's voice. Defaults to `en-us` (espeak-ng) or `slt` (flite). */
  readonly voice?: string;
  /** Speaking rate, words per minute, 80–450. Defaults to 175. */
  readonly rate?: number;
  /** The engine's executable. Defaults to the engine's name, found on the `PATH`. */
  readonly command?: string;
  /** How long one reply may take, synthesis included, in ms. Defaults to 10 000. */
  readonly timeoutMs?: number;
  /** Longest reply text, in characters (a long echo is cut). Defaults to 400. */
  readonly maxTextLength?: number;
  /** The name the assistant gives when asked. Defaults to `Earshot`. */
  readonly name?: string;
  /** IANA time zone for "what time is it". Defaults to the system's. */
  readonly timeZone?: string;
  /** The clock for "what time is it". Defaults to `() => new Date()`. */
  readonly now?: () => Date;
  /** Where the responder logs (the synthesizer's pid at debug). Silent by default. */
  readonly logger?: Logger;
}

const DEFAULT_VOICE: Readonly<Record<OfflineSpeechEngine, string>> = {
  'espeak-ng': 'en-us',
  flite: 'slt',
};

/**
 * Creates the `offline` responder: a few fixed rules answer the utterance (greetings, thanks,
 * "what time is it", "what is your name" / "who are you", "can you hear me", goodbye; else
 * `I heard: …`), spoken with espeak-ng or flite into a PCM16 WAV. No network, no keys:
 * the reply loop of the demo.
 *
 * The synthesizer runs once per reply and is killed when the request's signal aborts or
 * `timeoutMs` passes; the reply then rejects with an `AbortError`-named `EarshotError` or a
 * `timeout`. A missing engine rejects with `provider_unavailable` naming the Debian package
 * (`details.install`).
 *
 * @example
 * ```ts
 * const responder = createOfflineResponder({ engine: 'espeak-ng', voice: 'en-gb' });
 * const reply = await responder.respond({
 *   transcript: 'what time is it', sessionId, metadata: {}, history: [], signal,
 * });
 * session.play(reply.audio!.data); // "It is 3:05 PM."
 * ```
 */
export function createOfflineResponder(options: OfflineResponderOptions = {}): Responder {
  const engine = options.engine ?? 'espeak-ng';
  const voice = options.voice ?? DEFAULT_VOICE[engine];
  // espeak-ng's own bounds for -s.
  const rate = numberOption('rate', options.rate, 175, 80, 450);
  const timeoutMs = numberOption('timeoutMs', options.timeoutMs, 10_000, 1, 600_000);
  const maxTextLength = numberOption('maxTextLength', options.maxTextLength, 400, 20, 10_000);
  const name = options.name ?? 'Earshot';
  if (options.timeZone !== undefined) checkTimeZone(options.timeZone);
  const now = options.now ?? (() => new Date());
  const logger = options.logger ?? silentLogger;

  async function respond(request: ReplyRequest): Promise<Reply> {
    const text = offlineReplyText(request.transcript, {
      name,
      now: now(),
      maxTextLength,
      ...(options.timeZone ? { timeZone: options.timeZone } : {}),
    });
    if (options.speak === false) {
      if (request.signal.aborted) throw replyAborted(request.signal);
      return { text };
    }
    return withinReplyDeadline(request.signal, timeoutMs, engine, async (signal) => {
      const wav = await synthesizeOffline(text, {
        engine,
        voice,
        rate,
        signal,
        logger,
        ...(options.command ? { command: options.command } : {}),
      });
      return { text, audio: replyWav(wav, engine) };
    });
  }

  return { name: 'offline', respond };
}

/** Fails at creation, not at the first "what time is it", on a zone Intl does not know. */
function checkTimeZone(timeZone: string): void {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
  } catch (cause) {
    throw new EarshotError('invalid_request', `timeZone ${timeZone} is not an IANA time zone`, {
      cause,
    });
  }
}
