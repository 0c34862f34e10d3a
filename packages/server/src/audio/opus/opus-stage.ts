import { type AudioFormat, EarshotError } from '@earshot/protocol';
import type { AudioSink, AudioStage } from '../audio-stage.js';
import { FfmpegOpusStage } from './ffmpeg-stage.js';
import { OggOpusStage } from './ogg-opus-stage.js';
import { isOpusDecodeRate, OPUS_DECODE_RATES, OPUS_SAMPLE_RATE } from './opus-packet-decoder.js';
import { WebmOpusStage } from './webm-opus-stage.js';

/** How Opus is decoded: in this process (libopus in WASM) or by one FFmpeg per session. */
export type OpusDecoderKind = 'wasm' | 'ffmpeg';

/** Options of {@link createOpusStage}. */
export interface OpusStageOptions {
  /** `wasm` (in-process, PCM16 at 48 kHz) or `ffmpeg` (a child process per session). */
  readonly decoder: OpusDecoderKind;
  /**
   * The output rate. Defaults to 48000. `ffmpeg` takes any rate (it resamples); `wasm` takes
   * the rates libopus decodes to natively (8, 12, 16, 24, 48 kHz) and a resampler stage
   * follows it for any other.
   */
  readonly outputSampleRate?: number;
  /** The FFmpeg executable, for `ffmpeg`. Defaults to `ffmpeg` on the `PATH`. */
  readonly ffmpegPath?: string;
}

/**
 * Builds the stage that decodes a session's WebM/Opus or Ogg/Opus audio (by
 * `input.encoding`) to PCM16 mono, in process or through FFmpeg.
 *
 * @throws {EarshotError} `unsupported_audio_format` when `input` is not `webm-opus` or
 * `ogg-opus`, or `wasm` is asked for a rate other than 48000.
 *
 * @example
 * ```ts
 * const stage = createOpusStage({ encoding: 'webm-opus', sampleRate: 48000, channels: 1 }, sink, {
 *   decoder: 'wasm',
 * });
 * stage.write(chunk); // PCM16 mono 48 kHz arrives at sink.data
 * await stage.end();
 * ```
 */
export function createOpusStage(
  input: AudioFormat,
  sink: AudioSink,
  options: OpusStageOptions,
): AudioStage {
  const container =
    input.encoding === 'webm-opus' ? 'webm' : input.encoding === 'ogg-opus' ? 'ogg' : undefined;
  if (container === undefined) {
    throw new EarshotError(
      'unsupported_audio_format',
      `an Opus stage takes webm-opus or ogg-opus, not ${input.encoding}`,
    );
  }
  if (options.decoder === 'ffmpeg') {
    return new FfmpegOpusStage(sink, {
      container,
      outputSampleRate: options.outputSampleRate ?? 48000,
      ...(options.ffmpegPath === undefined ? {} : { ffmpegPath: options.ffmpegPath }),
    });
  }
  const rate = options.outputSampleRate ?? OPUS_SAMPLE_RATE;
  if (!isOpusDecodeRate(rate)) {
    throw new EarshotError(
      'unsupported_audio_format',
      `the wasm Opus decoder emits ${OPUS_DECODE_RATES.join(', ')} Hz, not ${rate}; add a resampler`,
    );
  }
  const stageOptions = { outputSampleRate: rate };
  return container === 'webm'
    ? new WebmOpusStage(sink, stageOptions)
    : new OggOpusStage(sink, stageOptions);
}
