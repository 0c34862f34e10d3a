/**
 * ITU-T G.711 μ-law and A-law, to and from signed 16-bit PCM.
 *
 * Decoding is one lookup in a 256-entry table. Encoding is one lookup in a table indexed by
 * the PCM sample with its low bits dropped (14 bits for μ-law, 13 for A-law), because G.711
 * never looks at those bits; the tables are filled on first use, so importing this module
 * costs nothing. The values are those of the reference implementation that ships with the
 * ITU-T Software Tools Library (Sun's `g711.c`), bit for bit.
 */

// Decode tables: one Int16 per code byte.
const MULAW_DECODE = new Int16Array(256);
const ALAW_DECODE = new Int16Array(256);
for (let code = 0; code < 256; code++) {
  MULAW_DECODE[code] = mulawToLinear(code);
  ALAW_DECODE[code] = alawToLinear(code);
}

// Encode tables, built on the first encode (most sessions only ever decode).
let mulawEncode: Uint8Array | undefined;
let alawEncode: Uint8Array | undefined;

function mulawToLinear(code: number): number {
  const u = ~code & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return u & 0x80 ? 0x84 - t : t - 0x84;
}

function alawToLinear(code: number): number {
  const a = code ^ 0x55;
  const segment = (a & 0x70) >> 4;
  let t = (a & 0x0f) << 4;
  if (segment === 0) t += 8;
  else if (segment === 1) t += 0x108;
  else t = (t + 0x108) << (segment - 1);
  return a & 0x80 ? t : -t;
}

// The segment of a magnitude: the index of the first end point it does not exceed (8 when
// it exceeds them all).
function segmentOf(value: number, ends: readonly number[]): number {
  let segment = 0;
  while (segment < ends.length && value > ends[segment]!) segment++;
  return segment;
}

const MULAW_SEGMENT_ENDS = [0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff, 0x1fff];
const ALAW_SEGMENT_ENDS = [0x1f, 0x3f, 0x7f, 0xff, 0x1ff, 0x3ff, 0x7ff, 0xfff];

// `pcm` is a 16-bit sample; μ-law codes its top 14 bits.
function linearToMulaw(pcm: number): number {
  let value = pcm >> 2;
  let mask: number;
  if (value < 0) {
    value = -value;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (value > 8159) value = 8159;
  value += 0x84 >> 2;
  const segment = segmentOf(value, MULAW_SEGMENT_ENDS);
  if (segment >= 8) return 0x7f ^ mask;
  return ((segment << 4) | ((value >> (segment + 1)) & 0x0f)) ^ mask;
}

// `pcm` is a 16-bit sample; A-law codes its top 13 bits.
function linearToAlaw(pcm: number): number {
  let value = pcm >> 3;
  let mask: number;
  if (value >= 0) {
    mask = 0xd5;
  } else {
    mask = 0x55;
    value = -value - 1;
  }
  const segment = segmentOf(value, ALAW_SEGMENT_ENDS);
  if (segment >= 8) return 0x7f ^ mask;
  const quantized = segment < 2 ? (value >> 1) & 0x0f : (value >> segment) & 0x0f;
  return ((segment << 4) | quantized) ^ mask;
}

function buildMulawEncode(): Uint8Array {
  // Index: the sample's top 14 bits as an unsigned number (two's complement wraps).
  const table = new Uint8Array(1 << 14);
  for (let index = 0; index < table.length; index++) {
    table[index] = linearToMulaw(((index << 18) >> 16) | 0);
  }
  return table;
}

function buildAlawEncode(): Uint8Array {
  const table = new Uint8Array(1 << 13);
  for (let index = 0; index < table.length; index++) {
    table[index] = linearToAlaw(((index << 19) >> 16) | 0);
  }
  return table;
}

function outputFor<T extends Int16Array | Uint8Array>(
  out: T | undefined,
  length: number,
  make: (length: number) => T,
): T {
  if (out === undefined) return make(length);
  if (out.length < length) {
    throw new RangeError(`output holds ${out.length} samples, ${length} are needed`);
  }
  return out.length === length ? out : (out.subarray(0, length) as T);
}

const newInt16 = (length: number) => new Int16Array(length);
const newUint8 = (length: number) => new Uint8Array(length);

/**
 * Decodes G.711 μ-law bytes (one sample each) to PCM16 samples.
 *
 * @param bytes μ-law codes, one per sample.
 * @param out where to write, at least `bytes.length` long; a new array when omitted.
 * @returns the decoded samples: `out` itself, a view of its start, or a new array.
 * @throws RangeError when `out` is too short.
 *
 * @example
 * ```ts
 * decodeMulaw(new Uint8Array([0xff, 0x00])); // Int16Array [0, -32124]
 * ```
 */
export function decodeMulaw(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const target = outputFor(out, bytes.length, newInt16);
  const table = MULAW_DECODE;
  for (let i = 0; i < bytes.length; i++) target[i] = table[bytes[i]!]!;
  return target;
}

/**
 * Decodes G.711 A-law bytes (one sample each) to PCM16 samples.
 *
 * @param bytes A-law codes, one per sample.
 * @param out where to write, at least `bytes.length` long; a new array when omitted.
 * @returns the decoded samples: `out` itself, a view of its start, or a new array.
 * @throws RangeError when `out` is too short.
 */
export function decodeAlaw(bytes: Uint8Array, out?: Int16Array): Int16Array {
  const target = outputFor(out, bytes.length, newInt16);
  const table = ALAW_DECODE;
  for (let i = 0; i < bytes.length; i++) target[i] = table[bytes[i]!]!;
  return target;
}

/**
 * Encodes PCM16 samples to G.711 μ-law, one byte per sample. Magnitudes beyond μ-law's range
 * (±32124) saturate.
 *
 * @param samples PCM16 samples.
 * @param out where to write, at least `samples.length` long; a new array when omitted.
 * @returns the codes: `out` itself, a view of its start, or a new array.
 * @throws RangeError when `out` is too short.
 */
export function encodeMulaw(samples: Int16Array, out?: Uint8Array): Uint8Array {
  const target = outputFor(out, samples.length, newUint8);
  mulawEncode ??= buildMulawEncode();
  const table = mulawEncode;
  for (let i = 0; i < samples.length; i++) target[i] = table[(samples[i]! >> 2) & 0x3fff]!;
  return target;
}

/**
 * Encodes PCM16 samples to G.711 A-law, one byte per sample.
 *
 * @param samples PCM16 samples.
 * @param out where to write, at least `samples.length` long; a new array when omitted.
 * @returns the codes: `out` itself, a view of its start, or a new array.
 * @throws RangeError when `out` is too short.
 */
export function encodeAlaw(samples: Int16Array, out?: Uint8Array): Uint8Array {
  const target = outputFor(out, samples.length, newUint8);
  alawEncode ??= buildAlawEncode();
  const table = alawEncode;
  for (let i = 0; i < samples.length; i++) target[i] = table[(samples[i]! >> 3) & 0x1fff]!;
  return target;
}
