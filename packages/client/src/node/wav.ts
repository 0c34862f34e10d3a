import { type AudioFormat, EarshotError, isWav, readWavHeader } from '@earshot/protocol';

export { isWav };

/** Audio read from a file: its format and its bytes (a view into the file, not a copy). */
export interface AudioData {
  format: AudioFormat;
  data: Uint8Array;
}

/**
 * Parses a whole RIFF/WAVE file (header by `readWavHeader` from the protocol package, shared
 * with the server): PCM16 and G.711 μ-law/A-law, which the protocol carries as they are.
 *
 * A `data` size larger than the file (or 0xFFFFFFFF, as streaming recorders write) is read up
 * to the end of the file.
 */
export function parseWav(bytes: Uint8Array): AudioData {
  const header = readWavHeader(bytes);
  if (!header.complete)
    throw new EarshotError('invalid_audio', 'WAV file is truncated before its data');
  const { format, dataOffset, dataBytes } = header;
  const end = Math.min(dataOffset + (dataBytes ?? bytes.byteLength), bytes.byteLength);
  // Whole sample frames only: a torn last frame would shift every sample after a resume.
  const frame = format.encoding === 'pcm16' ? 2 * format.channels : format.channels;
  const length = end - dataOffset - ((end - dataOffset) % frame);
  return { format, data: bytes.subarray(dataOffset, dataOffset + length) };
}
