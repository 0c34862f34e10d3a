import { readFile } from 'node:fs/promises';
import type { AudioFormat } from '@earshot/protocol';

/** A WAV file's PCM16 samples and their format. */
export interface WavPcm16 {
  readonly format: AudioFormat;
  /** The `data` chunk: little-endian PCM16, interleaved when stereo. */
  readonly pcm: Buffer;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/**
 * Parses a RIFF/WAVE buffer holding 16-bit PCM. Walks the chunks (`fmt `, `LIST`, `fact`,
 * …) instead of assuming a 44-byte header, since sox and ffmpeg both write extra chunks.
 * Throws when the file is not RIFF/WAVE or not PCM16.
 */
export function parseWavPcm16(bytes: Buffer): WavPcm16 {
  if (bytes.length < 12 || bytes.toString('ascii', 0, 4) !== 'RIFF') {
    throw new Error('not a RIFF file');
  }
  if (bytes.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a WAVE file');
  let format: AudioFormat | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = bytes.toString('ascii', offset, offset + 4);
    const declared = bytes.readUInt32LE(offset + 4);
    const body = offset + 8;
    // Streams written before their length was known declare 0 or 0xffffffff: take the rest.
    const size = Math.min(declared, bytes.length - body);
    if (id === 'fmt ') {
      if (size < 16) throw new Error('fmt chunk is too short');
      let tag = bytes.readUInt16LE(body);
      const channels = bytes.readUInt16LE(body + 2);
      const sampleRate = bytes.readUInt32LE(body + 4);
      const bitsPerSample = bytes.readUInt16LE(body + 14);
      if (tag === WAVE_FORMAT_EXTENSIBLE && size >= 26) tag = bytes.readUInt16LE(body + 24);
      if (tag !== WAVE_FORMAT_PCM || bitsPerSample !== 16) {
        throw new Error(`not 16-bit PCM (format tag ${tag}, ${bitsPerSample} bits)`);
      }
      format = { encoding: 'pcm16', sampleRate, channels };
    } else if (id === 'data') {
      if (!format) throw new Error('data chunk before fmt chunk');
      const end = declared === 0 || declared === 0xffffffff ? bytes.length : body + size;
      return { format, pcm: bytes.subarray(body, end) };
    }
    // Chunks are padded to an even length.
    offset = body + size + (size & 1);
  }
  throw new Error('no data chunk');
}

/** Reads a WAV file of 16-bit PCM: its format and its samples. See {@link parseWavPcm16}. */
export async function readWavPcm16(path: string): Promise<WavPcm16> {
  const bytes = await readFile(path);
  try {
    return parseWavPcm16(bytes);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** Wraps PCM16 samples in a minimal 44-byte WAV header. */
export function encodeWavPcm16(pcm: Uint8Array, format: AudioFormat): Buffer {
  const header = Buffer.alloc(44);
  const blockAlign = format.channels * 2;
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(36 + pcm.byteLength, 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(WAVE_FORMAT_PCM, 20);
  header.writeUInt16LE(format.channels, 22);
  header.writeUInt32LE(format.sampleRate, 24);
  header.writeUInt32LE(format.sampleRate * blockAlign, 28);
  header.writeUInt16LE(blockAlign, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(pcm.byteLength, 40);
  return Buffer.concat([header, pcm]);
}
