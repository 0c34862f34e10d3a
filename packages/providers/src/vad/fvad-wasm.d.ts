// `@echogarden/fvad-wasm` ships no type declarations; this declares the part of its
// Emscripten module that webrtc-vad.ts uses. The C signatures are libfvad's (fvad.h).
declare module '@echogarden/fvad-wasm' {
  /** The instantiated Emscripten module of libfvad. */
  export interface FvadModule {
    /** `Fvad *fvad_new(void)`: a new instance (mode 0, 8 kHz), or 0 when out of memory. */
    _fvad_new(): number;
    /** `void fvad_free(Fvad *inst)`. */
    _fvad_free(handle: number): void;
    /** `void fvad_reset(Fvad *inst)`: back to the state of a new instance. */
    _fvad_reset(handle: number): void;
    /** `int fvad_set_mode(Fvad *inst, int mode)`: 0 on success, -1 for a mode outside 0–3. */
    _fvad_set_mode(handle: number, mode: number): number;
    /** `int fvad_set_sample_rate(Fvad *inst, int rate)`: 0 on success, -1 otherwise. */
    _fvad_set_sample_rate(handle: number, sampleRate: number): number;
    /** `int fvad_process(Fvad *inst, const int16_t *frame, size_t length)`: 1, 0 or -1. */
    _fvad_process(handle: number, framePointer: number, length: number): number;
    _malloc(bytes: number): number;
    _free(pointer: number): void;
    /** A view of the WASM memory; replaced by a new view whenever the memory grows. */
    readonly HEAP16: Int16Array;
  }

  /** Instantiates the module (reads and compiles `fvad.wasm` next to `fvad.js`). */
  export default function fvad(moduleArg?: Record<string, unknown>): Promise<FvadModule>;
}
