/**
 * Signed 16-bit little-endian PCM: bytes ↔ samples, framing of arbitrary chunks, and channel
 * mixing. Views are preferred over copies: a chunk whose byte offset is even is read in place.
 */
import { EarshotError } from '@earshot/protocol';

// Typed arrays use the platform's byte order; PCM16 on the wire is little-endian. Every
// platform Node ships for is little-endian today, but a big-endian one must not get noise.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const EMPTY = new Int16Array(0);

function swapBytes(samples: Int16Array): void {
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    samples[i] = ((s & 0xff) << 8) | ((s >> 8) & 0xff);
  }
}

// A copy into fresh, aligned memory, in platform order.
function copySamples(bytes: Uint8Array): Int16Array {
  const samples = new Int16Array(bytes.length >> 1);
  new Uint8Array(samples.buffer).set(bytes);
  if (!LITTLE_ENDIAN) swapBytes(samples);
  return samples;
}

/**
 * Reads little-endian PCM16 bytes as samples. The result is a view of `bytes` (no copy) when
 * their byte offset is even; otherwise (a Node `Buffer` from a pool may start anywhere) a copy.
 * Either way, do not write to the result if `bytes` must stay as it was.
 *
 * @throws EarshotError `invalid_audio` when the byte count is odd: use {@link Pcm16Framer}
 * for chunks that may split a sample.
 *
 * @example
 * ```ts
 * pcm16FromBytes(new Uint8Array([0x01, 0x00, 0xff, 0xff])); // Int16Array [1, -1]
 * ```
 */
export function pcm16FromBytes(bytes: Uint8Array): Int16Array {
  if (bytes.length % 2 !== 0) {
    throw new EarshotError('invalid_audio', `PCM16 needs an even byte count, got ${bytes.length}`);
  }
  if (bytes.length === 0) return EMPTY;
  if (LITTLE_ENDIAN && bytes.byteOffset % 2 === 0) {
    return new Int16Array(bytes.buffer, bytes.byteOffset, bytes.length >> 1);
  }
  return copySamples(bytes);
}

/**
 * The little-endian bytes of PCM16 samples: a view of the same memory (a copy only on a
 * big-endian platform).
 */
export function pcm16ToBytes(samples: Int16Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  const swapped = Int16Array.from(samples);
  swapBytes(swapped);
  return new Uint8Array(swapped.buffer);
}

/**
 * Cuts a stream of PCM16 bytes, arriving in chunks split anywhere, into whole frames (one
 * sample per channel, interleaved). The 1–3 bytes of a frame cut by a chunk boundary are held
 * until the next chunk completes it.
 *
 * A chunk that starts on a frame boundary at an even byte offset is returned as a view of
 * itself; only chunks that complete a held frame, or sit at an odd offset, are copied.
 *
 * @example
 * ```ts
 * const framer = new Pcm16Framer(1);
 * framer.push(new Uint8Array([0x01, 0x00, 0x02])); // Int16Array [1], holds 0x02
 * framer.push(new Uint8Array([0x00]));             // Int16Array [2]
 * ```
 */
export class Pcm16Framer {
  /** Bytes in one frame: 2 per channel. */
  readonly frameBytes: number;
  private readonly held = new Uint8Array(4);
  private heldLength = 0;

  /** @param channels 1 (mono) or 2 (stereo, interleaved). */
  constructor(readonly channels: 1 | 2 = 1) {
    if (channels !== 1 && channels !== 2) {
      throw new EarshotError('unsupported_audio_format', `PCM16 with ${channels} channels`);
    }
    this.frameBytes = 2 * channels;
  }

  /** Bytes held back from the last chunk: part of a frame, waiting for the rest. */
  get pendingBytes(): number {
    return this.heldLength;
  }

  /**
   * Takes the next chunk and returns every whole frame now complete, as interleaved samples
   * (possibly none). The result may view `chunk`'s memory.
   */
  push(chunk: Uint8Array): Int16Array {
    const frameBytes = this.frameBytes;
    const held = this.heldLength;
    const total = held + chunk.length;
    const usable = total - (total % frameBytes);
    const rest = total - usable;

    if (held === 0) {
      const samples =
        usable === 0
          ? EMPTY
          : pcm16FromBytes(usable === chunk.length ? chunk : chunk.subarray(0, usable));
      if (rest > 0) this.held.set(chunk.subarray(usable));
      this.heldLength = rest;
      return samples;
    }

    if (usable === 0) {
      this.held.set(chunk, held);
      this.heldLength = total;
      return EMPTY;
    }

    // A frame straddles the boundary: the only case that has to copy.
    const samples = new Int16Array(usable >> 1);
    const bytes = new Uint8Array(samples.buffer);
    bytes.set(this.held.subarray(0, held));
    bytes.set(chunk.subarray(0, usable - held), held);
    if (!LITTLE_ENDIAN) swapBytes(samples);
    if (rest > 0) this.held.set(chunk.subarray(chunk.length - rest));
    this.heldLength = rest;
    return samples;
  }

  /**
   * Forgets the held bytes (at the end of a stream, where they cannot become a frame) and
   * returns how many there were, so the caller can report them as `invalid_audio`.
   */
  reset(): number {
    const dropped = this.heldLength;
    this.heldLength = 0;
    return dropped;
  }
}

/**
 * Mixes interleaved stereo down to mono: the mean of left and right, rounded half to even so
 * the mix adds no DC offset, and computed in 32-bit integers so it cannot overflow.
 *
 * @param interleaved L, R, L, R… samples; an even count.
 * @param out where to write, at least half as long; a new array when omitted.
 * @returns the mono samples: `out` itself, a view of its start, or a new array.
 * @throws EarshotError `invalid_audio` when the sample count is odd (a frame is cut).
 */
export function downmixStereo(interleaved: Int16Array, out?: Int16Array): Int16Array {
  if (interleaved.length % 2 !== 0) {
    throw new EarshotError('invalid_audio', 'stereo PCM16 needs whole frames (an even count)');
  }
  const frames = interleaved.length >> 1;
  const target = sized(out, frames);
  for (let i = 0, j = 0; i < frames; i++, j += 2) {
    const sum = interleaved[j]! + interleaved[j + 1]!;
    // floor(sum / 2), plus one when the half is exact and the floor is odd.
    target[i] = (sum >> 1) + (sum & (sum >> 1) & 1);
  }
  return target;
}

/**
 * Duplicates mono samples into interleaved stereo (L = R).
 *
 * @param mono samples of one channel.
 * @param out where to write, at least twice as long; a new array when omitted.
 * @returns the stereo samples: `out` itself, a view of its start, or a new array.
 */
export function upmixMono(mono: Int16Array, out?: Int16Array): Int16Array {
  const target = sized(out, mono.length * 2);
  for (let i = 0, j = 0; i < mono.length; i++, j += 2) {
    const s = mono[i]!;
    target[j] = s;
    target[j + 1] = s;
  }
  return target;
}

function sized(out: Int16Array | undefined, length: number): Int16Array {
  if (out === undefined) return new Int16Array(length);
  if (out.length < length) {
    throw new RangeError(`output holds ${out.length} samples, ${length} are needed`);
  }
  return out.length === length ? out : out.subarray(0, length);
}
