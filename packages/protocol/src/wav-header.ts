import { type AudioFormat, AudioFormatSchema } from './audio-format.js';
import { EarshotError } from './earshot-error.js';

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** What the header of a RIFF/WAVE stream says, once enough of it has arrived. */
export type WavHeader =
  | { readonly complete: false }
  | {
      readonly complete: true;
      /** The format of the samples in the `data` chunk. */
      readonly format: AudioFormat;
      /** Where the samples start. */
      readonly dataOffset: number;
      /**
       * Bytes of samples the header declares, or `undefined` when it does not know (streaming
       * recorders write 0 or 0xFFFFFFFF): read to the end.
       */
      readonly dataBytes: number | undefined;
    };

/** Whether the bytes start like a RIFF/WAVE file. */
export function isWav(bytes: Uint8Array): boolean {
  return bytes.byteLength >= 12 && ascii(bytes, 0) === 'RIFF' && ascii(bytes, 8) === 'WAVE';
}

/**
 * Reads the header of a RIFF/WAVE stream: walks its chunks to find `fmt ` and the start of
 * `data` (other chunks such as `LIST` or `fact` may come first). Works on the first bytes of a
 * stream: answers `{ complete: false }` until the `data` chunk has begun. Takes PCM16 and
 * G.711 μ-law/A-law; anything else is `unsupported_audio_format`, a broken header
 * `invalid_audio`.
 */
export function readWavHeader(bytes: Uint8Array): WavHeader {
  if (bytes.byteLength < 12) {
    if (!'RIFF'.startsWith(ascii(bytes, 0, Math.min(4, bytes.byteLength)))) throw notWav();
    return { complete: false };
  }
  if (!isWav(bytes)) throw notWav();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let format: AudioFormat | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = ascii(bytes, offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) throw new EarshotError('invalid_audio', 'WAV fmt chunk is too short');
      // WAVE_FORMAT_EXTENSIBLE (40 bytes or more) keeps its real format tag at byte 24.
      if (body + (size >= 40 ? 26 : 16) > bytes.byteLength) return { complete: false };
      format = readFmt(view, body, size);
    } else if (id === 'data') {
      if (!format) throw new EarshotError('invalid_audio', 'WAV data chunk comes before fmt');
      const unknown = size === 0 || size === 0xffffffff;
      return { complete: true, format, dataOffset: body, dataBytes: unknown ? undefined : size };
    }
    // Chunks are padded to an even size.
    offset = body + size + (size % 2);
  }
  return { complete: false };
}

function notWav(): EarshotError {
  return new EarshotError('invalid_audio', 'not a RIFF/WAVE stream');
}

function readFmt(view: DataView, at: number, size: number): AudioFormat {
  let tag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  // WAVE_FORMAT_EXTENSIBLE keeps the real format tag in the first two bytes of its sub-format GUID.
  if (tag === WAVE_FORMAT_EXTENSIBLE && size >= 40 && view.byteLength >= at + 26) {
    tag = view.getUint16(at + 24, true);
  }
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
      `WAV audio is ${sampleRate} Hz with ${channels} channel(s); the protocol takes 8000–48000 Hz, 1–2 channels`,
    );
  }
  return parsed.data;
}

function ascii(bytes: Uint8Array, at: number, length = 4): string {
  return String.fromCharCode(...bytes.subarray(at, at + length));
}
