import {
  type AudioFormat,
  describeAudioFormat,
  EarshotError,
  sameAudioFormat,
} from '@earshot/protocol';

/**
 * Refuses `audio` with `unsupported_audio_format` unless it is one of `accepted` (a
 * provider's `capabilities.inputFormats`). The server's pipeline only ever opens a stream in
 * an accepted format; this guards direct users of a provider.
 *
 * @example
 * ```ts
 * assertAcceptedFormat('local', [PCM16_16K_MONO], options.audio);
 * ```
 */
export function assertAcceptedFormat(
  provider: string,
  accepted: readonly AudioFormat[],
  audio: AudioFormat,
): void {
  if (accepted.some((format) => sameAudioFormat(format, audio))) return;
  throw new EarshotError(
    'unsupported_audio_format',
    `the ${provider} provider takes ${summarizeFormats(accepted)}, not ${describeAudioFormat(audio)}`,
  );
}

/** `pcm16/8000|16000/1, mulaw/8000/1`: formats grouped by encoding and channels. */
function summarizeFormats(formats: readonly AudioFormat[]): string {
  const groups = new Map<string, number[]>();
  for (const f of formats) {
    const key = `${f.encoding}|${f.channels}`;
    groups.set(key, [...(groups.get(key) ?? []), f.sampleRate]);
  }
  return [...groups]
    .map(([key, rates]) => {
      const [encoding, channels] = key.split('|');
      return `${encoding}/${rates.join('|')}/${channels}`;
    })
    .join(', ');
}
