// The OpenAI Realtime messages a transcription session uses (GA API, `openai@7.57.0`), and a
// validator for the server events this provider reads. `zod` is not a dependency of
// @earshot/providers, so each event is checked against a small field table instead: the same
// job (reject what does not match, name the field), a few lines per event.

/** An error as the Realtime API reports it, in `error` and transcription `failed` events. */
export interface RealtimeWireError {
  readonly type: string;
  readonly code?: string | null;
  readonly message: string;
  readonly param?: string | null;
  /** The client event that caused it, when the client gave one an `event_id`. */
  readonly event_id?: string | null;
}

/** One token's log probability, sent when the session includes logprobs. */
export interface RealtimeLogprob {
  readonly token: string;
  readonly logprob: number;
}

/** The server events this provider acts on, as validated by {@link parseServerEvent}. */
export type OpenAIServerEvent =
  | { type: 'session.created' | 'session.updated'; event_id: string; session: object }
  | { type: 'input_audio_buffer.speech_started'; audio_start_ms: number; item_id: string }
  | { type: 'input_audio_buffer.speech_stopped'; audio_end_ms: number; item_id: string }
  | { type: 'input_audio_buffer.committed'; item_id: string; previous_item_id?: string | null }
  | { type: 'input_audio_buffer.cleared' }
  | {
      type: 'conversation.item.input_audio_transcription.delta';
      item_id: string;
      delta?: string;
    }
  | {
      type: 'conversation.item.input_audio_transcription.completed';
      item_id: string;
      transcript: string;
      logprobs?: readonly RealtimeLogprob[] | null;
    }
  | {
      type: 'conversation.item.input_audio_transcription.failed';
      item_id: string;
      error: RealtimeWireError;
    }
  | { type: 'error'; error: RealtimeWireError };

/** What {@link parseServerEvent} made of a server event. */
export type ParsedServerEvent =
  | { readonly kind: 'event'; readonly event: OpenAIServerEvent }
  /** A well-formed event of a type this provider does not act on (`conversation.item.added`, …). */
  | { readonly kind: 'ignored'; readonly type: string }
  | { readonly kind: 'invalid'; readonly type: string; readonly problem: string };

type Check = (value: unknown) => boolean;

const isString: Check = (v) => typeof v === 'string';
const isNumber: Check = (v) => typeof v === 'number' && Number.isFinite(v);
const isObject: Check = (v) => typeof v === 'object' && v !== null && !Array.isArray(v);
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || v === null || check(v);
const isWireError: Check = (v) =>
  isObject(v) &&
  isString((v as Record<string, unknown>).type) &&
  isString((v as Record<string, unknown>).message) &&
  optional(isString)((v as Record<string, unknown>).code);
const isLogprobs: Check = (v) =>
  Array.isArray(v) &&
  v.every((p) => isObject(p) && isNumber((p as Record<string, unknown>).logprob));

/** Required fields of each event type the provider acts on, and how to check them. */
const FIELDS: Readonly<Record<OpenAIServerEvent['type'], Readonly<Record<string, Check>>>> = {
  'session.created': { session: isObject },
  'session.updated': { session: isObject },
  'input_audio_buffer.speech_started': { audio_start_ms: isNumber, item_id: isString },
  'input_audio_buffer.speech_stopped': { audio_end_ms: isNumber, item_id: isString },
  'input_audio_buffer.committed': { item_id: isString, previous_item_id: optional(isString) },
  'input_audio_buffer.cleared': {},
  'conversation.item.input_audio_transcription.delta': {
    item_id: isString,
    delta: optional(isString),
  },
  'conversation.item.input_audio_transcription.completed': {
    item_id: isString,
    transcript: isString,
    logprobs: optional(isLogprobs),
  },
  'conversation.item.input_audio_transcription.failed': { item_id: isString, error: isWireError },
  error: { error: isWireError },
};

/**
 * Checks a server event (already JSON-parsed by the SDK) against the fields this provider
 * reads. Events of other types pass as `ignored`.
 */
export function parseServerEvent(value: unknown): ParsedServerEvent {
  if (!isObject(value)) return { kind: 'invalid', type: '?', problem: 'not an object' };
  const event = value as Record<string, unknown>;
  const type = String(event.type);
  const fields = FIELDS[type as OpenAIServerEvent['type']];
  if (!fields) return { kind: 'ignored', type };
  for (const [name, check] of Object.entries(fields)) {
    if (!check(event[name])) return { kind: 'invalid', type, problem: `bad or missing ${name}` };
  }
  return { kind: 'event', event: event as unknown as OpenAIServerEvent };
}

/** The audio formats of a GA transcription session (`session.audio.input.format`). */
export type RealtimeAudioFormat =
  | { type: 'audio/pcm'; rate: 24000 }
  | { type: 'audio/pcmu' }
  | { type: 'audio/pcma' };

/**
 * How an OpenAI transcription session cuts utterances (`session.audio.input.turn_detection`):
 * server VAD, semantic VAD, or `null`, where only `finalize()` and `end()` commit audio.
 */
export type OpenAITurnDetection =
  | {
      type: 'server_vad';
      /** 0–1; higher needs louder speech. OpenAI's default: 0.5. */
      threshold?: number;
      /** Audio kept before detected speech. OpenAI's default: 300 ms. */
      prefix_padding_ms?: number;
      /** Silence that ends an utterance. OpenAI's default: 500 ms. */
      silence_duration_ms?: number;
    }
  | { type: 'semantic_vad'; eagerness?: 'low' | 'medium' | 'high' | 'auto' }
  | null;

/** The `session` of a GA `session.update` for a transcription session. */
export interface TranscriptionSessionConfig {
  readonly type: 'transcription';
  readonly audio: {
    readonly input: {
      readonly format: RealtimeAudioFormat;
      readonly transcription: {
        readonly model: string;
        readonly language?: string;
        readonly prompt?: string;
        readonly keywords?: readonly string[];
      };
      readonly turn_detection: OpenAITurnDetection;
      readonly noise_reduction: { readonly type: 'near_field' | 'far_field' } | null;
    };
  };
  readonly include?: readonly 'item.input_audio_transcription.logprobs'[];
}
