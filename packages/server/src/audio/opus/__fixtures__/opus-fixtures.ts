import type { EarshotError } from '@earshot/protocol';
import type { AudioSink, AudioStage } from '../../audio-stage.js';

// The encoded fixtures themselves live in @earshot/testing (the resilient layer's container
// replay tests use them too); the sink below is the audio pipeline's own.
export {
  makeOpusFixtures,
  OPUS_FIXTURE_RECORDING as RECORDING,
  type OpusFixtures,
  randomChunks,
  readPcm16,
  toLiveWebm,
} from '@earshot/testing';

/** A sink that keeps everything, with a way to wait for errors. */
export interface CollectingSink extends AudioSink {
  readonly errors: EarshotError[];
  /** Output so far, joined, as samples. */
  samples(): Int16Array;
  /** Bytes received so far. */
  readonly bytes: number;
  /** Resolves at the next error (or at once if `count` errors are already in). */
  nextError(count?: number): Promise<EarshotError>;
  /** Resolves once at least `bytes` of output have arrived. */
  outputReaches(bytes: number): Promise<void>;
}

/** Builds a {@link CollectingSink}. */
export function collectingSink(): CollectingSink {
  const chunks: Uint8Array[] = [];
  const errors: EarshotError[] = [];
  let bytes = 0;
  let errorWaiters: { count: number; resolve: (e: EarshotError) => void }[] = [];
  let byteWaiters: { bytes: number; resolve: () => void }[] = [];
  return {
    errors,
    get bytes() {
      return bytes;
    },
    data(chunk) {
      chunks.push(chunk.slice());
      bytes += chunk.byteLength;
      const ready = byteWaiters.filter((w) => bytes >= w.bytes);
      byteWaiters = byteWaiters.filter((w) => bytes < w.bytes);
      for (const w of ready) w.resolve();
    },
    error(error) {
      errors.push(error);
      const ready = errorWaiters.filter((w) => errors.length >= w.count);
      errorWaiters = errorWaiters.filter((w) => errors.length < w.count);
      for (const w of ready) w.resolve(errors[w.count - 1]!);
    },
    samples() {
      const all = new Uint8Array(bytes & ~1);
      let at = 0;
      for (const c of chunks) {
        const take = Math.min(c.byteLength, all.byteLength - at);
        all.set(c.subarray(0, take), at);
        at += take;
      }
      return new Int16Array(all.buffer);
    },
    nextError(count = errors.length + 1) {
      if (errors.length >= count) return Promise.resolve(errors[count - 1]!);
      return new Promise((resolve) => errorWaiters.push({ count, resolve }));
    },
    outputReaches(target) {
      if (bytes >= target) return Promise.resolve();
      return new Promise((resolve) => byteWaiters.push({ bytes: target, resolve }));
    },
  };
}

/**
 * Signal-to-noise ratio of `actual` against `reference` in dB, at the best alignment within
 * ±`maxLag` samples (decoders may differ by a pre-skip), over their common length.
 */
export function snrDb(reference: Int16Array, actual: Int16Array, maxLag = 1000): number {
  let best = Number.NEGATIVE_INFINITY;
  for (let lag = -maxLag; lag <= maxLag; lag += 1) {
    const start = Math.max(0, -lag);
    const end = Math.min(reference.length, actual.length - lag);
    if (end - start < 1000) continue;
    let signal = 0;
    let noise = 0;
    for (let i = start; i < end; i += 4) {
      const r = reference[i]!;
      const d = r - actual[i + lag]!;
      signal += r * r;
      noise += d * d;
    }
    const snr = noise === 0 ? 200 : 10 * Math.log10(signal / noise);
    if (snr > best) best = snr;
  }
  return best;
}

/** Where `pattern` first occurs in `bytes` from `from`, or -1. */
export function indexOf(bytes: Uint8Array, pattern: number[], from = 0): number {
  outer: for (let i = from; i + pattern.length <= bytes.byteLength; i++) {
    for (let k = 0; k < pattern.length; k++) if (bytes[i + k] !== pattern[k]) continue outer;
    return i;
  }
  return -1;
}

/** Every offset where `pattern` occurs. */
export function allIndexesOf(bytes: Uint8Array, pattern: number[]): number[] {
  const found: number[] = [];
  for (let i = indexOf(bytes, pattern); i >= 0; i = indexOf(bytes, pattern, i + 1)) found.push(i);
  return found;
}

/** `parts` joined. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Seeded random bytes. */
export function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** Feeds `chunks` through a fresh stage made by `make`, ends and destroys it, and returns what it emitted. */
export async function decodeWith(
  make: (sink: AudioSink) => AudioStage,
  chunks: readonly Uint8Array[],
): Promise<CollectingSink> {
  const sink = collectingSink();
  const stage = make(sink);
  for (const chunk of chunks) stage.write(chunk);
  await stage.end();
  stage.destroy();
  return sink;
}
