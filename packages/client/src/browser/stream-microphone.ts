import type { ClosedMessage, EarshotError, ReadyMessage } from '@earshot/protocol';
import type { EarshotClient, StartOptions } from '../earshot-client.js';
import type { AudioSource } from './audio-source.js';

/** A microphone streaming into a session: see {@link streamMicrophone}. */
export interface MicrophoneStream {
  /** The session's `ready`. */
  readonly ready: ReadyMessage;
  /** The capture: its format and input `level`. */
  readonly source: AudioSource;
  /** Stops the microphone (its last chunk is sent), then the session: resolves with `closed`. */
  stop(): Promise<ClosedMessage>;
}

/**
 * Captures `source` into a session of `client`: the microphone opens first and audio it
 * captures before the server is ready is kept and sent once it is, so the first word is not
 * lost to the connection's set-up. A device lost mid-session is reported on the client's
 * `error` event and stops the session.
 *
 * @example
 * ```ts
 * const client = new EarshotClient({ url, token: fetchToken });
 * client.on('transcript', (t) => render(t));
 * const mic = await streamMicrophone(client, createPcmMicrophone());
 * // …
 * await mic.stop();
 * ```
 */
export async function streamMicrophone(
  client: EarshotClient,
  source: AudioSource,
  options: Omit<StartOptions, 'audio'> = {},
): Promise<MicrophoneStream> {
  const early: Uint8Array[] = [];
  let live = false;
  const send = (chunk: Uint8Array) => {
    if (!live) {
      early.push(chunk);
      return;
    }
    if (client.state === 'streaming' || client.state === 'reconnecting') client.sendAudio(chunk);
  };
  const lost = (error: EarshotError) => {
    client.emit('error', error);
    void source.stop().then(() => client.stop().catch(() => undefined));
  };
  await source.start(send, lost);
  let ready: ReadyMessage;
  try {
    ready = await client.start({ ...options, audio: source.format });
  } catch (error) {
    await source.stop();
    throw error;
  }
  live = true;
  for (const chunk of early.splice(0)) client.sendAudio(chunk);
  return {
    ready,
    source,
    async stop() {
      await source.stop();
      return client.stop();
    },
  };
}
