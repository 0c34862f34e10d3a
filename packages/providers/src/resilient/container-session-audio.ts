import { type OpusContainer, OpusContainerClock } from '../containers/opus-container-clock.js';
import { ReplayBuffer } from './replay-buffer.js';
import type { Replay, SessionAudio } from './session-audio.js';

/** A point a replay may start from: a WebM block or an Ogg page that starts a packet. */
interface ReplayPoint {
  /** Stream byte offset of the block (or its BlockGroup) or page. */
  readonly offset: number;
  /** Session seconds of audio before it. */
  readonly seconds: number;
  /** When the chunk holding its first byte arrived (ms). */
  readonly wallMs: number;
  /** WebM: the `Timecode` element of the Cluster it is in, to open a cluster before it. */
  readonly clusterTimecode?: Uint8Array;
}

// Opus's 510 kbit/s ceiling: the most bytes a second of Opus audio can take, to bound the buffer.
const MAX_OPUS_BYTES_PER_SECOND = 64_000;
// A header (EBML, Segment head, Tracks; or OpusHead and OpusTags pages) beyond this is not one.
const MAX_HEADER_BYTES = 256 * 1024;
const ID_CLUSTER = [0x1f, 0x43, 0xb6, 0x75];
// A size of all ones: "unknown", so a cluster (or segment) ends where the next one begins.
const UNKNOWN_SIZE = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

/**
 * Keeps WebM/Opus or Ogg/Opus session audio for replay. The container is read as it arrives
 * (the audio pipeline's demuxers, through {@link OpusContainerClock}) to time it by its Opus
 * packets and to index its header and replay points. A replay is the header, then the stream
 * from the last block (WebM,
 * behind a rebuilt Cluster head carrying the original timecode, so the blocks that follow
 * keep theirs) or page (Ogg) at or before the point asked for: a new upstream decodes it as a
 * fresh stream. Times are the sum of packet durations (Opus pre-skip, ~6 ms, is not taken off).
 */
export class ContainerSessionAudio implements SessionAudio {
  private readonly buffer: ReplayBuffer;
  private readonly clock: OpusContainerClock;
  private points: ReplayPoint[] = [];
  private wallMs = 0;
  /** Bytes of the stream until its header is known to end; then the header itself. */
  private headerParts: Uint8Array[] | undefined = [];
  private headerBytes = 0;
  private header: Uint8Array | undefined;
  private clusterTimecode: Uint8Array | undefined;
  /** Ogg: the page being read, a replay point once it delivers a packet. */
  private page: { offset: number; continued: boolean } | undefined;

  constructor(container: OpusContainer, maxSeconds: number) {
    this.buffer = new ReplayBuffer(Math.ceil(maxSeconds * MAX_OPUS_BYTES_PER_SECOND));
    // Bad bytes are the pipeline's to report; here they only cost replay points.
    this.clock = new OpusContainerClock(container, {
      cluster: (offset) => {
        this.headerEndsAt(offset);
        this.clusterTimecode = undefined;
      },
      clusterTimecode: (element) => {
        this.clusterTimecode = element;
      },
      block: (offset) => {
        if (this.clusterTimecode) this.addPoint(offset, this.clusterTimecode);
      },
      page: (offset, continued) => {
        this.page = { offset, continued };
      },
      packet: () => {
        // Ogg: a page that starts with a packet of its own is where a replay may start.
        const page = this.page;
        this.page = undefined;
        if (page === undefined || page.continued) return;
        this.headerEndsAt(page.offset);
        this.addPoint(page.offset);
      },
    });
  }

  get seconds(): number {
    return this.clock.seconds;
  }

  push(chunk: Uint8Array, wallMs: number): number {
    this.wallMs = wallMs;
    this.keepForHeader(chunk);
    this.buffer.push(chunk, wallMs);
    return this.clock.write(chunk);
  }

  replay(from: number): Replay {
    const point = this.pointAt(from);
    const head = this.header ?? new Uint8Array(0);
    if (point === undefined) {
      // No block or page yet: the stream so far, which is (the start of) its header.
      const { chunks } = this.buffer.from(0);
      return { start: 0, chunks, seconds: 0 };
    }
    const { chunks } = this.buffer.from(point.offset);
    const lead = point.clusterTimecode
      ? [head, Uint8Array.from([...ID_CLUSTER, ...UNKNOWN_SIZE]), point.clusterTimecode]
      : [head];
    return {
      start: point.seconds,
      chunks: [...lead, ...chunks],
      seconds: this.seconds - point.seconds,
    };
  }

  trimBefore(seconds: number): void {
    const point = this.pointAt(seconds);
    if (point === undefined) return;
    this.points = this.points.filter((p) => p.offset >= point.offset);
    this.buffer.trimBefore(point.offset);
  }

  wallTimeOf(seconds: number): number | undefined {
    return this.pointAt(seconds)?.wallMs;
  }

  silence(): undefined {
    return undefined;
  }

  /** The last replay point at or before `seconds` still held, else the oldest held. */
  private pointAt(seconds: number): ReplayPoint | undefined {
    const held = this.buffer.oldest;
    let found: ReplayPoint | undefined;
    for (const p of this.points) {
      if (p.offset < held) continue;
      if (found !== undefined && p.seconds > seconds) break;
      found = p;
    }
    return found;
  }

  private addPoint(offset: number, clusterTimecode?: Uint8Array): void {
    this.points.push({
      offset,
      seconds: this.clock.seconds,
      wallMs: this.wallMs,
      ...(clusterTimecode ? { clusterTimecode } : {}),
    });
  }

  /** Holds the stream's first bytes until the header's end is known. */
  private keepForHeader(chunk: Uint8Array): void {
    if (this.headerParts === undefined) return;
    if (this.headerBytes > MAX_HEADER_BYTES) {
      this.headerParts = undefined; // not a header: replays go without one
      return;
    }
    this.headerParts.push(chunk);
    this.headerBytes += chunk.byteLength;
  }

  /** The header is the stream's bytes before `offset` (its first cluster or audio page). */
  private headerEndsAt(offset: number): void {
    if (this.headerParts === undefined || this.header !== undefined) return;
    const all = new Uint8Array(this.headerBytes);
    let at = 0;
    for (const part of this.headerParts) {
      all.set(part, at);
      at += part.byteLength;
    }
    this.header = all.slice(0, offset);
    this.headerParts = undefined;
    unknownSegmentSize(this.header);
  }
}

/**
 * Marks a WebM header's Segment size unknown, in place (same length): a file's Segment states
 * the whole file's size, which a replay that starts later would contradict.
 */
function unknownSegmentSize(header: Uint8Array): void {
  // EBML head: 4-byte ID, a size, its body; then the Segment's 4-byte ID and its size.
  if (header[0] !== 0x1a || header[1] !== 0x45) return;
  const ebml = readVint(header, 4);
  if (ebml === undefined) return;
  const sizeAt = 4 + ebml.length + ebml.value + 4;
  const size = readVint(header, sizeAt);
  if (size === undefined || sizeAt + size.length > header.byteLength) return;
  // The length marker bit and every value bit set.
  header[sizeAt] = 0xff >> (size.length - 1);
  for (let i = 1; i < size.length; i++) header[sizeAt + i] = 0xff;
}

/** An EBML variable-length integer at `at`: its value and length in bytes. */
function readVint(bytes: Uint8Array, at: number): { value: number; length: number } | undefined {
  const first = bytes[at];
  if (first === undefined || first === 0) return undefined;
  const length = Math.clz32(first) - 23;
  let value = first & (0xff >> length);
  for (let i = 1; i < length; i++) value = value * 256 + (bytes[at + i] ?? 0);
  return { value, length };
}
