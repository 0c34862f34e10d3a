import { type AudioFormat, AudioFormatSchema, EarshotError } from '@earshot/protocol';

/** Audio read from a file: its format and its bytes (a view into the file, not a copy). */
export interface AudioData {
  format: AudioFormat;
  data: Uint8Array;
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Whether the bytes start like a RIFF/WAVE file. */
export function isWav(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 12 && ascii(bytes, 0) === 'RIFF' && ascii(bytes, 8) === 'WAVE';
}

/**
 * Parses a RIFF/WAVE file: walks its chunks to find `fmt ` and `data` (other chunks such as
 * `LIST` or `fact` may come first, in any order). Takes PCM16, and G.711 μ-law/A-law, which the
 * protocol carries as they are; anything else is `unsupported_audio_format`.
 *
 * A `data` size larger than the file (or 0xFFFFFFFF, as streaming recorders write) is read up to
 * the end of the file.
 */
export function parseWav(bytes: Uint8Array): AudioData {
  if (!isWav(bytes)) throw new EarshotError('invalid_audio', 'not a RIFF/WAVE file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: AudioFormat | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = ascii(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16 || body + 16 > bytes.byteLength) {
        throw new EarshotError('invalid_audio', 'WAV fmt chunk is truncated');
      }
      format = readFmt(view, body, size);
    } else if (id === 'data') {
      if (!format) throw new EarshotError('invalid_audio', 'WAV data chunk comes before fmt');
      const end = Math.min(body + size, bytes.byteLength);
      // Whole sample frames only: a torn last frame would shift every sample after a resume.
      const frame = format.encoding === 'pcm16' ? 2 * format.channels : format.channels;
      const length = end - body - ((end - body) % frame);
      return { format, data: bytes.subarray(body, body + length) };
    }
    // Chunks are padded to an even size.
    offset = body + size + (size % 2);
  }
  throw new EarshotError(
    'invalid_audio',
    format ? 'WAV file has no data chunk' : 'WAV file has no fmt chunk',
  );
}

function readFmt(view: DataView, at: number, size: number): AudioFormat {
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  // WAVE_FORMAT_EXTENSIBLE keeps the real format tag in the first two bytes of its sub-format GUID.
  if (tag === WAVE_FORMAT_EXTENSIBLE && size >= 40) tag = view.getUint16(at + 24, true);
  const encoding =
    tag === WAVE_FORMAT_PCM && bitsPerSample === 16
      ? 'pcm16'
      : tag === WAVE_FORMAT_MULAW && bitsPerSample === 8
        ? 'mulaw'
        : tag === WAVE_FORMAT_ALAW && bitsPerSample === 8
          ? 'alaw'
          : undefined;
  if (!encoding) {
    throw new EarshotError(
      'unsupported_audio_format',
      `WAV format tag 0x${tag.toString(16)} with ${bitsPerSample} bits per sample is not supported; use 16-bit PCM`,
    );
  }
  const parsed = AudioFormatSchema.safeParse({ encoding, sampleRate, channels });
  if (!parsed.success) {
    throw new EarshotError(
      'unsupported_audio_format',
      `WAV file is ${sampleRate} Hz with ${channels} channel(s); the protocol takes 8000–48000 Hz, 1–2 channels`,
    );
  }
  return parsed.data;
}

function ascii(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + 4));
}
