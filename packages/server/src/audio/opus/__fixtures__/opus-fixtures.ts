import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { EarshotError } from '@earshot/protocol';
import type { AudioSink, AudioStage } from '../../audio-stage.js';

const run = promisify(execFile);

/** A real recording (PocketSphinx's own test data, Debian `pocketsphinx`): 7.1 s, 16 kHz mono. */
export const RECORDING =
  '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav';

/** Encoded fixtures made from {@link RECORDING} with FFmpeg, and FFmpeg's decodes of them. */
export interface OpusFixtures {
  readonly dir: string;
  /** WebM/Opus as FFmpeg writes a file (known sizes, SeekHead, Cues). */
  readonly webm: Uint8Array;
  /** The same stream as MediaRecorder writes it: unknown Segment and Cluster sizes, no Cues. */
  readonly liveWebm: Uint8Array;
  readonly ogg: Uint8Array;
  /** FFmpeg's decode of `webm` to PCM16 mono 48 kHz with its own Opus decoder. */
  readonly webmReference: Int16Array;
  readonly oggReference: Int16Array;
  /** FFmpeg's decode of `webm` with libopus: what the in-process decoder must match. */
  readonly webmLibopusReference: Int16Array;
  readonly oggLibopusReference: Int16Array;
  /** Deletes the temporary directory. */
  cleanup(): void;
}

/** Encodes {@link RECORDING} to WebM/Opus and Ogg/Opus (32 kbit/s) and decodes references. */
export async function makeOpusFixtures(): Promise<OpusFixtures> {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-opus-'));
  const encode = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-i',
    RECORDING,
    '-c:a',
    'libopus',
    '-b:a',
    '32k',
  ];
  await run('ffmpeg', [...encode, '-f', 'webm', join(dir, 'out.webm')]);
  await run('ffmpeg', [...encode, '-f', 'ogg', join(dir, 'out.ogg')]);
  // `libopus` selects the decoder the in-process stage wraps: its output must be the same
  // samples. Without it FFmpeg uses its own Opus decoder, what the FFmpeg stage runs.
  const decode = (file: string, out: string, decoder: string[] = []) =>
    run('ffmpeg', [
      ...['-hide_banner', '-loglevel', 'error', '-y', ...decoder, '-i', join(dir, file)],
      ...['-f', 's16le', '-ac', '1', '-ar', '48000', join(dir, out)],
    ]);
  await decode('out.webm', 'webm.raw');
  await decode('out.ogg', 'ogg.raw');
  await decode('out.webm', 'webm-libopus.raw', ['-c:a', 'libopus']);
  await decode('out.ogg', 'ogg-libopus.raw', ['-c:a', 'libopus']);
  const webm = new Uint8Array(readFileSync(join(dir, 'out.webm')));
  return {
    dir,
    webm,
    liveWebm: toLiveWebm(webm),
    ogg: new Uint8Array(readFileSync(join(dir, 'out.ogg'))),
    webmReference: readPcm16(join(dir, 'webm.raw')),
    oggReference: readPcm16(join(dir, 'ogg.raw')),
    webmLibopusReference: readPcm16(join(dir, 'webm-libopus.raw')),
    oggLibopusReference: readPcm16(join(dir, 'ogg-libopus.raw')),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Reads a raw PCM16 little-endian file. */
export function readPcm16(path: string): Int16Array {
  const bytes = readFileSync(path);
  const copy = new Uint8Array(bytes.byteLength & ~1);
  copy.set(bytes.subarray(0, copy.byteLength));
  return new Int16Array(copy.buffer);
}

const UNKNOWN_SIZE = [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff];
const SEGMENT = 0x18538067;
const CLUSTER = 0x1f43b675;
const DROPPED = new Set([0x114d9b74, 0x1c53bb6b, 0xec]); // SeekHead, Cues, Void

/**
 * Rewrites a WebM file the way `MediaRecorder` streams it: the Segment and every Cluster of
 * unknown size (all-ones, 8 bytes), no SeekHead, Cues or Void.
 */
export function toLiveWebm(file: Uint8Array): Uint8Array {
  const out: number[] = [];
  const topLevel = readElements(file, 0, file.byteLength);
  for (const top of topLevel) {
    if (top.id !== SEGMENT) {
      out.push(...file.subarray(top.start, top.end));
      continue;
    }
    out.push(...idBytes(SEGMENT), ...UNKNOWN_SIZE);
    for (const child of readElements(file, top.dataStart, top.end)) {
      if (DROPPED.has(child.id)) continue;
      if (child.id === CLUSTER)
        out.push(
          ...idBytes(CLUSTER),
          ...UNKNOWN_SIZE,
          ...file.subarray(child.dataStart, child.end),
        );
      else out.push(...file.subarray(child.start, child.end));
    }
  }
  return new Uint8Array(out);
}

interface Element {
  id: number;
  start: number;
  dataStart: number;
  end: number;
}

function readElements(file: Uint8Array, from: number, to: number): Element[] {
  const elements: Element[] = [];
  let p = from;
  while (p < to) {
    const start = p;
    const idLength = Math.clz32(file[p]!) - 23;
    let id = 0;
    for (let k = 0; k < idLength; k++) id = id * 256 + file[p + k]!;
    p += idLength;
    const sizeLength = Math.clz32(file[p]!) - 23;
    let size = file[p]! & (0xff >> sizeLength);
    for (let k = 1; k < sizeLength; k++) size = size * 256 + file[p + k]!;
    p += sizeLength;
    elements.push({ id, start, dataStart: p, end: Math.min(p + size, to) });
    p += size;
  }
  return elements;
}

function idBytes(id: number): number[] {
  return [(id >>> 24) & 0xff, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff];
}

/** Splits `bytes` into chunks of 1 byte to `max` bytes, from a seeded generator. */
export function randomChunks(bytes: Uint8Array, seed: number, max = 4096): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let state = seed >>> 0 || 1;
  let at = 0;
  while (at < bytes.byteLength) {
    // xorshift32: reproducible sizes, so a failure can be replayed.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const size = 1 + (state % max);
    chunks.push(bytes.slice(at, at + size));
    at += size;
  }
  return chunks;
}

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
