import { type AudioFormat, EarshotError } from '@earshot/protocol';
import type { AudioSink, AudioStage } from '../audio-stage.js';
import { OggDemuxer, type OggDemuxerOptions } from './ogg-demuxer.js';
import {
  OPUS_SAMPLE_RATE,
  type OpusHead,
  OpusPacketDecoder,
  type OpusPacketDecoderOptions,
} from './opus-packet-decoder.js';
import { OPUS_STAGE_OUTPUT } from './webm-opus-stage.js';

/** Options of {@link OggOpusStage}. */
export interface OggOpusStageOptions extends OggDemuxerOptions, OpusPacketDecoderOptions {}

/**
 * Decodes Ogg/Opus to PCM16 mono at 48 kHz inside this process: {@link OggDemuxer} extracts
 * packets of the first Opus logical stream, {@link OpusPacketDecoder} decodes them with the
 * `OpusHead`'s pre-skip and gain. Chunks may be split at any byte.
 *
 * Bad pages go to `sink.error` as `invalid_audio`; the stage skips to the next page and goes
 * on. A stream that is not Opus is fatal.
 *
 * @example
 * ```ts
 * const stage = new OggOpusStage({ data: (pcm) => out.push(pcm), error: report });
 * for await (const chunk of file) stage.write(chunk);
 * await stage.end();
 * ```
 */
export class OggOpusStage implements AudioStage {
  /** PCM16 mono at the decode rate (48 kHz by default). */
  readonly output: AudioFormat;
  private readonly demuxer: OggDemuxer;
  private decoder: OpusPacketDecoder | undefined;
  private destroyed = false;

  constructor(
    private readonly sink: AudioSink,
    private readonly options: OggOpusStageOptions = {},
  ) {
    this.output = {
      ...OPUS_STAGE_OUTPUT,
      sampleRate: options.outputSampleRate ?? OPUS_SAMPLE_RATE,
    };
    this.demuxer = new OggDemuxer(
      {
        head: (head) => this.startDecoder(head),
        packet: (packet) => this.decoder?.decode(packet),
        invalid: (message, fatal) =>
          this.sink.error(new EarshotError('invalid_audio', message, { fatal })),
      },
      options,
    );
  }

  /** Feeds Ogg bytes split anywhere. Never throws. */
  write(chunk: Uint8Array): void {
    if (this.destroyed) return;
    try {
      this.demuxer.write(chunk);
    } catch (cause) {
      // The demuxer is written not to throw; should it, the session still must not crash.
      this.sink.error(EarshotError.from(cause, 'internal'));
    }
  }

  /** Reports a truncated stream, then resolves once every packet is decoded and emitted. */
  async end(): Promise<void> {
    if (this.destroyed) return;
    this.demuxer.end();
    await this.decoder?.flush();
  }

  /** Frees the decoder's WASM memory and drops everything held. */
  destroy(): void {
    this.destroyed = true;
    this.decoder?.destroy();
    this.decoder = undefined;
  }

  private startDecoder(head: OpusHead): void {
    if (this.decoder !== undefined) return;
    this.decoder = new OpusPacketDecoder(head, this.sink, this.options);
  }
}
