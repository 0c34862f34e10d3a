import type { Readable } from 'node:stream';
import {
  type AudioFormat,
  bytesPerSecond,
  describeAudioFormat,
  EarshotError,
  sameAudioFormat,
} from '@earshot/protocol';
import type { EarshotClient } from '../earshot-client.js';
import { type ReadAudioFileOptions, readAudioFile } from './read-audio-file.js';

/**
 * How fast audio is sent: `'realtime'` (one second of audio per second, as a live microphone
 * would), `'fast'` (as fast as the socket drains), or a multiple of real time (`2` = twice as
 * fast).
 */
export type Pace = 'realtime' | 'fast' | number;

/** Options of {@link streamAudio}, {@link streamReadable} and {@link streamFile}. */
export interface StreamAudioOptions {
  /** Default `'realtime'`. Formats without a fixed byte rate (Opus) are sent as they come. */
  pace?: Pace;
  /** Milliseconds of audio per binary frame. Default 100. */
  chunkMs?: number;
  /** Stops sending; the returned promise rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Bytes the socket may hold unsent before sending waits for it to drain. Default: one second
   * of audio, at least 64 KiB.
   */
  highWaterMark?: number;
}

/** What was sent. */
export interface StreamAudioResult {
  format: AudioFormat;
  /** Audio bytes sent. */
  bytes: number;
  /** Binary frames sent. */
  chunks: number;
}

const DEFAULT_CHUNK_MS = 100;
// How often a sender blocked on backpressure looks at the socket again: browsers and `ws` have
// no drain event on the WebSocket itself.
const DRAIN_POLL_MS = 5;

/**
 * Sends audio on a started client at the chosen pace, in frames of `chunkMs` of audio, waiting
 * while the socket's buffer is above the high-water mark. The bytes are sent as views of
 * `source` when it is one `Uint8Array`; nothing is encoded. Resolves when everything is handed
 * to the socket (call `client.stop()` next).
 *
 * Pacing follows a schedule from the first frame (frame *n* goes out at *n × chunkMs*), so timer
 * lateness does not add up over a long file.
 */
export async function streamAudio(
  client: EarshotClient,
  source: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  format: AudioFormat,
  options: StreamAudioOptions = {},
): Promise<StreamAudioResult> {
  const { pace = 'realtime', chunkMs = DEFAULT_CHUNK_MS, signal } = options;
  if (!(chunkMs > 0)) throw new EarshotError('invalid_request', 'chunkMs must be positive');
  if (typeof pace === 'number' && !(pace > 0)) {
    throw new EarshotError('invalid_request', 'pace must be a positive multiple of real time');
  }
  const accepted = client.audioFormat;
  if (accepted && !sameAudioFormat(accepted, format)) {
    throw new EarshotError(
      'unsupported_audio_format',
      `audio is ${describeAudioFormat(format)} but the session was started with ${describeAudioFormat(accepted)}`,
    );
  }
  signal?.throwIfAborted();

  const byteRate = bytesPerSecond(format);
  const frameBytes = format.encoding === 'pcm16' ? 2 * format.channels : format.channels;
  const maxFrame = client.readyMessage?.limits.maxFrameBytes ?? Number.POSITIVE_INFINITY;
  let chunkBytes = byteRate === undefined ? maxFrame : Math.round((byteRate * chunkMs) / 1000);
  chunkBytes = Math.min(chunkBytes, maxFrame);
  if (byteRate !== undefined)
    chunkBytes = Math.max(frameBytes, chunkBytes - (chunkBytes % frameBytes));
  const speed =
    pace === 'fast' || byteRate === undefined
      ? Number.POSITIVE_INFINITY
      : pace === 'realtime'
        ? 1
        : pace;
  const highWaterMark = options.highWaterMark ?? Math.max(65536, byteRate ?? 0);

  const chunks =
    source instanceof Uint8Array
      ? sliceBytes(wholeFrames(source, byteRate === undefined ? 1 : frameBytes), chunkBytes)
      : rechunk(source, chunkBytes, byteRate === undefined ? 1 : frameBytes);
  const startedAt = performance.now();
  let bytes = 0;
  let count = 0;
  for await (const chunk of chunks) {
    signal?.throwIfAborted();
    if (Number.isFinite(speed) && byteRate !== undefined) {
      const due = startedAt + ((bytes / byteRate) * 1000) / speed;
      const wait = due - performance.now();
      if (wait > 0) await delay(wait, signal);
    }
    while (client.bufferedAmount > highWaterMark) await delay(DRAIN_POLL_MS, signal);
    try {
      client.sendAudio(chunk);
    } catch (error) {
      // The session failed under us: its own error says why, better than "not streaming".
      throw client.failure ?? error;
    }
    bytes += chunk.byteLength;
    count++;
  }
  return { format, bytes, chunks: count };
}

/**
 * Sends a Node `Readable` (or any async iterable of bytes) of audio in `format`: a
 * `fs.createReadStream` of raw PCM, `ffmpeg`'s stdout, a phone bridge. Frames are re-cut to
 * `chunkMs`; see {@link streamAudio}.
 *
 * @example
 * ```ts
 * const ffmpeg = spawn('ffmpeg', ['-i', 'talk.mp3', '-f', 's16le', '-ar', '16000', '-ac', '1', '-']);
 * await streamReadable(client, ffmpeg.stdout, PCM16_16K_MONO, { pace: 'fast' });
 * ```
 */
export function streamReadable(
  client: EarshotClient,
  readable: Readable | AsyncIterable<Uint8Array>,
  format: AudioFormat,
  options: StreamAudioOptions = {},
): Promise<StreamAudioResult> {
  return streamAudio(client, readable as AsyncIterable<Uint8Array>, format, options);
}

/**
 * Sends an audio file (see {@link readAudioFile}) on a started client, at real-time pace unless
 * told otherwise. The client must have been started with the file's format.
 *
 * @example
 * ```ts
 * const { format } = await readAudioFile('call.wav');
 * await client.start({ audio: format });
 * await streamFile(client, 'call.wav', { pace: 'fast' });
 * const { summary } = await client.stop();
 * ```
 */
export async function streamFile(
  client: EarshotClient,
  path: string,
  options: StreamAudioOptions & ReadAudioFileOptions = {},
): Promise<StreamAudioResult> {
  const { format, data } = await readAudioFile(path, options);
  return streamAudio(client, data, format, options);
}

/** The bytes without a torn last sample frame, which would make the audio invalid. */
function wholeFrames(bytes: Uint8Array, frameBytes: number): Uint8Array {
  return bytes.subarray(0, bytes.byteLength - (bytes.byteLength % frameBytes));
}

function* sliceBytes(bytes: Uint8Array, size: number): Generator<Uint8Array> {
  for (let at = 0; at < bytes.byteLength; at += size) yield bytes.subarray(at, at + size);
}

/** Re-cuts arbitrary pieces into `size`-byte frames, copying only where a frame straddles two. */
async function* rechunk(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  size: number,
  frameBytes: number,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  for await (const input of source) {
    let piece = input;
    if (pendingBytes > 0) {
      const need = size - pendingBytes;
      if (piece.byteLength < need) {
        pending.push(piece);
        pendingBytes += piece.byteLength;
        continue;
      }
      pending.push(piece.subarray(0, need));
      yield concat(pending, size);
      pending = [];
      pendingBytes = 0;
      piece = piece.subarray(need);
    }
    while (piece.byteLength >= size) {
      yield piece.subarray(0, size);
      piece = piece.subarray(size);
    }
    if (piece.byteLength > 0) {
      pending.push(piece);
      pendingBytes = piece.byteLength;
    }
  }
  // A torn last sample frame would make the audio invalid (odd-length PCM16): drop it.
  const whole = pendingBytes - (pendingBytes % frameBytes);
  if (whole > 0) yield concat(pending, pendingBytes).subarray(0, whole);
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1 && parts[0]) return parts[0];
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/** `setTimeout` as a promise that an abort rejects at once. */
function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
