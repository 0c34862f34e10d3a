// Opus packet facts every container reader needs (RFC 6716 §3.1, RFC 7845 §5.1).

/**
 * What an Opus stream's identification header (`OpusHead`, RFC 7845 §5.1) says: the part a
 * decoder needs. Ogg carries it as the first packet; WebM as the track's `CodecPrivate`.
 */
export interface OpusHead {
  /** Channels coded in the stream, 1–255 (Earshot decodes 1 or 2). */
  readonly channels: number;
  /** Samples at 48 kHz to drop from the start: the encoder's look-ahead. */
  readonly preSkip: number;
  /** The rate of the audio before encoding; informational only (Opus decodes at 48 kHz). */
  readonly inputSampleRate: number;
  /** Gain to apply on output, in dB (Q7.8 in the header). */
  readonly outputGainDb: number;
  /** 0 for mono/stereo; anything else is a multistream layout. */
  readonly mappingFamily: number;
}

/**
 * Reads an `OpusHead` packet, or returns `undefined` when `bytes` is not one.
 *
 * @example
 * ```ts
 * const head = parseOpusHead(firstOggPacket); // { channels: 1, preSkip: 312, … }
 * ```
 */
export function parseOpusHead(bytes: Uint8Array): OpusHead | undefined {
  if (bytes.byteLength < 19 || !startsWithAscii(bytes, 'OpusHead')) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint8(8);
  // RFC 7845: a major version other than 0 (upper nibble) is an incompatible stream.
  if (version >> 4 !== 0) return undefined;
  const channels = view.getUint8(9);
  if (channels === 0) return undefined;
  return {
    channels,
    preSkip: view.getUint16(10, true),
    inputSampleRate: view.getUint32(12, true),
    outputGainDb: view.getInt16(16, true) / 256,
    mappingFamily: view.getUint8(18),
  };
}

/** Whether `bytes` begins with the ASCII text `magic`. */
export function startsWithAscii(bytes: Uint8Array, magic: string): boolean {
  if (bytes.byteLength < magic.length) return false;
  for (let i = 0; i < magic.length; i++) if (bytes[i] !== magic.charCodeAt(i)) return false;
  return true;
}

/** Samples at 48 kHz in each frame, by the TOC byte's configuration number (RFC 6716 §3.1). */
function frameSamples(config: number): number {
  if (config < 12) return [480, 960, 1920, 2880][config % 4]!; // SILK: 10, 20, 40, 60 ms
  if (config < 16) return [480, 960][config % 2]!; // Hybrid: 10, 20 ms
  return [120, 240, 480, 960][config % 4]!; // CELT: 2.5, 5, 10, 20 ms
}

/**
 * The samples at 48 kHz one Opus packet decodes to, read from its TOC byte (and frame count
 * byte): how long it plays without decoding it. 0 for an empty or malformed packet.
 *
 * @example
 * ```ts
 * opusPacketSamples(packet) / 48000; // 0.02 for a 20 ms packet
 * ```
 */
export function opusPacketSamples(packet: Uint8Array): number {
  const toc = packet[0];
  if (toc === undefined) return 0;
  const code = toc & 3;
  const frames = code === 0 ? 1 : code < 3 ? 2 : (packet[1] ?? 0) & 0x3f;
  return frames * frameSamples(toc >> 3);
}
