import * as z from 'zod/mini';
import { described } from './described.js';

/**
 * Audio encodings Earshot understands.
 *
 * - `pcm16`: signed 16-bit little-endian PCM, interleaved when stereo.
 * - `mulaw` / `alaw`: G.711, 8 bits per sample (telephony).
 * - `webm-opus` / `ogg-opus`: Opus in a container, as browsers' `MediaRecorder` emits it.
 * - `wav`: a RIFF/WAVE stream whose header declares the real format.
 */
export const AUDIO_ENCODINGS = ['pcm16', 'mulaw', 'alaw', 'webm-opus', 'ogg-opus', 'wav'] as const;

/** Schema of {@link AudioEncoding}. */
export const AudioEncodingSchema = described(
  z.enum(AUDIO_ENCODINGS),
  'How the bytes encode sound; container formats carry their own header.',
);

/** One of {@link AUDIO_ENCODINGS}. */
export type AudioEncoding = z.infer<typeof AudioEncodingSchema>;

/** The lowest sample rate the protocol accepts (narrowband telephony). */
export const MIN_SAMPLE_RATE = 8000;
/** The highest sample rate the protocol accepts (studio audio). */
export const MAX_SAMPLE_RATE = 48000;
/** The most channels the protocol accepts: mono or stereo. */
export const MAX_CHANNELS = 2;

/** Schema of {@link AudioFormat}. */
export const AudioFormatSchema = described(
  z.object({
    encoding: AudioEncodingSchema,
    sampleRate: described(
      z.number().check(z.int(), z.minimum(MIN_SAMPLE_RATE), z.maximum(MAX_SAMPLE_RATE)),
      'Samples per second of one channel, e.g. 16000.',
    ),
    channels: described(
      z._default(z.number().check(z.int(), z.minimum(1), z.maximum(MAX_CHANNELS)), 1),
      '1 (mono) or 2.',
    ),
  }),
  'What one stream of audio bytes is: its encoding, sample rate and channel count.',
);

/** A stream's audio format: encoding, sample rate, channels. */
export type AudioFormat = z.infer<typeof AudioFormatSchema>;

/** The format the embedded local engine decodes natively: PCM16, 16 kHz, mono. */
export const PCM16_16K_MONO: AudioFormat = Object.freeze({
  encoding: 'pcm16',
  sampleRate: 16000,
  channels: 1,
});

/**
 * Bytes of one second of audio in a raw (uncontainered) format, or `undefined` for container
 * and compressed formats whose byte rate is not fixed.
 */
export function bytesPerSecond(format: AudioFormat): number | undefined {
  switch (format.encoding) {
    case 'pcm16':
      return format.sampleRate * format.channels * 2;
    case 'mulaw':
    case 'alaw':
      return format.sampleRate * format.channels;
    default:
      return undefined;
  }
}

/** Whether two formats describe the same bytes. */
export function sameAudioFormat(a: AudioFormat, b: AudioFormat): boolean {
  return a.encoding === b.encoding && a.sampleRate === b.sampleRate && a.channels === b.channels;
}

/** A short human form of a format, e.g. `pcm16/16000/1`, for logs and error messages. */
export function describeAudioFormat(format: AudioFormat): string {
  return `${format.encoding}/${format.sampleRate}/${format.channels}`;
}
