import type { VadEvent } from './speech-segmenter.js';
import {
  createVoiceActivityDetector,
  type VoiceActivityDetectorOptions,
} from './voice-activity-detector.js';

/** One stretch of speech in a recording, in seconds from its first sample. */
export interface Utterance {
  /** Where the speech begins (pre-speech padding included). */
  readonly start: number;
  /** Where the speech ends. */
  readonly end: number;
}

/** Options of {@link cutUtterances}: those of the detector, less the sample rate. */
export type CutUtterancesOptions = Omit<VoiceActivityDetectorOptions, 'sampleRate'>;

/**
 * Cuts a whole recording (mono PCM16) into utterances with a {@link VoiceActivityDetector}:
 * what a batch provider sends one request per, or what a test expects to be transcribed.
 *
 * @throws EarshotError `unsupported_audio_format` for a rate WebRTC VAD does not take.
 *
 * @example
 * ```ts
 * const utterances = await cutUtterances(samples, 16000, { preSpeechPaddingMs: 200 });
 * // [{ start: 1.02, end: 3.87 }, …]
 * ```
 */
export async function cutUtterances(
  pcm: Int16Array,
  sampleRate: number,
  options: CutUtterancesOptions = {},
): Promise<Utterance[]> {
  const detector = await createVoiceActivityDetector({ ...options, sampleRate });
  try {
    const utterances: Utterance[] = [];
    const collect = (events: readonly VadEvent[]) => {
      for (const event of events) {
        if (event.type === 'speech_ended') utterances.push({ start: event.start, end: event.at });
      }
    };
    collect(detector.push(pcm));
    collect(detector.flush());
    return utterances;
  } finally {
    detector.close();
  }
}
