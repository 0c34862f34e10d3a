/// <reference path="./fvad-wasm.d.ts" />

import { EarshotError } from '@earshot/protocol';
import type { FvadModule } from '@echogarden/fvad-wasm';

/**
 * WebRTC VAD's aggressiveness: 0 (quality, keeps the most as speech) to 3 (very aggressive,
 * rejects the most non-speech).
 */
export type WebRtcVadMode = 0 | 1 | 2 | 3;

/** Frame lengths WebRTC VAD classifies, in milliseconds. */
export type WebRtcVadFrameMs = 10 | 20 | 30;

/** Sample rates WebRTC VAD takes (it works internally at 8 kHz and downsamples the rest). */
export const WEBRTC_VAD_SAMPLE_RATES: readonly number[] = [8000, 16000, 32000, 48000];

/** Options of {@link createWebRtcVad}. */
export interface WebRtcVadOptions {
  /** One of {@link WEBRTC_VAD_SAMPLE_RATES}. */
  readonly sampleRate: number;
  /** Aggressiveness, 0–3. Defaults to 2. */
  readonly mode?: WebRtcVadMode;
}

/**
 * One WebRTC VAD instance (libfvad compiled to WASM): classifies single frames of 10, 20 or
 * 30 ms as speech or not. It keeps state across frames (noise estimates, hangover), so give
 * each audio stream its own instance, and {@link WebRtcVad.close | close} it when the stream
 * ends: its memory lives in the shared WASM heap, not in the JavaScript garbage collector.
 */
export interface WebRtcVad {
  /** The sample rate frames are in. */
  readonly sampleRate: number;
  /** The aggressiveness in force. */
  readonly mode: WebRtcVadMode;
  /** Whether {@link WebRtcVad.close} was called. */
  readonly closed: boolean;
  /**
   * Whether `frame` holds speech. `frame` must be exactly 10, 20 or 30 ms of mono PCM16 at
   * {@link WebRtcVad.sampleRate}; anything else throws `invalid_audio`.
   */
  isSpeech(frame: Int16Array): boolean;
  /** Forgets everything heard so far, as if new, keeping the mode and sample rate. */
  reset(): void;
  /** Frees the instance's WASM memory. Idempotent; any later call but `close` throws. */
  close(): void;
}

// 30 ms at 48 kHz, the longest frame libfvad takes: one buffer of this size per instance.
const MAX_FRAME_SAMPLES = 1440;

let loading: Promise<FvadModule> | undefined;
let openInstances = 0;

/**
 * Instantiates the WASM module once per process. Compiling it is asynchronous, so every
 * factory here is async; later calls share the first promise. A failed load is forgotten so a
 * later call may try again.
 *
 * @example
 * ```ts
 * await loadWebRtcVad(); // at server start, so the first session pays nothing
 * ```
 */
export function loadWebRtcVad(): Promise<void> {
  return loadModule().then(() => undefined);
}

function loadModule(): Promise<FvadModule> {
  loading ??= import('@echogarden/fvad-wasm')
    .then(({ default: instantiate }) => instantiate())
    .catch((error: unknown) => {
      loading = undefined;
      throw new EarshotError('internal', `cannot load WebRTC VAD (WASM): ${String(error)}`, {
        cause: error,
      });
    });
  return loading;
}

/**
 * How many {@link WebRtcVad} instances are open in this process: created and not yet closed.
 * Tests use it to check that nothing leaks; a server may report it as a gauge.
 */
export function openWebRtcVadCount(): number {
  return openInstances;
}

/**
 * Creates a WebRTC VAD instance (loading the WASM module on first use).
 *
 * @throws EarshotError `unsupported_audio_format` for a sample rate not in
 *   {@link WEBRTC_VAD_SAMPLE_RATES}; `internal` when the module cannot load or allocate.
 *
 * @example
 * ```ts
 * const vad = await createWebRtcVad({ sampleRate: 16000, mode: 2 });
 * const voiced = vad.isSpeech(samples.subarray(0, 480)); // one 30 ms frame
 * vad.close();
 * ```
 */
export async function createWebRtcVad(options: WebRtcVadOptions): Promise<WebRtcVad> {
  const { sampleRate } = options;
  const mode = options.mode ?? 2;
  // Checked before loading so a bad request fails the same way whether or not WASM is ready.
  assertWebRtcVadSampleRate(sampleRate);
  if (![0, 1, 2, 3].includes(mode)) {
    throw new EarshotError('invalid_request', `WebRTC VAD mode must be 0–3, not ${mode}`);
  }
  const fvad = await loadModule();
  const handle = fvad._fvad_new();
  const buffer = handle === 0 ? 0 : fvad._malloc(MAX_FRAME_SAMPLES * 2);
  if (handle === 0 || buffer === 0) {
    if (handle !== 0) fvad._fvad_free(handle);
    throw new EarshotError('internal', 'WebRTC VAD: out of WASM memory');
  }
  if (fvad._fvad_set_mode(handle, mode) !== 0 || fvad._fvad_set_sample_rate(handle, sampleRate)) {
    fvad._free(buffer);
    fvad._fvad_free(handle);
    throw new EarshotError('internal', `WebRTC VAD refused mode ${mode} at ${sampleRate} Hz`);
  }
  openInstances += 1;
  const frameLengths = new Set([10, 20, 30].map((ms) => (sampleRate * ms) / 1000));
  let closed = false;

  const assertOpen = () => {
    if (closed) throw new EarshotError('internal', 'WebRTC VAD used after close()');
  };

  return {
    sampleRate,
    mode,
    get closed() {
      return closed;
    },
    isSpeech(frame) {
      assertOpen();
      if (!frameLengths.has(frame.length)) {
        throw new EarshotError(
          'invalid_audio',
          `WebRTC VAD takes 10, 20 or 30 ms frames (${[...frameLengths].join(', ')} samples at ${sampleRate} Hz), not ${frame.length} samples`,
        );
      }
      // Read HEAP16 on every call: Emscripten replaces the view when the WASM memory grows
      // (another instance's malloc), and a stale view would write into detached memory.
      fvad.HEAP16.set(frame, buffer >> 1);
      const result = fvad._fvad_process(handle, buffer, frame.length);
      if (result < 0) throw new EarshotError('internal', 'WebRTC VAD failed on a frame');
      return result === 1;
    },
    reset() {
      assertOpen();
      // fvad_reset forgets the mode and rate too, so set them again.
      fvad._fvad_reset(handle);
      fvad._fvad_set_mode(handle, mode);
      fvad._fvad_set_sample_rate(handle, sampleRate);
    },
    close() {
      if (closed) return;
      closed = true;
      openInstances -= 1;
      fvad._free(buffer);
      fvad._fvad_free(handle);
    },
  };
}

/**
 * Throws `unsupported_audio_format` unless WebRTC VAD takes `sampleRate`. Resample other
 * rates (the audio pipeline's resampler) to 16 kHz first.
 */
export function assertWebRtcVadSampleRate(sampleRate: number): void {
  if (!WEBRTC_VAD_SAMPLE_RATES.includes(sampleRate)) {
    throw new EarshotError(
      'unsupported_audio_format',
      `WebRTC VAD takes ${WEBRTC_VAD_SAMPLE_RATES.join(', ')} Hz, not ${sampleRate} Hz; resample first`,
      { details: { sampleRate, supported: [...WEBRTC_VAD_SAMPLE_RATES] } },
    );
  }
}
