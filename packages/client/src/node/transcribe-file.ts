import type {
  AudioFormat,
  ClosedMessage,
  ReadyMessage,
  TranscriptMessage,
} from '@earshot/protocol';
import { EarshotClient, type EarshotClientOptions, type StartOptions } from '../earshot-client.js';
import { readAudioFile } from './read-audio-file.js';
import { type StreamAudioOptions, streamAudio } from './stream-audio.js';

/** Options of {@link transcribeFile}. */
export interface TranscribeFileOptions
  extends StreamAudioOptions,
    Pick<EarshotClientOptions, 'token' | 'WebSocket' | 'logger'> {
  /** Recognition options of `start` (the audio format comes from the file). */
  start?: Omit<StartOptions, 'audio' | 'signal'>;
  /** The format of a raw (headerless) file; see {@link readAudioFile}. */
  format?: AudioFormat;
  /** Called with every transcript as it arrives, interims included when the server sends them. */
  onTranscript?: (message: TranscriptMessage) => void;
}

/** The outcome of {@link transcribeFile}. */
export interface TranscribeFileResult {
  ready: ReadyMessage;
  /** Final transcripts, in arrival order. */
  finals: TranscriptMessage[];
  /** The server's `closed` message, with the session summary. */
  closed: ClosedMessage;
}

/**
 * Transcribes one audio file end to end: connects, starts a session in the file's format,
 * streams it (real-time pace unless told otherwise), stops, and returns the finals and the
 * summary. The connection is always closed when it returns or throws.
 *
 * @example
 * ```ts
 * const { finals } = await transcribeFile('ws://localhost:8787/v1/listen', 'talk.wav', { pace: 'fast' });
 * console.log(finals.map((t) => t.text).join(' '));
 * ```
 */
export async function transcribeFile(
  url: string,
  path: string,
  options: TranscribeFileOptions = {},
): Promise<TranscribeFileResult> {
  const { signal } = options;
  const { format, data } = await readAudioFile(path, { format: options.format });
  const client = new EarshotClient({
    url,
    token: options.token,
    WebSocket: options.WebSocket,
    logger: options.logger,
  });
  const finals: TranscriptMessage[] = [];
  const onTranscript = (message: TranscriptMessage) => {
    if (message.isFinal) finals.push(message);
    options.onTranscript?.(message);
  };
  client.on('transcript', onTranscript);
  try {
    const ready = await client.start({ ...options.start, audio: format, signal });
    await streamAudio(client, data, format, options);
    const closed = await client.stop({ signal });
    return { ready, finals, closed };
  } catch (error) {
    // An abort is the caller's own doing; anything else is best told by the session's failure.
    if (signal?.aborted) throw error;
    throw client.failure ?? error;
  } finally {
    client.off('transcript', onTranscript);
    await client.close();
  }
}
