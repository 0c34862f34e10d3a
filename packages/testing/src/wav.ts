import { readFile } from 'node:fs/promises';
import { parseWav } from '@earshot/client/node';
import type { AudioFormat } from '@earshot/protocol';

/** A WAV file's PCM16 samples and their format. */
export interface WavPcm16 {
  readonly format: AudioFormat;
  /** The `data` chunk: little-endian PCM16, interleaved when stereo. */
  readonly pcm: Buffer;
}

const WAVE_FORMAT_PCM = 1;

/**
 * Parses a RIFF/WAVE buffer holding 16-bit PCM with the client's WAV reader (which walks the
 * chunks rather than assuming a 44-byte header), and insists on PCM16: the fixtures feed the
 * local engine as they are.
 */
export function parseWavPcm16(bytes: Buffer): WavPcm16 {
  const { format, data } = parseWav(bytes);
  if (format.encoding !== 'pcm16') throw new Error(`not 16-bit PCM but ${format.encoding}`);
  return { format, pcm: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
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
