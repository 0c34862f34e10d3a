import fc from 'fast-check';

// Minimal Ogg/Opus and WebM/Opus muxers for the fuzz tests: a stream built here from random
// packets must demux to exactly those packets, and its bytes are the raw material that
// mutations turn into almost-valid containers (what a broken MediaRecorder or a hostile
// client sends). Only what the demuxers read is written.

/** An `OpusHead` (RFC 7845 §5.1): version 1, mapping family 0. */
export function opusHead(channels = 1, preSkip = 312): Uint8Array {
  const head = Buffer.alloc(19);
  head.write('OpusHead', 0, 'latin1');
  head[8] = 1;
  head[9] = channels;
  head.writeUInt16LE(preSkip, 10);
  head.writeUInt32LE(48000, 12);
  return head;
}

// Ogg's CRC-32 (RFC 3533): polynomial 0x04c11db7, not reflected, initial 0, no final XOR.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let r = i << 24;
    for (let k = 0; k < 8; k++) r = r & 0x80000000 ? (r << 1) ^ 0x04c11db7 : r << 1;
    table[i] = r >>> 0;
  }
  return table;
})();

function oggCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) crc = ((crc << 8) ^ CRC_TABLE[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
  return crc;
}

function oggPage(packets: readonly Uint8Array[], flags: number, serial: number, seq: number) {
  const lacing: number[] = [];
  for (const packet of packets) {
    for (let left = packet.byteLength; ; left -= 255) {
      lacing.push(Math.min(left, 255));
      if (left < 255) break;
    }
  }
  const header = Buffer.alloc(27 + lacing.length);
  header.write('OggS', 0, 'latin1');
  header[5] = flags;
  header.writeUInt32LE(serial, 14);
  header.writeUInt32LE(seq, 18);
  header[26] = lacing.length;
  Buffer.from(lacing).copy(header, 27);
  const page = Buffer.concat([header, ...packets]);
  page.writeUInt32LE(oggCrc(page), 22);
  return page;
}

/**
 * An Ogg/Opus stream: a BOS page with the `OpusHead`, a page with `OpusTags`, then the audio
 * packets, a few to a page (each page's lacing table stays within 255 entries).
 */
export function oggOpus(packets: readonly Uint8Array[], serial = 0x5eed): Uint8Array {
  const pages = [
    oggPage([opusHead()], 0x02, serial, 0),
    oggPage([Buffer.from('OpusTags\0\0\0\0\0\0\0\0', 'latin1')], 0, serial, 1),
  ];
  let page: Uint8Array[] = [];
  let segments = 0;
  for (const packet of packets) {
    const needs = Math.floor(packet.byteLength / 255) + 1;
    if (segments + needs > 255) {
      pages.push(oggPage(page, 0, serial, pages.length));
      page = [];
      segments = 0;
    }
    page.push(packet);
    segments += needs;
  }
  if (page.length > 0) pages.push(oggPage(page, 0x04, serial, pages.length));
  return Buffer.concat(pages);
}

/** An EBML variable-size integer of `value` (sizes up to 2^56 - 2). */
function vint(value: number): Buffer {
  for (let length = 1; length <= 8; length++) {
    if (value < 2 ** (7 * length) - 1) {
      const out = Buffer.alloc(length);
      let v = value;
      for (let i = length - 1; i >= 0; i--) {
        out[i] = v % 256;
        v = Math.floor(v / 256);
      }
      out[0]! |= 0x80 >> (length - 1);
      return out;
    }
  }
  throw new RangeError(`${value} is too large for an EBML size`);
}

const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

function element(id: number, ...body: Uint8Array[]): Buffer {
  const data = Buffer.concat(body);
  const idBytes = Buffer.from(
    id
      .toString(16)
      .padStart(2, '0')
      .match(/../g)!
      .map((h) => parseInt(h, 16)),
  );
  return Buffer.concat([idBytes, vint(data.byteLength), data]);
}

function uint(value: number): Buffer {
  return Buffer.from([value]);
}

/**
 * A WebM/Opus stream as `MediaRecorder` writes it: an EBML header, a Segment and Clusters of
 * unknown size, one Opus track (number 1), each packet a SimpleBlock, `perCluster` to a
 * Cluster.
 */
export function webmOpus(packets: readonly Uint8Array[], perCluster = 8): Uint8Array {
  const float48k = Buffer.alloc(8);
  float48k.writeDoubleBE(48000);
  const parts: Uint8Array[] = [
    element(0x1a45dfa3, element(0x4282, Buffer.from('webm'))),
    Buffer.from([0x18, 0x53, 0x80, 0x67]),
    UNKNOWN_SIZE,
    element(
      0x1654ae6b,
      element(
        0xae,
        element(0xd7, uint(1)),
        element(0x83, uint(2)),
        element(0x86, Buffer.from('A_OPUS')),
        element(0x63a2, opusHead()),
        element(0xe1, element(0x9f, uint(1)), element(0xb5, float48k)),
      ),
    ),
  ];
  for (let i = 0; i < packets.length; i += perCluster) {
    parts.push(Buffer.from([0x1f, 0x43, 0xb6, 0x75]), UNKNOWN_SIZE, element(0xe7, uint(0)));
    for (const packet of packets.slice(i, i + perCluster)) {
      // Track 1, relative timecode 0, keyframe, no lacing.
      parts.push(element(0xa3, Buffer.from([0x81, 0x00, 0x00, 0x80]), packet));
    }
  }
  return Buffer.concat(parts);
}

/** Opus-looking packets: a TOC byte and random frames (libopus decodes or refuses them). */
export const opusPacketsArb = fc.array(fc.uint8Array({ minLength: 1, maxLength: 400 }), {
  minLength: 1,
  maxLength: 12,
});

/** Cut `bytes` into chunks at the given points (wrapped into range), as a socket may. */
export function splitAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.byteLength]) {
    if (point > from) chunks.push(bytes.subarray(from, point));
    from = Math.max(from, point);
  }
  return chunks;
}

/** One corruption of a byte stream. */
export type ByteEdit =
  | { kind: 'overwrite'; at: number; value: number }
  | { kind: 'cut'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'repeat'; at: number; length: number }
  | { kind: 'huge-size'; at: number };

export const byteEditArb: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant('overwrite' as const), at: fc.nat(), value: fc.nat(255) }),
  fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant('repeat' as const), at: fc.nat(), length: fc.nat(64) }),
  // An EBML size or Ogg length that claims far more than follows.
  fc.record({ kind: fc.constant('huge-size' as const), at: fc.nat() }),
);

export function applyByteEdits(bytes: Uint8Array, edits: readonly ByteEdit[]): Uint8Array {
  let out = Buffer.from(bytes);
  for (const edit of edits) {
    const at = out.byteLength === 0 ? 0 : edit.at % out.byteLength;
    switch (edit.kind) {
      case 'overwrite':
        if (out.byteLength > 0) out[at] = edit.value;
        break;
      case 'cut':
        out = out.subarray(0, at);
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), edit.bytes, out.subarray(at)]);
        break;
      case 'repeat':
        out = Buffer.concat([out.subarray(0, at + edit.length), out.subarray(at)]);
        break;
      case 'huge-size':
        out = Buffer.concat([
          out.subarray(0, at),
          Buffer.from([0x01, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
          out.subarray(Math.min(out.byteLength, at + 8)),
        ]);
        break;
    }
  }
  return out;
}
