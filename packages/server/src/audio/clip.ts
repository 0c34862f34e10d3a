import { type AudioFormat, isWav, readWavHeader } from '@earshot/protocol';
import { downmixStereo } from './pcm16.js';
import { createResampler } from './resampler.js';

/**
 * A whole clip of PCM16 (not a stream: its tail is flushed) as mono at `toRate`. For audio
 * that arrives in one piece: a reply to play into a call, a WAV file a frontend sends at once.
 */
export function monoClipAt(
  samples: Int16Array,
  sampleRate: number,
  channels: number,
  toRate: number,
): Int16Array {
  const mono = channels === 2 ? downmixStereo(samples) : samples;
  if (sampleRate === toRate) return mono;
  const resampler = createResampler(sampleRate, toRate);
  const body = resampler.process(mono);
  const tail = resampler.flush();
  const all = new Int16Array(body.length + tail.length);
  all.set(body);
  all.set(tail, body.length);
  return all;
}

/**
 * The samples of a whole WAV file held in memory, and their format: `undefined` when the bytes
 * are not a WAV file (or its header is cut short). Throws `invalid_audio` /
 * `unsupported_audio_format` for a broken or non-PCM/G.711 header. The data stops at the
 * length the header declares, and at a whole sample.
 */
export function wavClip(bytes: Uint8Array): { format: AudioFormat; data: Uint8Array } | undefined {
  if (!isWav(bytes)) return undefined;
  const header = readWavHeader(bytes);
  if (!header.complete) return undefined;
  const end =
    header.dataBytes === undefined
      ? bytes.byteLength
      : Math.min(bytes.byteLength, header.dataOffset + header.dataBytes);
  const width =
    header.format.encoding === 'pcm16' ? 2 * header.format.channels : header.format.channels;
  const length = end - header.dataOffset;
  return {
    format: header.format,
    data: bytes.subarray(header.dataOffset, end - (length % width)),
  };
}
