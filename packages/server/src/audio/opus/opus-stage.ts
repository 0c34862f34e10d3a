import { type AudioFormat, EarshotError } from '@earshot/protocol';
import type { AudioSink, AudioStage } from '../audio-stage.js';
import { FfmpegOpusStage } from './ffmpeg-stage.js';
import { OggOpusStage } from './ogg-opus-stage.js';
import { WebmOpusStage } from './webm-opus-stage.js';

/** How Opus is decoded: in this process (libopus in WASM) or by one FFmpeg per session. */
export type OpusDecoderKind = 'wasm' | 'ffmpeg';

/** Options of {@link createOpusStage}. */
export interface OpusStageOptions {
  /** `wasm` (in-process, PCM16 at 48 kHz) or `ffmpeg` (a child process per session). */
  readonly decoder: OpusDecoderKind;
  /**
   * The output rate, for `ffmpeg` only (it resamples). Defaults to 48000. The `wasm` stage
   * always emits 48 kHz; a resampler stage follows it when the provider wants another rate.
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
  if (options.outputSampleRate !== undefined && options.outputSampleRate !== 48000) {
    throw new EarshotError(
      'unsupported_audio_format',
      `the wasm Opus decoder emits 48000 Hz, not ${options.outputSampleRate}; add a resampler`,
    );
  }
  return container === 'webm' ? new WebmOpusStage(sink) : new OggOpusStage(sink);
}
