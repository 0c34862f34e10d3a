import type { AudioFormat, EarshotError } from '@earshot/protocol';

/** Where a stage delivers what it produces. */
export interface AudioSink {
  /** Output bytes in the stage's `output` format, in order. The stage does not reuse them. */
  data(chunk: Uint8Array): void;
  /**
   * A failure. `invalid_audio` for bytes that are not the declared format (the stage drops
   * them and goes on when it can); `fatal` when the stage cannot go on.
   */
  error(error: EarshotError): void;
}

/**
 * One step of the audio pipeline (a decoder, a resampler, a channel mixer…): bytes of its
 * input format in, bytes of its `output` format out, in order. Synchronous stages call
 * `sink.data` from inside `write`; asynchronous ones (an FFmpeg child process) call it later.
 */
export interface AudioStage {
  /** The format of the bytes this stage emits. */
  readonly output: AudioFormat;
  /** Feeds bytes at any boundary (a chunk may split a sample or a container element). */
  write(chunk: Uint8Array): void;
  /** End of input: emits everything still held, then resolves. */
  end(): Promise<void>;
  /** Stops at once and releases everything (buffers, WASM memory, child processes). */
  destroy(): void;
}

/** Builds a stage for an input format, delivering to `sink`. */
export type AudioStageFactory = (input: AudioFormat, sink: AudioSink) => AudioStage;
