import { OpusDecoder } from 'opus-decoder';

/**
 * Many Opus decoders in one libopus WebAssembly instance.
 *
 * `opus-decoder` gives every decoder its own instance: a 28 MiB linear memory and a fresh
 * compile-and-start of the module, about 0.4–1.9 MB resident and a few milliseconds per
 * session. A decoder's state is only ~40 KB of that memory, so here one instance (a "heap")
 * holds hundreds of states side by side, and a session costs one `opus_frame_decoder_create`.
 * Decoding is synchronous, so the heap's one input and one output buffer serve every state.
 *
 * This drives the instance's exported C functions, which `opus-decoder` does not document.
 * Their shapes are checked once per heap ({@link probeStateLayout}); if anything is not as
 * expected, each heap holds a single state and is dropped with it: the library's own
 * one-instance-per-decoder behaviour, slower and bigger, but correct.
 */

/** The exports of opus-decoder 0.7's Emscripten module that a heap calls. */
interface OpusWasmExports {
  readonly HEAP: ArrayBuffer;
  malloc(bytes: number): number;
  free(pointer: number): void;
  opus_frame_decoder_create(
    sampleRate: number,
    channels: number,
    streams: number,
    coupledStreams: number,
    mapping: number,
    preSkip: number,
    forceStereo: number,
  ): number;
  opus_frame_decode_float_deinterleaved(
    state: number,
    input: number,
    length: number,
    output: number,
  ): number;
  opus_frame_decoder_destroy(state: number): void;
}

/** Longest packet a heap's input buffer takes: 120 ms at 256 kbit/s per channel, two channels. */
export const MAX_OPUS_PACKET_BYTES = 3840 * 2;
// 120 ms at 48 kHz, two channels, deinterleaved.
const MAX_OUTPUT_SAMPLES = 5760 * 2;

// The wrapper's struct (wasm32): int pre_skip, channels, output_channels, force_stereo;
// float *stereo_buffer, *pcm; int *errors; OpusMSDecoder *st. Indices in 32-bit words.
const FIELD = { preSkip: 0, channels: 1, outputChannels: 2, forceStereo: 3, pcm: 5, st: 7 };
// A pre-skip no real stream would ask for, to recognise the field when probing.
const PROBE_PRE_SKIP = 0x1357;

/** One decoder state living in a heap. Valid until {@link OpusWasmHeap.release}. */
export interface OpusDecoderState {
  readonly heap: OpusWasmHeap;
  readonly pointer: number;
  readonly channels: 1 | 2;
}

/** The result of {@link OpusWasmHeap.decode}: per-channel samples, valid until the next decode. */
export interface DecodedOpusFrame {
  readonly left: Float32Array;
  /** The second channel, for a stereo state. */
  readonly right: Float32Array | undefined;
  /** Samples per channel; 0 while the pre-skip is being dropped. */
  readonly samples: number;
}

/** One libopus WebAssembly instance and the decoder states it holds. */
export class OpusWasmHeap {
  private live = 0;
  private full = false;

  private constructor(
    private readonly wasm: OpusWasmExports,
    private readonly input: { ptr: number; buf: Uint8Array },
    private readonly output: { ptr: number; buf: Float32Array },
    private readonly mapping: number,
    /** Whether states can be freed one by one (the layout probe passed). */
    readonly sharable: boolean,
  ) {}

  /** Starts a libopus instance (compiled once per process by opus-decoder, instantiated here). */
  static async create(): Promise<OpusWasmHeap> {
    // The instance comes from a decoder of opus-decoder's own; its exports are what is kept.
    const host = new OpusDecoder({ channels: 1, sampleRate: 48000 });
    await host.ready;
    const wasm = exportsOf(host);
    const alloc = (bytes: number): number => {
      const pointer = wasm.malloc(bytes);
      if (pointer === 0) throw new Error('libopus heap exhausted at start');
      return pointer;
    };
    const inputPtr = alloc(MAX_OPUS_PACKET_BYTES);
    const outputPtr = alloc(MAX_OUTPUT_SAMPLES * 4);
    const mapping = alloc(2);
    new Uint8Array(wasm.HEAP, mapping, 2).set([0, 1]);
    const input = {
      ptr: inputPtr,
      buf: new Uint8Array(wasm.HEAP, inputPtr, MAX_OPUS_PACKET_BYTES),
    };
    const output = {
      ptr: outputPtr,
      buf: new Float32Array(wasm.HEAP, outputPtr, MAX_OUTPUT_SAMPLES),
    };
    return new OpusWasmHeap(wasm, input, output, mapping, probeStateLayout(wasm, mapping));
  }

  /** States alive in this heap. */
  get liveStates(): number {
    return this.live;
  }

  /** Whether {@link createState} may still succeed. */
  get hasRoom(): boolean {
    return !this.full && (this.sharable || this.live === 0);
  }

  /**
   * A new decoder state, or `undefined` when this heap is full. `preSkip` is in samples at
   * `sampleRate` (one of libopus's rates: 8, 12, 16, 24 or 48 kHz).
   */
  createState(sampleRate: number, channels: 1 | 2, preSkip: number): OpusDecoderState | undefined {
    if (!this.hasRoom) return undefined;
    const pointer = createFrameDecoder(this.wasm, this.mapping, sampleRate, channels, preSkip);
    if (pointer === undefined) {
      this.full = true;
      return undefined;
    }
    this.live++;
    return { heap: this, pointer, channels };
  }

  /**
   * Decodes `packet` (at most {@link MAX_OPUS_PACKET_BYTES}) with `state`. Returns the libopus
   * error code (negative) for a packet it refuses.
   */
  decode(state: OpusDecoderState, packet: Uint8Array): DecodedOpusFrame | number {
    this.input.buf.set(packet);
    const n = this.wasm.opus_frame_decode_float_deinterleaved(
      state.pointer,
      this.input.ptr,
      packet.byteLength,
      this.output.ptr,
    );
    if (n < 0) return n;
    const buf = this.output.buf;
    return {
      left: buf.subarray(0, n),
      right: state.channels === 2 ? buf.subarray(n, 2 * n) : undefined,
      samples: n,
    };
  }

  /** Frees `state`'s memory for the next session. Call once per state. */
  release(state: OpusDecoderState): void {
    this.live--;
    // A heap that cannot free states one by one is dropped with its only state instead.
    if (this.sharable) {
      freeFrameDecoder(this.wasm, state.pointer);
      this.full = false;
    }
  }
}

/** Creates one wrapper state; `undefined` when libopus could not allocate all of it. */
function createFrameDecoder(
  wasm: OpusWasmExports,
  mapping: number,
  sampleRate: number,
  channels: 1 | 2,
  preSkip: number,
): number | undefined {
  const pointer = wasm.opus_frame_decoder_create(
    sampleRate,
    channels,
    1,
    channels - 1,
    mapping,
    preSkip,
    0,
  );
  if (pointer === 0) return undefined;
  const words = new Int32Array(wasm.HEAP, pointer, 8);
  // The wrapper does not check its own mallocs: a heap out of memory leaves NULL fields.
  if (words[FIELD.pcm] === 0 || words[FIELD.st] === 0) {
    if (words[FIELD.pcm] !== 0) wasm.free(words[FIELD.pcm]!);
    if (words[FIELD.st] !== 0) wasm.opus_frame_decoder_destroy(pointer);
    else wasm.free(pointer);
    return undefined;
  }
  return pointer;
}

/**
 * Frees a state completely. The wrapper's own destroy frees libopus's state and the struct
 * but not the struct's PCM buffer (and opus-decoder then frees the struct a second time,
 * harmless only because it throws the whole instance away); here the PCM buffer is freed
 * first and the struct exactly once.
 */
function freeFrameDecoder(wasm: OpusWasmExports, pointer: number): void {
  const pcm = new Int32Array(wasm.HEAP, pointer, 8)[FIELD.pcm]!;
  wasm.free(pcm);
  wasm.opus_frame_decoder_destroy(pointer);
}

/**
 * Checks that states are laid out as {@link FIELD} says and that freeing them returns their
 * memory: creates and frees a few dozen and watches that the allocator reuses the space.
 */
function probeStateLayout(wasm: OpusWasmExports, mapping: number): boolean {
  const first = createFrameDecoder(wasm, mapping, 48000, 1, PROBE_PRE_SKIP);
  if (first === undefined) return false;
  const words = new Int32Array(wasm.HEAP, first, 8);
  const heapBytes = wasm.HEAP.byteLength;
  const looksRight =
    words[FIELD.preSkip] === PROBE_PRE_SKIP &&
    words[FIELD.channels] === 1 &&
    words[FIELD.outputChannels] === 1 &&
    words[FIELD.forceStereo] === 0 &&
    words[FIELD.pcm]! > 0 &&
    words[FIELD.pcm]! < heapBytes &&
    words[FIELD.st]! > 0 &&
    words[FIELD.st]! < heapBytes;
  if (!looksRight) return false; // the probe's state leaks: one state, once per process
  freeFrameDecoder(wasm, first);
  // Leaking the ~23 KB PCM buffer per cycle would climb ~1.5 MB in 64 cycles; reuse stays put.
  let highest = first;
  for (let i = 0; i < 64; i++) {
    const pointer = createFrameDecoder(wasm, mapping, 48000, 2, 0);
    if (pointer === undefined) return false;
    highest = Math.max(highest, pointer);
    freeFrameDecoder(wasm, pointer);
  }
  return highest - first < 256 * 1024;
}

function exportsOf(host: OpusDecoder<48000>): OpusWasmExports {
  const wasm = (host as unknown as { _common?: { wasm?: Partial<OpusWasmExports> } })._common?.wasm;
  const ok =
    wasm !== undefined &&
    wasm.HEAP instanceof ArrayBuffer &&
    typeof wasm.malloc === 'function' &&
    typeof wasm.free === 'function' &&
    typeof wasm.opus_frame_decoder_create === 'function' &&
    typeof wasm.opus_frame_decode_float_deinterleaved === 'function' &&
    typeof wasm.opus_frame_decoder_destroy === 'function';
  if (!ok) throw new Error('opus-decoder is not the version Earshot was built against (0.7)');
  return wasm as OpusWasmExports;
}

/**
 * The process's heaps. States go into the first heap with room; a new heap starts only when
 * all are full. An empty heap other than the first is dropped so its memory can be reclaimed.
 */
export class OpusWasmHeapPool {
  private readonly heaps: OpusWasmHeap[] = [];
  private starting: Promise<OpusWasmHeap> | undefined;

  /** A state at once when a heap has room, else once a new heap has started. */
  acquire(
    sampleRate: number,
    channels: 1 | 2,
    preSkip: number,
  ): OpusDecoderState | Promise<OpusDecoderState> {
    for (const heap of this.heaps) {
      const state = heap.createState(sampleRate, channels, preSkip);
      if (state !== undefined) return state;
    }
    return this.startHeap().then((heap) => {
      const state = heap.createState(sampleRate, channels, preSkip);
      // Another waiter may have taken the new heap's only place (non-sharable heaps).
      return state ?? this.acquire(sampleRate, channels, preSkip);
    });
  }

  /** Frees `state`; drops its heap when that leaves an extra heap empty. */
  release(state: OpusDecoderState): void {
    const { heap } = state;
    heap.release(state);
    const index = this.heaps.indexOf(heap);
    // The first heap stays, warm for the next session, unless it can hold only one state.
    if (heap.liveStates === 0 && index >= 0 && (index > 0 || !heap.sharable)) {
      this.heaps.splice(index, 1);
    }
  }

  /** Starts the first heap ahead of the first session, so it does not wait. */
  warm(): Promise<void> {
    return this.heaps.length > 0 ? Promise.resolve() : this.startHeap().then(() => undefined);
  }

  /** Heaps alive (for tests and metrics). */
  get size(): number {
    return this.heaps.length;
  }

  private startHeap(): Promise<OpusWasmHeap> {
    this.starting ??= OpusWasmHeap.create().then(
      (heap) => {
        this.heaps.push(heap);
        this.starting = undefined;
        return heap;
      },
      (error: unknown) => {
        this.starting = undefined;
        throw error;
      },
    );
    return this.starting;
  }
}

/** The heaps every in-process Opus decoder of this process shares. */
export const opusWasmHeaps = new OpusWasmHeapPool();
