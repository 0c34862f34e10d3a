import {
  type AudioFormat,
  describeAudioFormat,
  EarshotError,
  sameAudioFormat,
} from '@earshot/protocol';
import type { ProviderCapabilities } from '@earshot/providers';

/** The outcome of matching a client's format to what a provider accepts. */
export type Negotiation =
  | { ok: true; providerFormat: AudioFormat; passThrough: true }
  | { ok: false; error: EarshotError };

/**
 * Picks how the client's audio reaches the provider. Audio passes through untouched when the
 * provider accepts the client's format as it is; anything else is refused with
 * `unsupported_audio_format` naming what is accepted (conversions are the audio pipeline's job).
 */
export function negotiateAudio(
  input: AudioFormat,
  capabilities: ProviderCapabilities,
): Negotiation {
  const match = capabilities.inputFormats.find((accepted) => sameAudioFormat(accepted, input));
  if (match) return { ok: true, providerFormat: match, passThrough: true };
  const accepted = capabilities.inputFormats.map(describeAudioFormat).join(', ');
  return {
    ok: false,
    error: new EarshotError(
      'unsupported_audio_format',
      `audio ${describeAudioFormat(input)} is not supported by this server; send one of: ${accepted}`,
    ),
  };
}
