import { type AudioFormat, EarshotError } from '@earshot/protocol';
import type { OpusHead } from '@earshot/providers/containers';
import type { AudioSink, AudioStage } from '../audio-stage.js';
import {
  OPUS_SAMPLE_RATE,
  OpusPacketDecoder,
  type OpusPacketDecoderOptions,
} from './opus-packet-decoder.js';

/** What the in-process Opus stages emit by default: PCM16 mono at Opus's own 48 kHz. */
export const OPUS_STAGE_OUTPUT: AudioFormat = Object.freeze({
  encoding: 'pcm16',
  sampleRate: OPUS_SAMPLE_RATE,
  channels: 1,
});

/** A container demuxer as the Opus stages drive it: bytes split anywhere in, never throws. */
export interface OpusDemuxer {
  write(chunk: Uint8Array): void;
  /** End of input: reports a stream cut off mid-element or mid-page. */
  end(): void;
}

/**
 * What the WebM and Ogg stages share: one container demuxer feeding one Opus packet decoder
 * (libopus in WebAssembly), made when the stream's Opus header arrives. Subclasses only build
 * their demuxer and say how its header becomes an {@link OpusHead}.
 */
export abstract class DemuxedOpusStage implements AudioStage {
  /** PCM16 mono at the decode rate (48 kHz by default). */
  readonly output: AudioFormat;
  private decoder: OpusPacketDecoder | undefined;
  private destroyed = false;

  protected constructor(
    protected readonly sink: AudioSink,
    private readonly decoderOptions: OpusPacketDecoderOptions,
  ) {
    this.output = {
      ...OPUS_STAGE_OUTPUT,
      sampleRate: decoderOptions.outputSampleRate ?? OPUS_SAMPLE_RATE,
    };
  }

  /** The container demuxer, built by the subclass. */
  protected abstract readonly demuxer: OpusDemuxer;

  /** Feeds container bytes split anywhere. Never throws. */
  write(chunk: Uint8Array): void {
    if (this.destroyed) return;
    try {
      this.demuxer.write(chunk);
    } catch (cause) {
      // The demuxers are written not to throw; should one, the session still must not crash.
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

  /** The demuxer's events that are the same for every container. */
  protected readonly events = {
    packet: (packet: Uint8Array) => this.decoder?.decode(packet),
    invalid: (message: string, fatal: boolean) =>
      this.sink.error(new EarshotError('invalid_audio', message, { fatal })),
  };

  /**
   * Starts decoding with the stream's header. One decoder per stage: a second header (a
   * restarted recorder) keeps it, since libopus decodes mono or stereo packets whatever
   * channel count it was made for.
   */
  protected startDecoder(head: Pick<OpusHead, 'channels' | 'preSkip'> & Partial<OpusHead>): void {
    if (this.decoder !== undefined || this.destroyed) return;
    this.decoder = new OpusPacketDecoder(head, this.sink, this.decoderOptions);
  }
}
