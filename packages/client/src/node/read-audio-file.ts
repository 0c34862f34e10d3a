import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { type AudioFormat, EarshotError, PCM16_16K_MONO } from '@earshot/protocol';
import { type AudioData, isWav, parseWav } from './wav.js';

/** Options of {@link readAudioFile}. */
export interface ReadAudioFileOptions {
  /** The format of a raw (headerless) file. Default: `pcm16/16000/1`. Ignored for WAV files. */
  format?: AudioFormat;
}

const RAW_EXTENSIONS = new Set(['.raw', '.pcm']);

/**
 * Reads an audio file for streaming: a WAV file (recognised by its RIFF header, whatever its
 * name) yields its declared format and the bytes of its `data` chunk; a `.raw`/`.pcm` file is
 * taken as headerless audio in `options.format` (default PCM16, 16 kHz, mono).
 *
 * @example
 * ```ts
 * const { format, data } = await readAudioFile('call.wav');
 * ```
 */
export async function readAudioFile(
  path: string,
  options: ReadAudioFileOptions = {},
): Promise<AudioData> {
  const file = await readFile(path);
  // A view, not `new Uint8Array(file)`, which would copy the whole file.
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  if (isWav(bytes)) return parseWav(bytes);
  const ext = extname(path).toLowerCase();
  if (ext === '.wav') throw new EarshotError('invalid_audio', `${path} has no RIFF/WAVE header`);
  if (!RAW_EXTENSIONS.has(ext) && !options.format) {
    throw new EarshotError(
      'unsupported_audio_format',
      `cannot tell the audio format of ${path}: use a WAV file, or a .raw/.pcm file with a format`,
    );
  }
  return { format: options.format ?? PCM16_16K_MONO, data: bytes };
}
