import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** A real recording for Opus fixtures (PocketSphinx's own test data, Debian `pocketsphinx`): 7.1 s, 16 kHz mono. */
export const OPUS_FIXTURE_RECORDING =
  '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav';

/** Encoded fixtures made from {@link OPUS_FIXTURE_RECORDING} with FFmpeg, and FFmpeg's decodes of them. */
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

/** Encodes {@link OPUS_FIXTURE_RECORDING} to WebM/Opus and Ogg/Opus (32 kbit/s) and decodes references. */
export async function makeOpusFixtures(): Promise<OpusFixtures> {
  const dir = mkdtempSync(join(tmpdir(), 'earshot-opus-'));
  const encode = [
    '-hide_banner',
    '-loglevel',
    'error',
    '-y',
    '-i',
    OPUS_FIXTURE_RECORDING,
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
