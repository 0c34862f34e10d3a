/**
 * What goes over the wire to OpenAI's `POST /v1/audio/transcriptions` and back: the WAV file
 * an utterance is posted as, and the transcription object (`json` or `verbose_json`) it is
 * answered with.
 *
 * The response is checked by hand rather than with zod: `@earshot/providers` does not depend
 * on zod, and the shape is small. Only the fields Earshot reads are checked; the rest pass.
 */

/** One word of a `verbose_json` transcription; times in seconds of the posted file. */
export interface WhisperWord {
  readonly word: string;
  readonly start: number;
  readonly end: number;
}

/** One segment of a `verbose_json` transcription, as far as Earshot reads it. */
export interface WhisperSegment {
  readonly start: number;
  readonly end: number;
  readonly text: string;
  /** Mean log probability of the segment's tokens. */
  readonly avgLogprob?: number;
}

/** A transcription as Earshot reads it, from either `json` or `verbose_json`. */
export interface WhisperTranscription {
  readonly text: string;
  /** Present when `timestamp_granularities[]` included `word`. */
  readonly words: readonly WhisperWord[];
  /** Present with `verbose_json` (segment granularity). */
  readonly segments: readonly WhisperSegment[];
}

const WAV_HEADER_BYTES = 44;

/**
 * Wraps mono PCM16 in a canonical 44-byte WAV header: the smallest file the API accepts
 * losslessly (it takes flac, mp3, wav, … and decodes them itself).
 *
 * @param pcm little-endian PCM16 samples, mono.
 */
export function encodeWav(pcm: Uint8Array, sampleRate: number): Uint8Array {
  const wav = new Uint8Array(WAV_HEADER_BYTES + pcm.byteLength);
  const view = new DataView(wav.buffer);
  const ascii = (at: number, text: string) => {
    for (let i = 0; i < text.length; i++) wav[at + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, 36 + pcm.byteLength, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // WAVE_FORMAT_PCM
  view.setUint16(22, 1, true); // channels
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); // byte rate
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  ascii(36, 'data');
  view.setUint32(40, pcm.byteLength, true);
  wav.set(pcm, WAV_HEADER_BYTES);
  return wav;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isTime = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;

function parseWord(value: unknown): WhisperWord | undefined {
  if (!isObject(value) || typeof value.word !== 'string') return undefined;
  if (!isTime(value.start) || !isTime(value.end)) return undefined;
  return { word: value.word, start: value.start, end: value.end };
}

function parseSegment(value: unknown): WhisperSegment | undefined {
  if (!isObject(value) || typeof value.text !== 'string') return undefined;
  if (!isTime(value.start) || !isTime(value.end)) return undefined;
  const logprob = value.avg_logprob;
  return {
    start: value.start,
    end: value.end,
    text: value.text,
    ...(typeof logprob === 'number' && Number.isFinite(logprob) ? { avgLogprob: logprob } : {}),
  };
}

function parseList<T>(value: unknown, parse: (item: unknown) => T | undefined): T[] | undefined {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) return undefined;
  const items: T[] = [];
  for (const item of value) {
    const parsed = parse(item);
    if (parsed === undefined) return undefined;
    items.push(parsed);
  }
  return items;
}

/**
 * Reads a transcription response (`json` or `verbose_json`), or returns `undefined` when it
 * does not have the documented shape.
 *
 * @example
 * ```ts
 * parseWhisperTranscription({ text: ' Hello.', words: [{ word: 'Hello', start: 0.1, end: 0.5 }] });
 * ```
 */
export function parseWhisperTranscription(body: unknown): WhisperTranscription | undefined {
  if (!isObject(body) || typeof body.text !== 'string') return undefined;
  const words = parseList(body.words, parseWord);
  const segments = parseList(body.segments, parseSegment);
  if (!words || !segments) return undefined;
  return { text: body.text, words, segments };
}
