import { type AudioFormat, EarshotError } from '@earshot/protocol';
import type { AudioSink, AudioStage } from '../audio-stage.js';
import {
  OPUS_SAMPLE_RATE,
  OpusPacketDecoder,
  type OpusPacketDecoderOptions,
  parseOpusHead,
} from './opus-packet-decoder.js';
import { WebmDemuxer, type WebmDemuxerOptions, type WebmOpusTrack } from './webm-demuxer.js';

/** Options of {@link WebmOpusStage}. */
export interface WebmOpusStageOptions extends WebmDemuxerOptions, OpusPacketDecoderOptions {}

/** What the in-process Opus stages emit: PCM16 mono at Opus's own 48 kHz. */
export const OPUS_STAGE_OUTPUT: AudioFormat = Object.freeze({
  encoding: 'pcm16',
  sampleRate: OPUS_SAMPLE_RATE,
  channels: 1,
});

/**
 * Decodes WebM/Opus, as a browser's `MediaRecorder` emits it, to PCM16 mono at 48 kHz inside
 * this process: {@link WebmDemuxer} extracts Opus packets, {@link OpusPacketDecoder} (libopus in
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
export class WebmOpusStage implements AudioStage {
  /** PCM16 mono at the decode rate (48 kHz by default). */
  readonly output: AudioFormat;
  private readonly demuxer: WebmDemuxer;
  private decoder: OpusPacketDecoder | undefined;
  private destroyed = false;

  constructor(
    private readonly sink: AudioSink,
    private readonly options: WebmOpusStageOptions = {},
  ) {
    this.output = {
      ...OPUS_STAGE_OUTPUT,
      sampleRate: options.outputSampleRate ?? OPUS_SAMPLE_RATE,
    };
    this.demuxer = new WebmDemuxer(
      {
        track: (track) => this.startDecoder(track),
        packet: (packet) => this.decoder?.decode(packet),
        invalid: (message, fatal) =>
          this.sink.error(new EarshotError('invalid_audio', message, { fatal })),
      },
      options,
    );
  }

  /** Feeds WebM bytes split anywhere. Never throws. */
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

  private startDecoder(track: WebmOpusTrack): void {
    // One decoder per stage: a new header mid-stream (a restarted recorder) keeps it, since
    // libopus decodes mono or stereo packets whatever channel count it was made for.
    if (this.decoder !== undefined) return;
    const head = track.codecPrivate === undefined ? undefined : parseOpusHead(track.codecPrivate);
    this.decoder = new OpusPacketDecoder(
      head ?? { channels: track.channels, preSkip: 0 },
      this.sink,
      this.options,
    );
  }
}
