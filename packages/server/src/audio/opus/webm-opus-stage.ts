import {
  parseOpusHead,
  WebmDemuxer,
  type WebmDemuxerOptions,
  type WebmOpusTrack,
} from '@earshot/providers/containers';
import type { AudioSink } from '../audio-stage.js';
import { DemuxedOpusStage } from './demuxed-opus-stage.js';
import type { OpusPacketDecoderOptions } from './opus-packet-decoder.js';

/** Options of {@link WebmOpusStage}. */
export interface WebmOpusStageOptions extends WebmDemuxerOptions, OpusPacketDecoderOptions {}

/**
 * Decodes WebM/Opus, as a browser's `MediaRecorder` emits it, to PCM16 mono (48 kHz unless told
 * otherwise) inside this process: {@link WebmDemuxer} extracts Opus packets, {@link OpusPacketDecoder} (libopus in
 * WASM) decodes them. Chunks may be split at any byte. Output is synchronous once the WASM
 * module has loaded; packets that arrive before are queued and decoded when it is.
 *
 * Bad bytes go to `sink.error` as `invalid_audio`; the stage skips to the next Cluster and
 * goes on. A track that is not Opus is fatal.
 *
 * @example
 * ```ts
 * const stage = new WebmOpusStage({ data: (pcm) => provider.write(pcm), error: report });
 * recorder.ondataavailable = async (e) => stage.write(new Uint8Array(await e.data.arrayBuffer()));
 * await stage.end();
 * ```
 */
export class WebmOpusStage extends DemuxedOpusStage {
  protected readonly demuxer: WebmDemuxer;

  constructor(sink: AudioSink, options: WebmOpusStageOptions = {}) {
    super(sink, options);
    this.demuxer = new WebmDemuxer(
      { ...this.events, track: (track) => this.startTrack(track) },
      options,
    );
  }

  private startTrack(track: WebmOpusTrack): void {
    // MediaRecorder puts the OpusHead in CodecPrivate; without one, the track's own fields do.
    const head = track.codecPrivate === undefined ? undefined : parseOpusHead(track.codecPrivate);
    this.startDecoder(head ?? { channels: track.channels, preSkip: 0 });
  }
}
