/**
 * The messages of Google Cloud Speech-to-Text v1 `StreamingRecognize`, as `@google-cloud/speech`
 * (google-gax, proto-loader with `longs: String, enums: String, defaults: true`) hands them
 * over: camelCase fields, enum names as strings, `Duration.seconds` as a string.
 *
 * Responses are checked here by hand rather than with zod: `@earshot/providers` does not
 * depend on zod, and protobuf decoding already fixes the types of present fields; what is
 * checked is the shape Earshot relies on.
 */

/** A phrase hint: `speech_contexts[]` of `RecognitionConfig`. */
export interface GoogleSpeechContext {
  /** Words and phrases the recognizer should favour. */
  readonly phrases: readonly string[];
  /** How strongly (0–20 in Google's guidance); absent: Google's default bias. */
  readonly boost?: number;
}

/** `RecognitionConfig`, the fields Earshot sets. */
export interface GoogleRecognitionConfig {
  readonly encoding: 'LINEAR16' | 'MULAW';
  readonly sampleRateHertz: number;
  readonly audioChannelCount: number;
  readonly languageCode: string;
  readonly model?: string;
  readonly useEnhanced?: boolean;
  readonly enableWordTimeOffsets: boolean;
  readonly enableAutomaticPunctuation: boolean;
  readonly profanityFilter?: boolean;
  readonly speechContexts: readonly GoogleSpeechContext[];
  readonly diarizationConfig?: { readonly enableSpeakerDiarization: boolean };
}

/** `StreamingRecognitionConfig`: the first request of a call. */
export interface GoogleStreamingConfig {
  readonly config: GoogleRecognitionConfig;
  readonly interimResults: boolean;
  readonly enableVoiceActivityEvents: boolean;
}

/** One `StreamingRecognizeRequest`: the config first, audio after. */
export type GoogleStreamingRequest =
  | { readonly streamingConfig: GoogleStreamingConfig }
  | { readonly audioContent: Uint8Array };

/** A recognized word; times in seconds from the call's start. */
export interface GoogleWord {
  readonly word: string;
  readonly start?: number;
  readonly end?: number;
  /** Absent when Google left it at its 0 "not set" sentinel. */
  readonly confidence?: number;
  /** From `speaker_label` (or the deprecated `speaker_tag`) when diarizing. */
  readonly speaker?: number;
}

/** A `StreamingRecognitionResult`, reduced to its top alternative. */
export interface GoogleResult {
  readonly transcript: string;
  /** Absent when Google left it at 0 ("not set"), as it does on interims. */
  readonly confidence?: number;
  readonly words: readonly GoogleWord[];
  readonly isFinal: boolean;
  /** 0–1 on interims; 0 means "not set". */
  readonly stability: number;
  /** `result_end_time`: seconds from the call's start. */
  readonly endTime?: number;
}

/** The speech events Earshot acts on (`speech_event_type`). */
export type GoogleSpeechEvent =
  | 'SPEECH_EVENT_UNSPECIFIED'
  | 'END_OF_SINGLE_UTTERANCE'
  | 'SPEECH_ACTIVITY_BEGIN'
  | 'SPEECH_ACTIVITY_END'
  | 'SPEECH_ACTIVITY_TIMEOUT';

/** A `StreamingRecognizeResponse`. */
export interface GoogleResponse {
  /** A `google.rpc.Status` carried in a response, when its code is not OK. */
  readonly error?: { readonly code: number; readonly message: string };
  readonly results: readonly GoogleResult[];
  readonly speechEvent: GoogleSpeechEvent | string;
  /** `speech_event_time`: seconds from the call's start. */
  readonly speechEventTime?: number;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A `google.protobuf.Duration` (`seconds` a string or number, `nanos` a number) in seconds. */
export function durationSeconds(value: unknown): number | undefined {
  if (!isRecord(value)) return undefined;
  const seconds = Number(value.seconds ?? 0);
  const nanos = Number(value.nanos ?? 0);
  if (!Number.isFinite(seconds) || !Number.isFinite(nanos)) return undefined;
  return seconds + nanos / 1e9;
}

function optionalNumber(value: unknown, field: string): number | string {
  if (value === undefined || value === null) return 0;
  return typeof value === 'number' && Number.isFinite(value) ? value : `${field} is not a number`;
}

function speakerOf(word: Record<string, unknown>): number | undefined {
  const label = word.speakerLabel;
  if (typeof label === 'string' && /^\d+$/.test(label)) return Number(label);
  const tag = word.speakerTag;
  return typeof tag === 'number' && tag > 0 ? tag : undefined;
}

function parseWord(value: unknown): GoogleWord | string {
  if (!isRecord(value) || typeof value.word !== 'string') return 'a word has no text';
  const confidence = optionalNumber(value.confidence, 'word confidence');
  if (typeof confidence === 'string') return confidence;
  const start = durationSeconds(value.startTime);
  const end = durationSeconds(value.endTime);
  const speaker = speakerOf(value);
  return {
    word: value.word,
    ...(start === undefined ? {} : { start }),
    ...(end === undefined ? {} : { end }),
    ...(confidence > 0 ? { confidence } : {}),
    ...(speaker === undefined ? {} : { speaker }),
  };
}

function parseResult(value: unknown): GoogleResult | string {
  if (!isRecord(value)) return 'a result is not an object';
  const alternatives = value.alternatives ?? [];
  if (!Array.isArray(alternatives)) return 'alternatives is not a list';
  const top: unknown = alternatives[0] ?? { transcript: '' };
  if (!isRecord(top)) return 'an alternative is not an object';
  const transcript = top.transcript ?? '';
  if (typeof transcript !== 'string') return 'transcript is not a string';
  const confidence = optionalNumber(top.confidence, 'confidence');
  if (typeof confidence === 'string') return confidence;
  const stability = optionalNumber(value.stability, 'stability');
  if (typeof stability === 'string') return stability;
  const rawWords = top.words ?? [];
  if (!Array.isArray(rawWords)) return 'words is not a list';
  const words: GoogleWord[] = [];
  for (const raw of rawWords) {
    const word = parseWord(raw);
    if (typeof word === 'string') return word;
    words.push(word);
  }
  const endTime = durationSeconds(value.resultEndTime);
  return {
    transcript,
    ...(confidence > 0 ? { confidence } : {}),
    words,
    isFinal: value.isFinal === true,
    stability,
    ...(endTime === undefined ? {} : { endTime }),
  };
}

/**
 * Reads a `StreamingRecognizeResponse` as the SDK emitted it, or says what is wrong with it.
 *
 * @example
 * ```ts
 * parseStreamingResponse({ results: [{ alternatives: [{ transcript: 'hi' }], isFinal: true,
 *   resultEndTime: { seconds: '1', nanos: 500000000 } }] }); // { ok: true, value: … endTime: 1.5 }
 * ```
 */
export function parseStreamingResponse(value: unknown): Parsed<GoogleResponse> {
  if (!isRecord(value)) return { ok: false, problem: 'the response is not an object' };
  const rawResults = value.results ?? [];
  if (!Array.isArray(rawResults)) return { ok: false, problem: 'results is not a list' };
  const results: GoogleResult[] = [];
  for (const raw of rawResults) {
    const result = parseResult(raw);
    if (typeof result === 'string') return { ok: false, problem: result };
    results.push(result);
  }
  const speechEvent = value.speechEventType ?? 'SPEECH_EVENT_UNSPECIFIED';
  if (typeof speechEvent !== 'string') {
    return { ok: false, problem: 'speechEventType is not a string' };
  }
  const speechEventTime = durationSeconds(value.speechEventTime);
  const error = isRecord(value.error) ? value.error : undefined;
  const errorCode = typeof error?.code === 'number' ? error.code : 0;
  return {
    ok: true,
    value: {
      ...(errorCode !== 0
        ? { error: { code: errorCode, message: String(error?.message ?? '') } }
        : {}),
      results,
      speechEvent,
      ...(speechEventTime === undefined ? {} : { speechEventTime }),
    },
  };
}
