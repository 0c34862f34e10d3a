import { type OpusHead, parseOpusHead, startsWithAscii } from './opus-head.js';

/** Callbacks of {@link OggDemuxer}. */
export interface OggDemuxerEvents {
  /** The Opus logical stream's `OpusHead` was read (its first packet). */
  head(head: OpusHead): void;
  /** One audio packet of that stream: a view valid only during the call. */
  packet(packet: Uint8Array): void;
  /** Bytes that are not Ogg/Opus. `fatal` when nothing more can be decoded. */
  invalid(message: string, fatal: boolean): void;
  /**
   * A page of the Opus stream (its CRC checked) starts at stream byte `offset`; the packets
   * it completes follow. `continued` when its first piece belongs to the previous page's
   * packet. For a reader that indexes the stream, such as the resilient layer's replay.
   */
  page?(offset: number, continued: boolean): void;
}

/** Options of {@link OggDemuxer}. */
export interface OggDemuxerOptions {
  /** Check each page's CRC-32 and drop pages that fail it. Defaults to `true`. */
  readonly checkCrc?: boolean;
  /** The largest packet assembled across pages; bigger ones are dropped. 1 MiB. */
  readonly maxPacketBytes?: number;
}

const HEADER_BYTES = 27;
const CAPTURE = 0x4f676753; // "OggS"
const FLAG_CONTINUED = 0x01;
const FLAG_BOS = 0x02;
const DEFAULT_MAX_PACKET_BYTES = 1024 * 1024;

type State = 'header' | 'segments' | 'body' | 'resync';

/**
 * A streaming Ogg demuxer for one Opus logical stream (RFC 3533, RFC 7845): pages are read
 * as bytes arrive, split anywhere; their CRC is checked; the segment table's lacing values
 * cut packets, which may span pages. The first logical stream whose first packet is an
 * `OpusHead` is followed; `OpusTags` and other streams are skipped.
 *
 * At most one page (≤ 65 307 bytes) and one packet in assembly (≤ `maxPacketBytes`) are held.
 * A page that is not where one should start, or fails its CRC, is reported once and the
 * reader scans for the next `OggS` capture pattern. It never throws from
 * {@link OggDemuxer.write}.
 *
 * @example
 * ```ts
 * const demuxer = new OggDemuxer({ head, packet: (p) => decoder.decode(p), invalid });
 * demuxer.write(chunk);
 * ```
 */
export class OggDemuxer {
  private state: State = 'header';
  /** Stream offset after the last byte written. */
  private pos = 0;
  private readonly header = new Uint8Array(HEADER_BYTES + 255);
  private headerRead = 0;
  private segmentCount = 0;
  private bodySize = 0;
  private body: Uint8Array | undefined;
  private bodyRead = 0;
  private window = 0;
  private reporting = false;
  private pagesSeen = 0;
  private serial: number | undefined;
  private packetIndex = 0;
  /** The start of a packet that continues on the next page. */
  private partial: Uint8Array[] = [];
  private partialBytes = 0;
  private failed = false;
  /** Stream offset of the current chunk's first byte, and of the page being read. */
  private chunkStart = 0;
  private pageStart = 0;
  private readonly checkCrc: boolean;
  private readonly maxPacketBytes: number;

  constructor(
    private readonly events: OggDemuxerEvents,
    options: OggDemuxerOptions = {},
  ) {
    this.checkCrc = options.checkCrc ?? true;
    this.maxPacketBytes = options.maxPacketBytes ?? DEFAULT_MAX_PACKET_BYTES;
  }

  /** Feeds the next bytes of the stream, split anywhere. */
  write(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.byteLength;
    this.chunkStart = this.pos;
    this.pos += n;
    while (i < n && !this.failed) {
      switch (this.state) {
        case 'header':
        case 'segments': {
          if (this.headerRead === 0) this.pageStart = this.chunkStart + i;
          const need = this.state === 'header' ? HEADER_BYTES : HEADER_BYTES + this.segmentCount;
          const take = Math.min(need - this.headerRead, n - i);
          this.header.set(chunk.subarray(i, i + take), this.headerRead);
          this.headerRead += take;
          i += take;
          if (this.headerRead < need) break;
          if (this.state === 'header') this.headerDone();
          else this.segmentsDone();
          break;
        }
        case 'body': {
          const take = Math.min(this.bodySize - this.bodyRead, n - i);
          if (this.body === undefined && take === this.bodySize) {
            // The whole body is in this chunk: read it in place.
            const view = chunk.subarray(i, i + take);
            i += take;
            this.pageDone(view);
            break;
          }
          this.body ??= new Uint8Array(this.bodySize);
          this.body.set(chunk.subarray(i, i + take), this.bodyRead);
          this.bodyRead += take;
          i += take;
          if (this.bodyRead === this.bodySize) {
            const body = this.body;
            this.body = undefined;
            this.pageDone(body);
          }
          break;
        }
        case 'resync':
          i = this.scan(chunk, i);
          break;
      }
    }
  }

  /** End of the stream: reports a stream cut inside a page or a packet (truncated). */
  end(): void {
    if (this.failed) return;
    if (this.serial === undefined) {
      if (!this.reporting) this.events.invalid('the stream ended before an Ogg/Opus header', true);
      return;
    }
    const insidePage =
      (this.state === 'header' && this.headerRead > 0) ||
      this.state === 'segments' ||
      this.state === 'body';
    if (insidePage || this.partialBytes > 0) {
      this.events.invalid('the Ogg stream is truncated: it ended inside a page or packet', false);
    }
  }

  private headerDone(): void {
    const h = this.header;
    if (readU32be(h, 0) !== CAPTURE || h[4] !== 0) {
      this.garbage();
      return;
    }
    this.segmentCount = h[26]!;
    this.state = 'segments';
    if (this.segmentCount === 0) this.segmentsDone();
  }

  private segmentsDone(): void {
    let size = 0;
    for (let k = 0; k < this.segmentCount; k++) size += this.header[HEADER_BYTES + k]!;
    this.bodySize = size;
    this.bodyRead = 0;
    this.state = 'body';
    if (size === 0) this.pageDone(new Uint8Array(0));
  }

  private pageDone(body: Uint8Array): void {
    this.state = 'header';
    this.headerRead = 0;
    const h = this.header;
    const tableEnd = HEADER_BYTES + this.segmentCount;
    if (this.checkCrc) {
      const stored = readU32le(h, 22);
      // The CRC is computed with its own field as zeros.
      let crc = crc32(0, h, 0, 22);
      crc = crc32(crc, ZEROS, 0, 4);
      crc = crc32(crc, h, 26, tableEnd);
      crc = crc32(crc, body, 0, body.byteLength);
      if (crc !== stored) {
        this.dropPartial();
        this.garbage('an Ogg page failed its CRC check; dropped');
        return;
      }
    }
    this.reporting = false;
    this.pagesSeen++;
    const flags = h[5]!;
    const serial = readU32le(h, 14);
    if (this.serial === undefined) {
      if ((flags & FLAG_BOS) !== 0) {
        const head = parseOpusHead(firstPacket(h, this.segmentCount, body));
        if (head !== undefined) {
          if (head.mappingFamily !== 0 || head.channels > 2) {
            this.fail(
              `Ogg/Opus with ${head.channels} channels (mapping family ${head.mappingFamily}) is not supported; mono or stereo only`,
            );
            return;
          }
          this.serial = serial;
          this.packetIndex = 1;
          this.events.head(head);
        }
        return;
      }
      this.fail(
        this.pagesSeen === 1
          ? 'the Ogg stream does not start with a beginning-of-stream page'
          : 'the Ogg stream carries no Opus (no OpusHead in its first pages)',
      );
      return;
    }
    if (serial !== this.serial) return;
    const continued = (flags & FLAG_CONTINUED) !== 0;
    this.events.page?.(this.pageStart, continued);
    if (!continued) this.dropPartial();
    // A continued page whose start was lost (or dropped): its first packet is useless.
    let skipFirst = continued && this.partialBytes === 0;
    let p = 0;
    let k = 0;
    while (k < this.segmentCount) {
      let size = 0;
      let lacing = 255;
      while (k < this.segmentCount) {
        lacing = h[HEADER_BYTES + k]!;
        k++;
        size += lacing;
        if (lacing < 255) break;
      }
      const piece = body.subarray(p, p + size);
      p += size;
      if (skipFirst) {
        skipFirst = false;
        continue;
      }
      if (lacing === 255) {
        // The packet goes on in the next page (this is always the page's last piece).
        this.keepPartial(piece);
        break;
      }
      if (this.partialBytes > 0) {
        this.keepPartial(piece);
        const whole = joinParts(this.partial, this.partialBytes);
        this.dropPartial();
        if (whole !== undefined) this.deliver(whole);
      } else {
        this.deliver(piece);
      }
    }
  }

  private deliver(packet: Uint8Array): void {
    const index = this.packetIndex++;
    // Packet 1 is OpusTags: metadata, nothing to decode.
    if (index === 1 && startsWithAscii(packet, 'OpusTags')) return;
    if (index <= 1 && startsWithAscii(packet, 'OpusHead')) return;
    this.events.packet(packet);
  }

  private keepPartial(piece: Uint8Array): void {
    if (this.partialBytes + piece.byteLength > this.maxPacketBytes) {
      this.dropPartial();
      this.events.invalid(
        `an Ogg packet is larger than the limit of ${this.maxPacketBytes} bytes; dropped`,
        false,
      );
      return;
    }
    // Copied: the page it came from may be the caller's buffer.
    this.partial.push(piece.slice());
    this.partialBytes += piece.byteLength;
  }

  private dropPartial(): void {
    this.partial = [];
    this.partialBytes = 0;
  }

  private fail(message: string): void {
    this.failed = true;
    this.events.invalid(message, true);
  }

  private garbage(message?: string): void {
    if (!this.reporting) {
      this.reporting = true;
      this.events.invalid(
        message ??
          (this.pagesSeen === 0
            ? 'not an Ogg stream: it does not start with "OggS"; looking for a page'
            : 'bytes between Ogg pages that are not a page; skipping to the next page'),
        false,
      );
    }
    this.dropPartial();
    this.state = 'resync';
    this.headerRead = 0;
    this.body = undefined;
    this.window = 0;
  }

  /** Looks for the next "OggS" from `from`; returns where to go on. */
  private scan(chunk: Uint8Array, from: number): number {
    let w = this.window;
    const n = chunk.byteLength;
    for (let i = from; i < n; i++) {
      w = ((w << 8) | chunk[i]!) >>> 0;
      if (w === CAPTURE) {
        this.window = 0;
        this.pageStart = this.chunkStart + i - 3;
        this.header[0] = 0x4f;
        this.header[1] = 0x67;
        this.header[2] = 0x67;
        this.header[3] = 0x53;
        this.headerRead = 4;
        this.state = 'header';
        return i + 1;
      }
    }
    this.window = w;
    return n;
  }
}

/** The first packet of a page (or its first piece, if it goes on in the next page). */
function firstPacket(header: Uint8Array, segmentCount: number, body: Uint8Array): Uint8Array {
  let size = 0;
  for (let k = 0; k < segmentCount; k++) {
    const lacing = header[HEADER_BYTES + k]!;
    size += lacing;
    if (lacing < 255) break;
  }
  return body.subarray(0, size);
}

function joinParts(parts: Uint8Array[], total: number): Uint8Array | undefined {
  if (parts.length === 1) return parts[0];
  const whole = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    whole.set(part, at);
    at += part.byteLength;
  }
  return whole;
}

function readU32le(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

function readU32be(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

const ZEROS = new Uint8Array(4);

// Ogg's CRC-32: polynomial 0x04c11db7, not reflected, initial value 0, no final XOR.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

function crc32(crc: number, bytes: Uint8Array, from: number, to: number): number {
  let c = crc;
  for (let i = from; i < to; i++)
    c = ((c << 8) ^ CRC_TABLE[((c >>> 24) ^ bytes[i]!) & 0xff]!) >>> 0;
  return c;
}
