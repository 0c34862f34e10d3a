import { type AudioFormat, EarshotError } from '@earshot/protocol';
import type { AudioSink, AudioStage } from './audio-stage.js';
import { decodeAlaw, decodeMulaw, encodeAlaw, encodeMulaw } from './g711.js';
import { createOpusStage, type OpusDecoderKind } from './opus/index.js';
import { downmixStereo, Pcm16Framer, pcm16ToBytes } from './pcm16.js';
import type { PipelineStep } from './pipeline-plan.js';
import { createResampler, type ResamplerQuality } from './resampler.js';

/** Choices the server makes for every session's pipeline. */
export interface StageOptions {
  /**
   * How Opus (WebM or Ogg) is decoded: `wasm` in this process (the default), or `ffmpeg`, one
   * child process per session.
   */
  readonly opusDecoder?: OpusDecoderKind;
  /** The FFmpeg executable when `opusDecoder` is `ffmpeg`. Defaults to `ffmpeg` on the PATH. */
  readonly ffmpegPath?: string;
  /** Resampler quality: `voip`, `default` (sox-like) or `high`. */
  readonly resampleQuality?: ResamplerQuality;
}

/** Builds the stage that runs one planned step on audio of format `input`. */
export function createStepStage(
  step: PipelineStep,
  input: AudioFormat,
  sink: AudioSink,
  options: StageOptions,
): AudioStage {
  switch (step.kind) {
    case 'decode-g711': {
      const decode = step.law === 'mulaw' ? decodeMulaw : decodeAlaw;
      // One byte per sample: no framing, every chunk decodes whole.
      return byteStage({ ...input, encoding: 'pcm16' }, sink, (bytes) =>
        pcm16ToBytes(decode(bytes)),
      );
    }
    case 'decode-opus':
      return createOpusStage(input, sink, {
        decoder: options.opusDecoder ?? 'wasm',
        outputSampleRate: step.rate,
        ...(options.ffmpegPath === undefined ? {} : { ffmpegPath: options.ffmpegPath }),
      });
    case 'downmix':
      return sampleStage(input, { ...input, channels: 1 }, sink, (samples) =>
        downmixStereo(samples),
      );
    case 'resample': {
      const resampler = createResampler(step.from, step.to, {
        quality: options.resampleQuality ?? 'default',
      });
      return sampleStage(
        input,
        { ...input, sampleRate: step.to },
        sink,
        (samples) => resampler.process(samples),
        () => resampler.flush(),
      );
    }
    case 'encode-g711': {
      const encode = step.law === 'mulaw' ? encodeMulaw : encodeAlaw;
      return sampleStage(
        input,
        { ...input, encoding: step.law },
        sink,
        (samples) => encode(samples),
        undefined,
        true,
      );
    }
  }
}

/** A synchronous stage that maps each chunk of bytes to bytes. */
function byteStage(
  output: AudioFormat,
  sink: AudioSink,
  map: (bytes: Uint8Array) => Uint8Array,
): AudioStage {
  let open = true;
  return {
    output,
    write(chunk) {
      if (open) emit(sink, map(chunk));
    },
    async end() {
      open = false;
    },
    destroy() {
      open = false;
    },
  };
}

/**
 * A synchronous stage over PCM16 samples: cuts the byte stream into whole sample frames
 * (carrying a split sample to the next chunk), maps the samples, and emits bytes.
 */
function sampleStage(
  input: AudioFormat,
  output: AudioFormat,
  sink: AudioSink,
  map: (samples: Int16Array) => Int16Array | Uint8Array,
  flush?: () => Int16Array,
  emitsBytes = false,
): AudioStage {
  const framer = new Pcm16Framer(input.channels as 1 | 2);
  let open = true;
  const out = (result: Int16Array | Uint8Array) =>
    emit(sink, emitsBytes ? (result as Uint8Array) : pcm16ToBytes(result as Int16Array));
  return {
    output,
    write(chunk) {
      if (!open) return;
      const samples = framer.push(chunk);
      if (samples.length > 0) out(map(samples));
    },
    async end() {
      if (!open) return;
      open = false;
      const dropped = framer.reset();
      if (dropped > 0) {
        sink.error(
          new EarshotError(
            'invalid_audio',
            `the audio ended ${dropped} byte(s) into a sample frame; they were dropped`,
          ),
        );
      }
      if (flush) out(flush());
    },
    destroy() {
      open = false;
    },
  };
}

function emit(sink: AudioSink, bytes: Uint8Array): void {
  if (bytes.byteLength > 0) sink.data(bytes);
}
