import { EarshotError } from '@earshot/protocol';
import type { OpusHead } from '@earshot/providers/containers';
import type { AudioSink } from '../audio-stage.js';
import {
  MAX_OPUS_PACKET_BYTES,
  type OpusDecoderState,
  type OpusWasmHeapPool,
  opusWasmHeaps,
} from './opus-wasm-heap.js';

/** Opus always decodes at 48 kHz; it is the rate every Opus stage of Earshot emits. */
export const OPUS_SAMPLE_RATE = 48000;

/** Options of {@link OpusPacketDecoder}. */
export interface OpusPacketDecoderOptions {
  /** Bytes of packets held while the WASM decoder compiles, at most. Defaults to 1 MiB. */
  readonly maxQueuedBytes?: number;
  /**
   * The rate to decode at: one of {@link OPUS_DECODE_RATES}. libopus decodes at 8, 12, 16 or
   * 24 kHz directly, which costs less than decoding at 48 kHz and resampling afterwards.
   * Defaults to 48000.
   */
  readonly outputSampleRate?: OpusDecodeRate;
}

/** Rates libopus decodes to natively. */
export const OPUS_DECODE_RATES = [8000, 12000, 16000, 24000, 48000] as const;

/** One of {@link OPUS_DECODE_RATES}. */
export type OpusDecodeRate = (typeof OPUS_DECODE_RATES)[number];

/** Whether libopus can decode straight to `rate`. */
export function isOpusDecodeRate(rate: number): rate is OpusDecodeRate {
  return (OPUS_DECODE_RATES as readonly number[]).includes(rate);
}

const DEFAULT_MAX_QUEUED_BYTES = 1024 * 1024;

/**
 * Decodes raw Opus packets (as a demuxer extracts them) to PCM16 mono little-endian (48 kHz
 * unless told otherwise) with libopus in WebAssembly, delivering to `sink.data`. Stereo is
 * mixed down to mono by libopus; the header's pre-skip and output gain are applied.
 *
 * Decoder states live in the process's shared libopus instances ({@link OpusWasmHeapPool}):
 * a session costs one ~40 KB state, not an instance of its own. When no instance has room
 * (the very first session, or a full one), packets are copied and queued (bounded by
 * `maxQueuedBytes`) while one starts, then decoded in order. Otherwise packets are decoded
 * synchronously inside {@link OpusPacketDecoder.decode}, without copying them.
 */
export class OpusPacketDecoder {
  private state: OpusDecoderState | undefined;
  private readonly gain: number;
  private readonly maxQueuedBytes: number;
  private queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private destroyed = false;
  private failing = false;
  private readonly readyPromise: Promise<void>;

  constructor(
    head: Pick<OpusHead, 'channels' | 'preSkip'> & Partial<Pick<OpusHead, 'outputGainDb'>>,
    private readonly sink: AudioSink,
    options: OpusPacketDecoderOptions = {},
    private readonly pool: OpusWasmHeapPool = opusWasmHeaps,
  ) {
    // Family 0 only (mono/stereo), always decoded by a mono state: libopus mixes a stereo
    // packet down itself. A stereo state is never made: opus-decoder 0.7's stereo path writes
    // past its buffers, which in a heap shared by every session corrupted the others' decoders
    // (found by fuzzing; see opus-packet-decoder.test.ts).
    const channels = 1;
    this.gain = 10 ** ((head.outputGainDb ?? 0) / 20);
    this.maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    const sampleRate = options.outputSampleRate ?? OPUS_SAMPLE_RATE;
    // The header counts pre-skip in 48 kHz samples, whatever rate is decoded.
    const preSkip = Math.round((head.preSkip * sampleRate) / OPUS_SAMPLE_RATE);
    const acquired = pool.acquire(sampleRate, channels, preSkip);
    if (!(acquired instanceof Promise)) {
      this.state = acquired;
      this.readyPromise = Promise.resolve();
      return;
    }
    this.readyPromise = acquired.then(
      (state) => {
        if (this.destroyed) {
          pool.release(state);
          return;
        }
        this.state = state;
        const queued = this.queue;
        this.queue = [];
        this.queuedBytes = 0;
        for (const packet of queued) this.decodeNow(state, packet);
      },
      (cause: unknown) => {
        this.queue = [];
        if (!this.destroyed) {
          this.sink.error(
            new EarshotError('internal', 'the Opus decoder (WASM) failed to load', {
              cause,
              fatal: true,
            }),
          );
        }
      },
    );
  }

  /**
   * Decodes one Opus packet. `packet` may be a view into the caller's buffer: it is read
   * before this returns, or copied if the decoder is not ready yet.
   */
  decode(packet: Uint8Array): void {
    if (this.destroyed || packet.byteLength === 0) return;
    if (packet.byteLength > MAX_OPUS_PACKET_BYTES) {
      this.sink.error(
        new EarshotError(
          'invalid_audio',
          `Opus packet of ${packet.byteLength} bytes is larger than any valid packet; dropped`,
        ),
      );
      return;
    }
    if (this.state !== undefined) {
      this.decodeNow(this.state, packet);
      return;
    }
    if (this.queuedBytes + packet.byteLength > this.maxQueuedBytes) {
      this.sink.error(
        new EarshotError(
          'invalid_audio',
          `more than ${this.maxQueuedBytes} bytes of Opus arrived before the decoder was ready; packet dropped`,
        ),
      );
      return;
    }
    this.queue.push(packet.slice());
    this.queuedBytes += packet.byteLength;
  }

  /** Resolves once every packet given so far is decoded and delivered. */
  flush(): Promise<void> {
    return this.readyPromise;
  }

  /** Returns the decoder state to its shared instance (at once, or once it exists). Idempotent. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.queue = [];
    if (this.state !== undefined) this.pool.release(this.state);
    this.state = undefined;
  }

  private decodeNow(state: OpusDecoderState, packet: Uint8Array): void {
    const frame = state.heap.decode(state, packet);
    if (typeof frame === 'number') {
      this.reportCorrupt(`libopus error ${frame}`);
      return;
    }
    this.failing = false;
    const { left, right, samples: n } = frame;
    if (n === 0) return;
    const out = new Int16Array(n);
    // Scale as FFmpeg does (x * 32768, clipped) so both decoders give the same samples.
    const scale = 32768 * (right === undefined ? this.gain : this.gain * 0.5);
    for (let i = 0; i < n; i++) {
      const v = (right === undefined ? left[i]! : left[i]! + right[i]!) * scale;
      out[i] = v >= 32767 ? 32767 : v <= -32768 ? -32768 : Math.round(v);
    }
    this.sink.data(toLittleEndianBytes(out));
  }

  // A run of corrupt packets is one problem: report it once, until a packet decodes again.
  private reportCorrupt(cause: unknown): void {
    if (this.failing) return;
    this.failing = true;
    this.sink.error(
      new EarshotError('invalid_audio', 'an Opus packet could not be decoded; dropped', { cause }),
    );
  }
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The bytes of `samples` as PCM16 little-endian, without a copy on little-endian machines. */
function toLittleEndianBytes(samples: Int16Array): Uint8Array {
  const bytes = new Uint8Array(samples.buffer, samples.byteOffset, samples.byteLength);
  if (littleEndian) return bytes;
  for (let i = 0; i < bytes.length; i += 2) {
    const b = bytes[i]!;
    bytes[i] = bytes[i + 1]!;
    bytes[i + 1] = b;
  }
  return bytes;
}
