import type { AudioFormat } from '@earshot/protocol';
import { EarshotError } from '@earshot/protocol';

/** Audio captured in the browser, ready for `EarshotClient.sendAudio`. */
export interface AudioSource {
  /** The format of the chunks: what `start` declares. Known once {@link AudioSource.start} resolved. */
  readonly format: AudioFormat;
  /** The input level of the last chunk, RMS from 0 to 1, for a meter. */
  readonly level: number;
  /**
   * Opens the device and starts capturing: `onChunk` gets each chunk, `onError` a failure
   * after the start (the device was lost). Rejects with `microphone_denied` or
   * `microphone_unavailable`.
   */
  start(
    onChunk: (chunk: Uint8Array) => void,
    onError: (error: EarshotError) => void,
  ): Promise<void>;
  /** Stops capturing and releases the device. Idempotent. */
  stop(): Promise<void>;
}

/** What every microphone source takes. */
export interface MicrophoneOptions {
  /** The input device (`MediaDeviceInfo.deviceId`); the default one when absent. */
  readonly deviceId?: string;
  /**
   * `getUserMedia` audio constraints over the defaults (mono, echo cancellation on, noise
   * suppression and automatic gain control off).
   */
  readonly constraints?: MediaTrackConstraints;
}

/** Opens the microphone; typed errors for a refusal or a missing device. */
export async function openMicrophone(options: MicrophoneOptions): Promise<MediaStream> {
  const media = globalThis.navigator?.mediaDevices;
  if (!media?.getUserMedia) {
    throw new EarshotError(
      'microphone_unavailable',
      'this page cannot capture audio (no mediaDevices: it must be served over https or from localhost)',
      { fatal: true },
    );
  }
  try {
    return await media.getUserMedia({
      audio: {
        channelCount: 1,
        // Echo cancellation keeps the page's own playback (a voice agent's reply) out of the
        // transcript; the browser's noise suppression and gain control reshape speech in ways
        // that cost recognisers words, so they are off unless asked for.
        echoCancellation: true,
        noiseSuppression: false,
        autoGainControl: false,
        ...options.constraints,
        ...(options.deviceId ? { deviceId: { exact: options.deviceId } } : {}),
      },
    });
  } catch (cause) {
    const name = (cause as { name?: string }).name;
    const denied = name === 'NotAllowedError' || name === 'SecurityError';
    throw new EarshotError(
      denied ? 'microphone_denied' : 'microphone_unavailable',
      denied
        ? 'microphone permission was denied'
        : `no microphone could be opened (${name ?? String(cause)})`,
      { cause, fatal: true },
    );
  }
}

/** Reports a device that goes away mid-capture (unplugged, revoked) as `microphone_lost`. */
export function watchTrackEnd(stream: MediaStream, onError: (error: EarshotError) => void): void {
  for (const track of stream.getAudioTracks()) {
    track.addEventListener('ended', () =>
      onError(new EarshotError('microphone_lost', 'the microphone went away', { fatal: true })),
    );
  }
}

/** A microphone the browser offers. */
export interface MicrophoneInfo {
  /** Pass as `deviceId` to a microphone source. */
  readonly deviceId: string;
  /** Its name; empty until the page has been granted the microphone once (browsers hide it). */
  readonly label: string;
}

/**
 * The microphones the browser offers, for a device picker. Labels are empty until the user
 * has granted the microphone once; call it again after the first capture to fill them.
 *
 * @example
 * ```ts
 * const mics = await listMicrophones();
 * const source = createPcmMicrophone({ deviceId: mics[1]?.deviceId });
 * ```
 */
export async function listMicrophones(): Promise<MicrophoneInfo[]> {
  const media = globalThis.navigator?.mediaDevices;
  if (!media?.enumerateDevices) return [];
  const devices = await media.enumerateDevices();
  return devices
    .filter((d) => d.kind === 'audioinput')
    .map((d) => ({ deviceId: d.deviceId, label: d.label }));
}
