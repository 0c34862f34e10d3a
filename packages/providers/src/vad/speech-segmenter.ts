/** Speech began at `at` (seconds on the stream's sample clock). */
export interface SpeechStartedEvent {
  readonly type: 'speech_started';
  /** Where speech began, in seconds of audio pushed, pre-speech padding included. */
  readonly at: number;
}

/** Speech that began at `start` ended at `at` (seconds on the stream's sample clock). */
export interface SpeechEndedEvent {
  readonly type: 'speech_ended';
  /** Where speech ended: the end of its last voiced frame, in seconds of audio pushed. */
  readonly at: number;
  /** The `at` of the matching {@link SpeechStartedEvent}. */
  readonly start: number;
}

/**
 * What a voice activity detector reports. Events come in pairs, start then end, in order;
 * each is reported once the detector is sure of it, so an event's `at` lies in the past: up to
 * `startSpeechMs` before for a start, `endSilenceMs` before for an end.
 */
export type VadEvent = SpeechStartedEvent | SpeechEndedEvent;

/** Options of {@link createSpeechSegmenter}, all in samples or frames of one stream. */
export interface SpeechSegmenterOptions {
  /** Samples per second, to turn the sample clock into seconds. */
  readonly sampleRate: number;
  /** Samples per classified frame. */
  readonly frameSamples: number;
  /** Consecutive voiced frames that make speech begin (at least 1). */
  readonly startSpeechFrames: number;
  /** Consecutive unvoiced frames that make speech end (at least 1). */
  readonly endSilenceFrames: number;
  /** Samples of audio before the first voiced frame counted into the speech. */
  readonly preSpeechPaddingSamples: number;
}

/**
 * The hysteresis between per-frame decisions and speech regions: a classifier's frame-level
 * "voiced or not" flickers (a cough, a click, a pause between words), so speech begins only
 * after a run of voiced frames and ends only after a run of unvoiced ones. It knows nothing of
 * the classifier, so any one (WebRTC VAD, an energy threshold, a neural model) yields regions
 * by the same rules and can be compared fairly.
 */
export interface SpeechSegmenter {
  /** Whether speech is open (a start was reported and its end was not). */
  readonly speaking: boolean;
  /** Takes the decision on the next frame; returns the event it completes, if any. */
  frame(voiced: boolean): VadEvent | undefined;
  /**
   * End of input after `totalSamples` samples (which may include a partial frame that was
   * never classified): ends open speech, forgets a run too short to have begun speech, and
   * makes the next frame begin at `totalSamples`.
   */
  end(totalSamples: number): VadEvent | undefined;
}

/**
 * Creates a {@link SpeechSegmenter}. Positions are kept as integer sample counts and turned
 * into seconds only in events, so the result does not depend on how the audio was chunked.
 *
 * @example
 * ```ts
 * const segmenter = createSpeechSegmenter({
 *   sampleRate: 16000, frameSamples: 480, startSpeechFrames: 3, endSilenceFrames: 20,
 *   preSpeechPaddingSamples: 0,
 * });
 * const event = segmenter.frame(rms(frame) > threshold);
 * ```
 */
export function createSpeechSegmenter(options: SpeechSegmenterOptions): SpeechSegmenter {
  const { sampleRate, frameSamples } = options;
  const startFrames = Math.max(1, Math.floor(options.startSpeechFrames));
  const endFrames = Math.max(1, Math.floor(options.endSilenceFrames));
  const padding = Math.max(0, Math.floor(options.preSpeechPaddingSamples));

  // Where the next frame begins; `end` moves it past a dropped partial frame.
  let nextFrameStart = 0;
  let speaking = false;
  let voicedRun = 0;
  let voicedRunStart = 0;
  let silentRun = 0;
  let speechStart = 0;
  let lastVoicedEnd = 0;
  // Padding never reaches back into the previous region: regions never overlap.
  let previousEnd = 0;

  const seconds = (samples: number) => samples / sampleRate;

  const close = (at: number): SpeechEndedEvent => {
    speaking = false;
    previousEnd = at;
    voicedRun = 0;
    silentRun = 0;
    return { type: 'speech_ended', at: seconds(at), start: seconds(speechStart) };
  };

  return {
    get speaking() {
      return speaking;
    },
    frame(voiced) {
      const frameStart = nextFrameStart;
      const frameEnd = frameStart + frameSamples;
      nextFrameStart = frameEnd;
      if (speaking) {
        if (voiced) {
          silentRun = 0;
          lastVoicedEnd = frameEnd;
          return undefined;
        }
        silentRun += 1;
        return silentRun >= endFrames ? close(lastVoicedEnd) : undefined;
      }
      if (!voiced) {
        voicedRun = 0;
        return undefined;
      }
      if (voicedRun === 0) voicedRunStart = frameStart;
      voicedRun += 1;
      lastVoicedEnd = frameEnd;
      if (voicedRun < startFrames) return undefined;
      speaking = true;
      silentRun = 0;
      speechStart = Math.max(voicedRunStart - padding, previousEnd);
      return { type: 'speech_started', at: seconds(speechStart) };
    },
    end(totalSamples) {
      nextFrameStart = totalSamples;
      if (!speaking) {
        voicedRun = 0;
        return undefined;
      }
      // Input that stops mid-speech ends where the audio ends (the unclassified partial frame
      // included); input that stops in a pause ends where the voice did.
      return close(silentRun === 0 ? Math.max(totalSamples, lastVoicedEnd) : lastVoicedEnd);
    },
  };
}
