import { OggDemuxer, type OggDemuxerOptions } from '@earshot/providers/containers';
import type { AudioSink } from '../audio-stage.js';
import { DemuxedOpusStage } from './demuxed-opus-stage.js';
import type { OpusPacketDecoderOptions } from './opus-packet-decoder.js';

/** Options of {@link OggOpusStage}. */
export interface OggOpusStageOptions extends OggDemuxerOptions, OpusPacketDecoderOptions {}

/**
 * Decodes Ogg/Opus to PCM16 mono (48 kHz unless told otherwise) inside this process:
 * {@link OggDemuxer} extracts packets of the first Opus logical stream, which are decoded with
 * the `OpusHead`'s pre-skip and gain. Chunks may be split at any byte.
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
export class OggOpusStage extends DemuxedOpusStage {
  protected readonly demuxer: OggDemuxer;

  constructor(sink: AudioSink, options: OggOpusStageOptions = {}) {
    super(sink, options);
    this.demuxer = new OggDemuxer(
      { ...this.events, head: (head) => this.startDecoder(head) },
      options,
    );
  }
}
