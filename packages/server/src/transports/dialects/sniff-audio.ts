import { type AudioFormat, isWav, readWavHeader } from '@earshot/protocol';

const EBML_MAGIC = [0x1a, 0x45, 0xdf, 0xa3];

/**
 * The format of a stream whose first bytes carry their own description: WebM (`MediaRecorder`'s
 * `audio/webm;codecs=opus`), Ogg (Firefox's and Safari's `audio/ogg`), or a WAV header.
 * `undefined` for bytes that say nothing (raw PCM): the dialect's default applies then.
 * Opus is always 48 kHz inside; the channel count is what the decoder is asked for.
 */
export function sniffAudioFormat(first: Uint8Array): AudioFormat | undefined {
  if (EBML_MAGIC.every((byte, i) => first[i] === byte)) {
    return { encoding: 'webm-opus', sampleRate: 48000, channels: 1 };
  }
  if (first.byteLength >= 4 && Buffer.from(first.subarray(0, 4)).toString('latin1') === 'OggS') {
    return { encoding: 'ogg-opus', sampleRate: 48000, channels: 1 };
  }
  if (isWav(first)) {
    // The pipeline reads the header itself; the declared rate is only its first plan.
    try {
      const header = readWavHeader(first);
      if (header.complete) return { ...header.format, encoding: 'wav' };
    } catch {
      // A broken header: declared as WAV, the pipeline reports it as `invalid_audio`.
    }
    return { encoding: 'wav', sampleRate: 16000, channels: 1 };
  }
  return undefined;
}
