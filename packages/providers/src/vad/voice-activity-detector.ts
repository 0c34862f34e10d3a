import { EarshotError } from '@earshot/protocol';
import { createSpeechSegmenter, type VadEvent } from './speech-segmenter.js';
import {
  assertWebRtcVadSampleRate,
  createWebRtcVad,
  type WebRtcVadFrameMs,
  type WebRtcVadMode,
} from './webrtc-vad.js';

/** Options of {@link createVoiceActivityDetector}. */
export interface VoiceActivityDetectorOptions {
  /** Sample rate of the mono PCM16 pushed: 8000, 16000, 32000 or 48000. */
  readonly sampleRate: number;
  /** WebRTC VAD aggressiveness, 0 (keeps most) to 3 (rejects most non-speech). Defaults to 2. */
  readonly mode?: WebRtcVadMode;
  /** Length of each classified frame. Defaults to 30 ms, WebRTC VAD's most reliable length. */
  readonly frameMs?: WebRtcVadFrameMs;
  /**
   * Consecutive voiced audio that makes speech begin, rounded to whole frames. Defaults to
   * 90 ms: long enough that a click or a burst of noise does not count, short enough that the
   * start is reported well before the first word ends.
   */
  readonly startSpeechMs?: number;
  /**
   * Consecutive unvoiced audio that makes speech end, rounded to whole frames. Defaults to
   * 600 ms: longer than the pauses between words and most between phrases.
   */
  readonly endSilenceMs?: number;
  /**
   * Audio before the first voiced frame counted into the speech (never reaching into the
   * previous region), so a cut utterance keeps the soft onset a VAD tends to miss. Defaults
   * to 0: events report the voice itself.
   */
  readonly preSpeechPaddingMs?: number;
  /**
   * A frame counts as voiced only when WebRTC VAD says so *and* its level is at least this
   * many dB above the background, tracked as a noise floor (it follows quieter frames at
   * once and rises by 3 dB a second, so a steady noise becomes the floor within seconds,
   * while the dips between words keep it down during speech). Defaults to 3; `false` turns
   * the gate off and leaves WebRTC VAD alone.
   *
   * Why: in steady noise at 10 dB SNR or worse (pink more than white) WebRTC VAD alone calls
   * nearly every frame speech; the gate restores it (bench/vad.bench.ts: pink noise at 10 dB,
   * F1 0.82 → 0.95) at almost no cost on clean audio.
   */
  readonly noiseGateDb?: number | false;
}

/**
 * A streaming voice activity detector: push mono PCM16 of any chunk size, get
 * `speech_started` / `speech_ended` events on the stream's sample clock (seconds of audio pushed).
 * Built on WebRTC VAD, a noise-floor gate and hysteresis (see
 * {@link VoiceActivityDetectorOptions}). Owns WASM
 * memory: {@link VoiceActivityDetector.close | close} it.
 */
export interface VoiceActivityDetector {
  /** The sample rate of the audio pushed. */
  readonly sampleRate: number;
  /** Whether speech is open: a `speech_started` was reported without its `speech_ended`. */
  readonly speaking: boolean;
  /** Seconds of audio pushed so far: the detector's clock. */
  readonly position: number;
  /**
   * Takes the next samples (any length, split anywhere) and returns the events they
   * complete, in order. The same audio gives the same events however it is chunked.
   */
  push(samples: Int16Array): readonly VadEvent[];
  /**
   * End of input (or of an utterance the caller wants closed, e.g. on `finalize`): ends open
   * speech and drops a partial frame. Pushing may go on afterwards on the same clock.
   */
  flush(): readonly VadEvent[];
  /** Frees the WASM instance. Idempotent; `push` and `flush` throw afterwards. */
  close(): void;
}

const NO_EVENTS: readonly VadEvent[] = Object.freeze([]);

// −70 dBFS: the floor never goes below it, so digital silence does not make every later
// sample "loud".
const FLOOR_MINIMUM = 32768 * 10 ** (-70 / 20);
// How fast the floor may rise, in dB per second: fast enough to learn a new steady noise in
// a few seconds, slow enough that the ~100 ms between words keeps it near the background.
const FLOOR_RISE_DB_PER_SECOND = 3;

/**
 * A minimum-statistics noise floor: returns, for each frame in order, whether the frame's RMS
 * is `marginDb` above the floor. Pure JavaScript, no allocation per frame.
 */
function createNoiseGate(marginDb: number, frameMs: number): (frame: Int16Array) => boolean {
  const rise = 10 ** ((FLOOR_RISE_DB_PER_SECOND * frameMs) / 1000 / 20);
  const margin = 10 ** (marginDb / 20);
  let floor = Number.POSITIVE_INFINITY;
  return (frame) => {
    let sum = 0;
    for (let i = 0; i < frame.length; i++) sum += frame[i]! * frame[i]!;
    const rms = Math.sqrt(sum / frame.length);
    floor = Math.max(FLOOR_MINIMUM, Math.min(floor * rise, rms));
    return rms > floor * margin;
  };
}

function positiveMs(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new EarshotError('invalid_request', `${name} must be a number ≥ 0, not ${value}`);
  }
  return value;
}

/**
 * Creates a {@link VoiceActivityDetector}; async because the WASM module loads on first use.
 *
 * @throws EarshotError `unsupported_audio_format` for a sample rate WebRTC VAD does not take
 *   (resample first); `invalid_request` for a bad frame length or duration.
 *
 * @example
 * ```ts
 * const vad = await createVoiceActivityDetector({ sampleRate: 16000 });
 * for (const event of vad.push(samples)) {
 *   if (event.type === 'speech_ended') cut(event.start, event.at);
 * }
 * vad.flush();
 * vad.close();
 * ```
 */
export async function createVoiceActivityDetector(
  options: VoiceActivityDetectorOptions,
): Promise<VoiceActivityDetector> {
  const { sampleRate } = options;
  assertWebRtcVadSampleRate(sampleRate);
  const frameMs = options.frameMs ?? 30;
  if (frameMs !== 10 && frameMs !== 20 && frameMs !== 30) {
    throw new EarshotError('invalid_request', `frameMs must be 10, 20 or 30, not ${frameMs}`);
  }
  const startSpeechMs = positiveMs('startSpeechMs', options.startSpeechMs, 90);
  const endSilenceMs = positiveMs('endSilenceMs', options.endSilenceMs, 600);
  const paddingMs = positiveMs('preSpeechPaddingMs', options.preSpeechPaddingMs, 0);
  const gateDb = options.noiseGateDb;
  const gate =
    gateDb === false ? undefined : createNoiseGate(positiveMs('noiseGateDb', gateDb, 3), frameMs);

  const frameSamples = (sampleRate * frameMs) / 1000;
  const segmenter = createSpeechSegmenter({
    sampleRate,
    frameSamples,
    startSpeechFrames: Math.round(startSpeechMs / frameMs),
    endSilenceFrames: Math.round(endSilenceMs / frameMs),
    preSpeechPaddingSamples: Math.round((paddingMs * sampleRate) / 1000),
  });
  const vad = await createWebRtcVad({ sampleRate, mode: options.mode ?? 2 });

  // A frame split across pushes waits here; whole frames inside a push are classified in
  // place (subarray views), so the only copy is the one into WASM memory.
  const carry = new Int16Array(frameSamples);
  let carried = 0;
  let total = 0;
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new EarshotError('internal', 'voice activity detector used after close()');
  };

  return {
    sampleRate,
    get speaking() {
      return segmenter.speaking;
    },
    get position() {
      return total / sampleRate;
    },
    push(samples) {
      assertOpen();
      let events: VadEvent[] | undefined;
      const classify = (frame: Int16Array) => {
        // The VAD sees every frame, gated or not, so its own noise model keeps adapting.
        const voiced = vad.isSpeech(frame);
        const loud = gate ? gate(frame) : true;
        const event = segmenter.frame(voiced && loud);
        if (!event) return;
        if (events) events.push(event);
        else events = [event];
      };
      let offset = 0;
      if (carried > 0) {
        offset = Math.min(frameSamples - carried, samples.length);
        carry.set(samples.subarray(0, offset), carried);
        carried += offset;
        if (carried === frameSamples) {
          classify(carry);
          carried = 0;
        }
      }
      for (; offset + frameSamples <= samples.length; offset += frameSamples) {
        classify(samples.subarray(offset, offset + frameSamples));
      }
      if (offset < samples.length) {
        carry.set(samples.subarray(offset), carried);
        carried += samples.length - offset;
      }
      total += samples.length;
      return events ?? NO_EVENTS;
    },
    flush() {
      assertOpen();
      // The partial frame is dropped rather than zero-padded: padding with silence would
      // bias the classifier, and fewer than frameMs of audio cannot change a region by more.
      // Its samples stay on the clock; the next push starts a fresh frame after them.
      carried = 0;
      const event = segmenter.end(total);
      return event ? [event] : NO_EVENTS;
    },
    close() {
      if (closed) return;
      closed = true;
      vad.close();
    },
  };
}
