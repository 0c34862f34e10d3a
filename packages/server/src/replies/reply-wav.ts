import { EarshotError, readWavHeader } from '@earshot/protocol';
import type { ReplyAudio } from './responder.js';

const RIFF_SIZE_AT = 4;

/**
 * Checks that `bytes` are a PCM16 WAV file and returns them as {@link ReplyAudio}, with the
 * RIFF and `data` sizes made exact. Synthesizers that write to a pipe (espeak-ng's
 * `--stdout`, OpenAI's streamed `wav`) cannot seek back to fill those in and leave a
 * placeholder (0x7ffff000, 0xffffffff) that players and `readWavHeader` read as "more to
 * come". The bytes are the caller's own and are patched in place.
 *
 * @param source - Who made the bytes, for the error message.
 * @throws EarshotError `provider_error` when the bytes are not a PCM16 WAV file.
 */
export function replyWav(bytes: Uint8Array, source: string): ReplyAudio {
  let header: ReturnType<typeof readWavHeader>;
  try {
    header = readWavHeader(bytes);
  } catch (cause) {
    throw new EarshotError('provider_error', `${source} did not return a PCM16 WAV file`, {
      cause,
    });
  }
  if (!header.complete || header.format.encoding !== 'pcm16') {
    throw new EarshotError('provider_error', `${source} did not return a PCM16 WAV file`);
  }
  const available = bytes.byteLength - header.dataOffset;
  if (header.dataBytes === undefined || header.dataBytes > available) {
    // Whole samples only, so the size stays a multiple of the block.
    const dataBytes = available - (available % (2 * header.format.channels));
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    view.setUint32(header.dataOffset - 4, dataBytes, true);
    view.setUint32(RIFF_SIZE_AT, header.dataOffset + dataBytes - 8, true);
    return { data: bytes.subarray(0, header.dataOffset + dataBytes), format: 'wav' };
  }
  return { data: bytes, format: 'wav' };
}
