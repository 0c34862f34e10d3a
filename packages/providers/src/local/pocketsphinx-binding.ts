import type { PocketSphinxModelPaths } from './pocketsphinx-model.js';

type Koffi = typeof import('koffi').default;
type NativeFunction = ReturnType<ReturnType<Koffi['load']>['func']>;
/** An opaque C pointer as koffi hands it out. */
type Pointer = unknown;

/** The samples PocketSphinx's own `pocketsphinx_continuous` feeds per call; we match it. */
export const BLOCK_SAMPLES = 2048;
/** Bytes of one block of PCM16. */
export const BLOCK_BYTES = BLOCK_SAMPLES * 2;
/** PocketSphinx's default frame rate (`-frate`): frames per second of audio. */
export const FRAMES_PER_SECOND = 100;

/** Where to find the two shared libraries. */
export interface PocketSphinxLibraryPaths {
  /** `libpocketsphinx.so.3` or a full path to it. */
  readonly pocketsphinx: string;
  /** `libsphinxbase.so.3` or a full path to it. */
  readonly sphinxbase: string;
}

/** One recognized segment as PocketSphinx reports it: frames are relative to the utterance. */
export interface DecodedSegment {
  /** The dictionary word, possibly a filler (`<sil>`) or an alternate (`been(2)`). */
  readonly word: string;
  readonly startFrame: number;
  /** Inclusive last frame. */
  readonly endFrame: number;
  /** Posterior probability in [0, 1] (finals); may be meaningless in partial results. */
  readonly probability: number;
}

/** The C functions we call, bound once per library pair. */
export interface PocketSphinxBinding {
  readonly koffi: Koffi;
  readonly fn: Readonly<Record<FunctionName, NativeFunction>>;
}

type FunctionName =
  | 'ps_args'
  | 'cmd_ln_parse_r'
  | 'cmd_ln_free_r'
  | 'ps_init'
  | 'ps_free'
  | 'ps_start_utt'
  | 'ps_process_raw'
  | 'ps_get_in_speech'
  | 'ps_get_n_frames'
  | 'ps_end_utt'
  | 'ps_get_hyp'
  | 'ps_seg_iter'
  | 'ps_seg_next'
  | 'ps_seg_word'
  | 'ps_seg_frames'
  | 'ps_seg_prob'
  | 'ps_seg_free'
  | 'ps_get_logmath'
  | 'logmath_exp';

const bindings = new Map<string, PocketSphinxBinding>();

/**
 * Loads koffi and the two libraries and declares the functions we use. Cached per library
 * pair. koffi itself is imported here, not at module load, so importing the provider never
 * touches native code. Throws whatever koffi throws when a library cannot be loaded.
 */
export async function loadPocketSphinx(
  paths: PocketSphinxLibraryPaths,
): Promise<PocketSphinxBinding> {
  const key = `${paths.pocketsphinx}\0${paths.sphinxbase}`;
  const cached = bindings.get(key);
  if (cached) return cached;
  const koffi = (await import('koffi')).default;
  // SphinxBase first: PocketSphinx links against it, and we call two of its functions.
  const sb = koffi.load(paths.sphinxbase);
  const ps = koffi.load(paths.pocketsphinx);
  // Anonymous opaque types: named ones live in koffi's process-wide registry and would
  // collide if this module is evaluated twice (test runners do that).
  const decoder = koffi.pointer(koffi.opaque());
  const config = koffi.pointer(koffi.opaque());
  const segment = koffi.pointer(koffi.opaque());
  const argDefs = koffi.pointer(koffi.opaque());
  const logmath = koffi.pointer(koffi.opaque());
  const outInt = koffi.out(koffi.pointer('int32_t'));
  const fn: Record<FunctionName, NativeFunction> = {
    ps_args: ps.func('ps_args', argDefs, []),
    cmd_ln_parse_r: sb.func('cmd_ln_parse_r', config, [
      'void *',
      argDefs,
      'int32_t',
      koffi.pointer('const char *'),
      'int32_t',
    ]),
    cmd_ln_free_r: sb.func('cmd_ln_free_r', 'int', [config]),
    ps_init: ps.func('ps_init', decoder, [config]),
    ps_free: ps.func('ps_free', 'int', [decoder]),
    ps_start_utt: ps.func('ps_start_utt', 'int', [decoder]),
    ps_process_raw: ps.func('ps_process_raw', 'int', [
      decoder,
      'const int16_t *',
      'size_t',
      'int',
      'int',
    ]),
    ps_get_in_speech: ps.func('ps_get_in_speech', 'uint8_t', [decoder]),
    ps_get_n_frames: ps.func('ps_get_n_frames', 'int', [decoder]),
    ps_end_utt: ps.func('ps_end_utt', 'int', [decoder]),
    ps_get_hyp: ps.func('ps_get_hyp', 'const char *', [decoder, outInt]),
    ps_seg_iter: ps.func('ps_seg_iter', segment, [decoder]),
    ps_seg_next: ps.func('ps_seg_next', segment, [segment]),
    ps_seg_word: ps.func('ps_seg_word', 'const char *', [segment]),
    ps_seg_frames: ps.func('ps_seg_frames', 'void', [segment, outInt, outInt]),
    ps_seg_prob: ps.func('ps_seg_prob', 'int32_t', [segment, outInt, outInt, outInt]),
    ps_seg_free: ps.func('ps_seg_free', 'void', [segment]),
    ps_get_logmath: ps.func('ps_get_logmath', logmath, [decoder]),
    logmath_exp: sb.func('logmath_exp', 'double', [logmath, 'int']),
  };
  const binding: PocketSphinxBinding = { koffi, fn };
  bindings.set(key, binding);
  return binding;
}

/** Calls a native function on koffi's worker threads, off the event loop. */
function callAsync<T>(fn: NativeFunction, ...args: unknown[]): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    fn.async(...args, (error: unknown, result: T) => {
      if (error) reject(error);
      else resolve(result);
    });
  });
}

function check(name: string, status: number): void {
  if (status < 0) throw new Error(`${name} failed with status ${status}`);
}

/**
 * One PocketSphinx decoder (`ps_decoder_t`) and its native audio block.
 *
 * A decoder is not thread-safe, and its heavy calls run on koffi's worker threads, so every
 * call goes through one promise chain: at most one native call per decoder is in flight,
 * whoever asks. The cheap accessors (`inSpeech`, `frameCount`, `segments`, `startUtterance`)
 * run synchronously and must only be called between chained calls, which the stream does by
 * awaiting each one.
 */
export class PocketSphinxDecoder {
  /** A view of the native block PocketSphinx reads samples from; fill it, then `processBlock`. */
  readonly block: Uint8Array;
  private readonly fn: PocketSphinxBinding['fn'];
  private readonly koffi: Koffi;
  private readonly blockPointer: Pointer;
  private tail: Promise<unknown> = Promise.resolve();
  private inUtterance = false;
  private freed = false;

  private constructor(
    binding: PocketSphinxBinding,
    private readonly ps: Pointer,
  ) {
    this.fn = binding.fn;
    this.koffi = binding.koffi;
    // Native memory, not a Node Buffer: the worker thread reads it while JS runs on, and
    // koffi then passes the pointer through untouched, without a copy per call.
    this.blockPointer = binding.koffi.alloc('int16_t', BLOCK_SAMPLES);
    this.block = new Uint8Array(binding.koffi.view(this.blockPointer, BLOCK_BYTES));
  }

  /**
   * Builds a decoder from the model (`ps_init`, about half a second of CPU, off the event
   * loop). Rejects when PocketSphinx refuses the configuration or the model.
   */
  static async create(
    binding: PocketSphinxBinding,
    model: PocketSphinxModelPaths,
  ): Promise<PocketSphinxDecoder> {
    const { fn } = binding;
    const argv = ['-hmm', model.hmm, '-lm', model.lm, '-dict', model.dict, '-logfn', '/dev/null'];
    const config = fn.cmd_ln_parse_r(null, fn.ps_args(), argv.length, argv, 1);
    if (!config) throw new Error('cmd_ln_parse_r rejected the decoder configuration');
    try {
      const ps = await callAsync<Pointer>(fn.ps_init, config);
      if (!ps) throw new Error('ps_init failed: the model could not be loaded');
      return new PocketSphinxDecoder(binding, ps);
    } finally {
      // ps_init keeps its own reference to the configuration.
      fn.cmd_ln_free_r(config);
    }
  }

  private chain<T>(work: () => Promise<T>): Promise<T> {
    const run = this.tail.then(() => {
      if (this.freed) throw new Error('PocketSphinx decoder was freed');
      return work();
    });
    // The chain continues after a failure: the next caller decides what a failure means.
    this.tail = run.catch(() => {});
    return run;
  }

  /** Starts an utterance (`ps_start_utt`). */
  startUtterance(): void {
    check('ps_start_utt', this.fn.ps_start_utt(this.ps));
    this.inUtterance = true;
  }

  /** Decodes the first `samples` samples of {@link block} (`ps_process_raw`, off the loop). */
  processBlock(samples: number): Promise<void> {
    return this.chain(async () => {
      const status = await callAsync<number>(
        this.fn.ps_process_raw,
        this.ps,
        this.blockPointer,
        samples,
        0,
        0,
      );
      check('ps_process_raw', status);
    });
  }

  /** Whether the voice activity detector hears speech now. */
  inSpeech(): boolean {
    return this.fn.ps_get_in_speech(this.ps) !== 0;
  }

  /** Frames searched so far in this utterance (silence the detector dropped is not counted). */
  frameCount(): number {
    return this.fn.ps_get_n_frames(this.ps) as number;
  }

  /** Ends the utterance (`ps_end_utt`: final search passes, off the loop). */
  endUtterance(): Promise<void> {
    return this.chain(async () => {
      if (!this.inUtterance) return;
      this.inUtterance = false;
      check('ps_end_utt', await callAsync<number>(this.fn.ps_end_utt, this.ps));
    });
  }

  /**
   * The best hypothesis so far (partial during an utterance, final after it), as
   * PocketSphinx prints it: fillers left out, alternates by their base word. Off the loop,
   * because after an utterance it builds the lattice.
   */
  hypothesis(): Promise<string> {
    return this.chain(async () => {
      const hyp = await callAsync<string | null>(this.fn.ps_get_hyp, this.ps, [0]);
      return hyp ?? '';
    });
  }

  /** The segments of the current hypothesis, in order. Call after {@link hypothesis}. */
  segments(): DecodedSegment[] {
    const { fn } = this;
    const logmath = fn.ps_get_logmath(this.ps);
    const segments: DecodedSegment[] = [];
    let seg = fn.ps_seg_iter(this.ps);
    // ps_seg_next frees the iterator when it returns NULL, so no ps_seg_free on that path.
    while (seg) {
      const start = [0];
      const end = [0];
      fn.ps_seg_frames(seg, start, end);
      const logProbability = fn.ps_seg_prob(seg, [0], [0], [0]) as number;
      const probability = fn.logmath_exp(logmath, logProbability) as number;
      segments.push({
        word: fn.ps_seg_word(seg) as string,
        startFrame: start[0] ?? 0,
        endFrame: end[0] ?? 0,
        probability: Number.isFinite(probability) ? Math.min(1, Math.max(0, probability)) : 0,
      });
      seg = fn.ps_seg_next(seg);
    }
    return segments;
  }

  /** Frees the decoder and its block once any call in flight has finished. Idempotent. */
  free(): Promise<void> {
    return this.chain(async () => {
      this.freed = true;
      await callAsync<number>(this.fn.ps_free, this.ps);
      this.koffi.free(this.blockPointer);
    }).catch((error: unknown) => {
      // A second free finds the decoder already freed: nothing to do.
      if (!this.freed) throw error;
    });
  }
}
