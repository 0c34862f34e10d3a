import { OggDemuxer } from './ogg-demuxer.js';
import { opusPacketSamples } from './opus-head.js';
import { WebmDemuxer } from './webm-demuxer.js';

/** The containers {@link OpusContainerClock} reads. */
export type OpusContainer = 'webm-opus' | 'ogg-opus';

/**
 * What an {@link OpusContainerClock} reports as it reads, for a reader that indexes the
 * stream (the resilient layer's replay). Offsets are stream byte offsets.
 */
export interface OpusContainerHooks {
  /** Bytes that are not WebM/Ogg Opus. `fatal` when nothing more can be read. */
  invalid?(message: string, fatal: boolean): void;
  /** Each Opus packet, before its duration is counted: a view valid only during the call. */
  packet?(packet: Uint8Array): void;
  /** WebM: a Cluster starts at `offset` (the first one ends the header). */
  cluster?(offset: number): void;
  /** WebM: the current Cluster's `Timecode` element, whole. */
  clusterTimecode?(element: Uint8Array): void;
  /** WebM: a block of the Opus track starts at `offset`. */
  block?(offset: number): void;
  /** Ogg: a page of the Opus stream starts at `offset`. */
  page?(offset: number, continued: boolean): void;
}

/**
 * The duration of a WebM/Opus or Ogg/Opus stream as it arrives, without decoding it: the sum
 * of its packets' durations, read from their TOC bytes. For audio passed through to a
 * provider untouched, where the session still needs its clock. Chunks may be split anywhere.
 *
 * @example
 * ```ts
 * const clock = new OpusContainerClock('webm-opus');
 * clock.write(chunk);
 * clock.seconds; // audio received so far
 * ```
 */
export class OpusContainerClock {
  private samples = 0;
  private readonly demuxer: WebmDemuxer | OggDemuxer;

  constructor(container: OpusContainer, hooks: OpusContainerHooks = {}) {
    const packet = (p: Uint8Array) => {
      hooks.packet?.(p);
      this.samples += opusPacketSamples(p);
    };
    const invalid = (message: string, fatal: boolean) => hooks.invalid?.(message, fatal);
    this.demuxer =
      container === 'webm-opus'
        ? new WebmDemuxer({
            track: () => undefined,
            packet,
            invalid,
            ...(hooks.cluster ? { cluster: hooks.cluster } : {}),
            ...(hooks.clusterTimecode ? { clusterTimecode: hooks.clusterTimecode } : {}),
            ...(hooks.block ? { block: hooks.block } : {}),
          })
        : new OggDemuxer({
            head: () => undefined,
            packet,
            invalid,
            ...(hooks.page ? { page: hooks.page } : {}),
          });
  }

  /** Seconds of audio read so far. */
  get seconds(): number {
    return this.samples / 48000;
  }

  /** Reads the next bytes; returns the seconds of audio they completed. */
  write(chunk: Uint8Array): number {
    const before = this.samples;
    this.demuxer.write(chunk);
    return (this.samples - before) / 48000;
  }

  /** End of the stream: reports a stream cut inside an element or page. */
  end(): void {
    this.demuxer.end();
  }
}
