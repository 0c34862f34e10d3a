/**
 * A streaming, band-limited sample-rate converter for mono PCM16.
 *
 * Windowed-sinc interpolation (Kaiser window) in polyphase form: for a rate pair reduced to
 * `to/from = L/M`, output sample `n` sits at input time `n·M/L`, and its `L` possible
 * fractional positions each get a precomputed row of filter taps. The low-pass cutoff is the
 * Nyquist frequency of the lower rate, at the middle of the transition band, so nothing above
 * it folds back further than the top of the transition band.
 *
 * Output is time-aligned with input (zero phase): output sample `n` estimates the signal at
 * `n / toRate` seconds. That costs a lookahead of {@link Resampler.latencySamples} input
 * samples, which {@link Resampler.flush} releases at the end of a stream.
 */
import { EarshotError, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE } from '@earshot/protocol';

/**
 * How hard the filter works.
 *
 * | quality   | stopband | flat to (of the lower Nyquist) | taps per odd output at 8k→16k |
 * |-----------|----------|--------------------------------|-------------------------------|
 * | `voip`    | 70 dB    | 85 %                           | 30                            |
 * | `default` | 100 dB   | 90 %                           | 66                            |
 * | `high`    | 120 dB   | 95 %                           | 158                           |
 *
 * (Even outputs of an integer upsampling are input samples, copied.) Costs and SNR are
 * measured in `bench/audio-resampler.bench.ts`.
 */
export type ResamplerQuality = 'voip' | 'default' | 'high';

/** Options of {@link createResampler}. */
export interface ResamplerOptions {
  /** Filter quality; `default` unless given. */
  quality?: ResamplerQuality;
}

/** A stateful converter for one stream of mono PCM16 from one rate to another. */
export interface Resampler {
  /** Input sample rate, in Hz. */
  readonly fromRate: number;
  /** Output sample rate, in Hz. */
  readonly toRate: number;
  /**
   * Input samples held back as lookahead: output for the last this-many input samples of a
   * stream comes out of {@link Resampler.flush}. 0 when the rates are equal.
   */
  readonly latencySamples: number;
  /**
   * Converts the next chunk (any length, including 0) and returns every output sample it
   * completes, in a new array. Concatenated over a stream, the outputs are the same, bit for
   * bit, however the stream was cut into chunks.
   */
  process(input: Int16Array): Int16Array;
  /**
   * Ends the stream: returns the output still owed (the input beyond the stream's end counts as
   * silence) and resets, so the resampler can start a new stream. Over a whole stream,
   * `ceil(inputSamples · toRate / fromRate)` samples come out.
   */
  flush(): Int16Array;
}

interface QualitySpec {
  /** Stopband attenuation, dB; also sets the passband ripple (Kaiser's δ is the same). */
  readonly attenuation: number;
  /** Width of the transition band as a fraction of the lower Nyquist, centred on it. */
  readonly transition: number;
}

const QUALITY: Readonly<Record<ResamplerQuality, QualitySpec>> = {
  voip: { attenuation: 70, transition: 0.3 },
  default: { attenuation: 100, transition: 0.2 },
  high: { attenuation: 120, transition: 0.1 },
};

const EMPTY = new Int16Array(0);

// A phase row is applied one of three ways, chosen when the table is built.
const GENERAL = 0;
// Mirror-image taps: half the multiplications.
const SYMMETRIC = 1;
// A single tap of exactly 1 (upsampling by an integer at phase 0): the input sample itself.
const COPY = 2;

// Exact polyphase tables up to this many coefficients (2 MB of float64); rate pairs beyond it
// (only odd pairs such as 47999→48000, whose reduced L is huge) use INTERPOLATED_PHASES rows and
// interpolate linearly between neighbours, which keeps errors near -108 dB at 0.9 Nyquist.
const MAX_EXACT_COEFFICIENTS = 1 << 18;
const INTERPOLATED_PHASES = 512;

/** The precomputed filter of one rate pair and quality; shared by all streams using it. */
interface FilterTable {
  readonly L: number;
  readonly M: number;
  /** Half the filter span, in input samples. */
  readonly half: number;
  /** Rows: L (exact) or INTERPOLATED_PHASES + 1 (interpolated). */
  readonly phases: number;
  readonly interpolated: boolean;
  readonly coefficients: Float64Array;
  readonly rowOffset: Int32Array;
  /** Where a row's first tap falls, relative to the first tap of the full span. */
  readonly rowStart: Int32Array;
  readonly rowLength: Int32Array;
  readonly rowKind: Uint8Array;
}

// Tables are keyed by rate pair and quality. Bounded, because clients choose their rates.
const TABLE_CACHE_LIMIT = 32;
const tables = new Map<string, FilterTable>();

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

function besselI0(x: number): number {
  const q = (x * x) / 4;
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 200; k++) {
    term *= q / (k * k);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return sum;
}

function kaiserBeta(attenuation: number): number {
  if (attenuation > 50) return 0.1102 * (attenuation - 8.7);
  if (attenuation >= 21) {
    return 0.5842 * (attenuation - 21) ** 0.4 + 0.07886 * (attenuation - 21);
  }
  return 0;
}

function buildTable(fromRate: number, toRate: number, spec: QualitySpec): FilterTable {
  const g = gcd(fromRate, toRate);
  const L = toRate / g;
  const M = fromRate / g;
  // Cutoff relative to the input Nyquist: the lower of the two Nyquists.
  const cutoff = Math.min(1, L / M);
  // Kaiser's estimate of the length for this attenuation and transition width (in cycles
  // per input sample), stretched by 1/cutoff when downsampling.
  const width = (spec.transition / 2) * cutoff;
  const length = (spec.attenuation - 7.95) / (14.36 * width);
  const half = Math.ceil(length / 2);
  const beta = kaiserBeta(spec.attenuation);
  const i0Beta = besselI0(beta);
  const span = 2 * half;

  const kernel = (tau: number): number => {
    const t = Math.abs(tau);
    if (t >= half) return 0;
    const x = cutoff * t;
    const r = t / half;
    const window = besselI0(beta * Math.sqrt(1 - r * r)) / i0Beta;
    if (x === 0) return cutoff * window;
    // Exact zeros at the sinc's zero crossings keep COPY rows and symmetric rows exact.
    if (Number.isInteger(x)) return 0;
    return (cutoff * window * Math.sin(Math.PI * x)) / (Math.PI * x);
  };

  const interpolated = L * span > MAX_EXACT_COEFFICIENTS;
  const phases = interpolated ? INTERPOLATED_PHASES + 1 : L;
  const rowOffset = new Int32Array(phases);
  const rowStart = new Int32Array(phases);
  const rowLength = new Int32Array(phases);
  const rowKind = new Uint8Array(phases);
  const rows: Float64Array[] = [];
  let total = 0;
  const row = new Float64Array(span);

  for (let p = 0; p < phases; p++) {
    const fraction = interpolated ? p / INTERPOLATED_PHASES : p / L;
    let sum = 0;
    for (let k = 0; k < span; k++) {
      row[k] = kernel(fraction + half - 1 - k);
      sum += row[k]!;
    }
    // Each phase gets exactly unity DC gain, so no phase adds a tone at the phase rate.
    for (let k = 0; k < span; k++) row[k] = row[k]! / sum;

    let first = 0;
    let last = span - 1;
    // Interpolated rows keep the full span so neighbours line up tap for tap.
    if (!interpolated) {
      while (first < last && row[first] === 0) first++;
      while (last > first && row[last] === 0) last--;
    }
    const taps = row.slice(first, last + 1);
    let kind = GENERAL;
    if (!interpolated) {
      if (taps.length === 1 && taps[0] === 1) kind = COPY;
      else if (isSymmetric(taps)) kind = SYMMETRIC;
    }
    rows.push(taps);
    rowOffset[p] = total;
    rowStart[p] = first;
    rowLength[p] = taps.length;
    rowKind[p] = kind;
    total += taps.length;
  }

  const coefficients = new Float64Array(total);
  for (let p = 0; p < phases; p++) coefficients.set(rows[p]!, rowOffset[p]);
  return {
    L,
    M,
    half,
    phases,
    interpolated,
    coefficients,
    rowOffset,
    rowStart,
    rowLength,
    rowKind,
  };
}

function isSymmetric(taps: Float64Array): boolean {
  for (let i = 0, j = taps.length - 1; i < j; i++, j--) {
    if (taps[i] !== taps[j]) return false;
  }
  return true;
}

function tableFor(fromRate: number, toRate: number, quality: ResamplerQuality): FilterTable {
  const key = `${fromRate}:${toRate}:${quality}`;
  let table = tables.get(key);
  if (table === undefined) {
    table = buildTable(fromRate, toRate, QUALITY[quality]);
    if (tables.size >= TABLE_CACHE_LIMIT) {
      const oldest = tables.keys().next().value;
      if (oldest !== undefined) tables.delete(oldest);
    }
    tables.set(key, table);
  }
  return table;
}

function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate < MIN_SAMPLE_RATE || rate > MAX_SAMPLE_RATE) {
    throw new EarshotError(
      'unsupported_audio_format',
      `${name} ${rate} Hz is not an integer from ${MIN_SAMPLE_RATE} to ${MAX_SAMPLE_RATE}`,
    );
  }
}

function toInt16(value: number): number {
  return Math.min(32767, Math.max(-32768, Math.round(value)));
}

// Every output is one dot product summed in one fixed order (tap 0 first, one running sum),
// whichever routine computes it: that is what makes the output independent of chunking. The
// block routines compute four outputs of the same phase at once, which gives the CPU four
// independent sums to overlap and lets the four share each coefficient load.

function dotOne(
  c: Float64Array,
  offset: number,
  len: number,
  symmetric: boolean,
  x: Float64Array,
  start: number,
): number {
  let acc = 0;
  if (symmetric) {
    const end = start + len - 1;
    const pairs = len >> 1;
    for (let k = 0; k < pairs; k++) acc += c[offset + k]! * (x[start + k]! + x[end - k]!);
    if (len & 1) acc += c[offset + pairs]! * x[start + pairs]!;
  } else {
    for (let k = 0; k < len; k++) acc += c[offset + k]! * x[start + k]!;
  }
  return acc;
}

// Four outputs whose windows start at `start + j * shift` (j = 0..3), written to
// `out[at + j * stride]`.
function dotFour(
  c: Float64Array,
  offset: number,
  len: number,
  symmetric: boolean,
  x: Float64Array,
  start: number,
  shift: number,
  out: Int16Array,
  at: number,
  stride: number,
): void {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  if (symmetric && shift === 1) {
    // Consecutive windows: each step slides four samples on each side by one, so two loads
    // feed eight products.
    const end = start + len - 1;
    const pairs = len >> 1;
    let f0 = x[start]!;
    let f1 = x[start + 1]!;
    let f2 = x[start + 2]!;
    let f3 = x[start + 3]!;
    let b0 = x[end]!;
    let b1 = x[end + 1]!;
    let b2 = x[end + 2]!;
    let b3 = x[end + 3]!;
    for (let k = 0; k < pairs; k++) {
      const ck = c[offset + k]!;
      a0 += ck * (f0 + b0);
      a1 += ck * (f1 + b1);
      a2 += ck * (f2 + b2);
      a3 += ck * (f3 + b3);
      f0 = f1;
      f1 = f2;
      f2 = f3;
      f3 = x[start + k + 4]!;
      b3 = b2;
      b2 = b1;
      b1 = b0;
      b0 = x[end - k - 1]!;
    }
    if (len & 1) {
      const cm = c[offset + pairs]!;
      const m = start + pairs;
      a0 += cm * x[m]!;
      a1 += cm * x[m + 1]!;
      a2 += cm * x[m + 2]!;
      a3 += cm * x[m + 3]!;
    }
  } else if (symmetric) {
    const end = start + len - 1;
    const pairs = len >> 1;
    const s2 = 2 * shift;
    const s3 = 3 * shift;
    for (let k = 0; k < pairs; k++) {
      const ck = c[offset + k]!;
      const f = start + k;
      const b = end - k;
      a0 += ck * (x[f]! + x[b]!);
      a1 += ck * (x[f + shift]! + x[b + shift]!);
      a2 += ck * (x[f + s2]! + x[b + s2]!);
      a3 += ck * (x[f + s3]! + x[b + s3]!);
    }
    if (len & 1) {
      const cm = c[offset + pairs]!;
      const m = start + pairs;
      a0 += cm * x[m]!;
      a1 += cm * x[m + shift]!;
      a2 += cm * x[m + s2]!;
      a3 += cm * x[m + s3]!;
    }
  } else {
    const s2 = 2 * shift;
    const s3 = 3 * shift;
    for (let k = 0; k < len; k++) {
      const ck = c[offset + k]!;
      const f = start + k;
      a0 += ck * x[f]!;
      a1 += ck * x[f + shift]!;
      a2 += ck * x[f + s2]!;
      a3 += ck * x[f + s3]!;
    }
  }
  out[at] = toInt16(a0);
  out[at + stride] = toInt16(a1);
  out[at + 2 * stride] = toInt16(a2);
  out[at + 3 * stride] = toInt16(a3);
}

/** The identity: equal rates pass through untouched. */
class PassThrough implements Resampler {
  readonly latencySamples = 0;
  constructor(
    readonly fromRate: number,
    readonly toRate: number,
  ) {}
  process(input: Int16Array): Int16Array {
    return input;
  }
  flush(): Int16Array {
    return EMPTY;
  }
}

class PolyphaseResampler implements Resampler {
  readonly latencySamples: number;
  private readonly table: FilterTable;
  // Input history plus the current chunk, as float64 so the dot products need no conversion.
  private buffer: Float64Array;
  private length = 0;
  // The output clock: the next output sits at input index `position + phase / L` (buffer
  // coordinates), kept as integers so no rounding ever drifts.
  private position = 0;
  private phase = 0;

  constructor(
    readonly fromRate: number,
    readonly toRate: number,
    quality: ResamplerQuality,
  ) {
    this.table = tableFor(fromRate, toRate, quality);
    this.latencySamples = this.table.half;
    this.buffer = new Float64Array(4 * this.table.half + 4096);
    this.reset();
  }

  process(input: Int16Array): Int16Array {
    this.append(input);
    return this.emit(this.length - 1 - this.table.half);
  }

  flush(): Int16Array {
    const last = this.length - 1;
    // Silence after the end, enough for the last output's lookahead.
    this.append(undefined, this.table.half);
    const out = this.emit(last);
    this.reset();
    return out;
  }

  private reset(): void {
    // Silence before the start: the first output's look-back.
    const half = this.table.half;
    this.buffer.fill(0, 0, half - 1);
    this.length = half - 1;
    this.position = half - 1;
    this.phase = 0;
  }

  private append(input: Int16Array | undefined, zeros = 0): void {
    const added = input === undefined ? zeros : input.length;
    const needed = this.length + added;
    if (needed > this.buffer.length) {
      const grown = new Float64Array(Math.max(needed, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.length));
      this.buffer = grown;
    }
    if (input === undefined) this.buffer.fill(0, this.length, needed);
    else this.buffer.set(input, this.length);
    this.length = needed;
  }

  // Emits every output whose integer position is at most `limit`, then drops the input no
  // later output will look at.
  private emit(limit: number): Int16Array {
    const { L, M, half } = this.table;
    let position = this.position;
    let phase = this.phase;
    if (position > limit) return EMPTY;
    const count = Math.ceil(((limit - position + 1) * L - phase) / M);
    const out = new Int16Array(count);
    if (this.table.interpolated) {
      this.runInterpolated(out, count);
    } else {
      this.runExact(out, count);
    }
    // Advance the clock by count steps at once (same result as stepping).
    const steps = phase + count * M;
    position += Math.floor(steps / L);
    phase = steps % L;
    const keepFrom = position - half + 1;
    if (keepFrom > 0) {
      this.buffer.copyWithin(0, keepFrom, this.length);
      this.length -= keepFrom;
      position -= keepFrom;
    }
    this.position = position;
    this.phase = phase;
    return out;
  }

  private runExact(out: Int16Array, count: number): void {
    const { L, M, half, coefficients: c, rowOffset, rowStart, rowLength, rowKind } = this.table;
    const x = this.buffer;
    const step = Math.floor(M / L);
    const stepPhase = M % L;
    let position = this.position;
    let phase = this.phase;
    let n = 0;

    // Single outputs up to the next phase 0, then whole cycles of 4·L outputs (four outputs
    // per phase, M input samples apart), then single outputs again.
    for (; n < count && phase !== 0; n++) {
      out[n] = this.single(position, phase);
      position += step;
      phase += stepPhase;
      if (phase >= L) {
        phase -= L;
        position++;
      }
    }
    const cycle = 4 * L;
    while (n + cycle <= count) {
      for (let m = 0; m < L; m++) {
        const total = m * M;
        const p = total % L;
        const start = position + Math.floor(total / L) - half + 1 + rowStart[p]!;
        const at = n + m;
        if (rowKind[p] === COPY) {
          out[at] = x[start]!;
          out[at + L] = x[start + M]!;
          out[at + 2 * L] = x[start + 2 * M]!;
          out[at + 3 * L] = x[start + 3 * M]!;
        } else {
          const symmetric = rowKind[p] === SYMMETRIC;
          dotFour(c, rowOffset[p]!, rowLength[p]!, symmetric, x, start, M, out, at, L);
        }
      }
      n += cycle;
      position += 4 * M;
    }
    for (; n < count; n++) {
      out[n] = this.single(position, phase);
      position += step;
      phase += stepPhase;
      if (phase >= L) {
        phase -= L;
        position++;
      }
    }
  }

  // One output at an integer position and phase.
  private single(position: number, phase: number): number {
    const { half, coefficients, rowOffset, rowStart, rowLength, rowKind } = this.table;
    const x = this.buffer;
    const start = position - half + 1 + rowStart[phase]!;
    const kind = rowKind[phase]!;
    // COPY rows hold an input sample, already a whole number in range.
    if (kind === COPY) return x[start]!;
    const len = rowLength[phase]!;
    return toInt16(dotOne(coefficients, rowOffset[phase]!, len, kind === SYMMETRIC, x, start));
  }

  private runInterpolated(out: Int16Array, count: number): void {
    const { L, M, half, coefficients: c } = this.table;
    const x = this.buffer;
    const span = 2 * half;
    const step = Math.floor(M / L);
    const stepPhase = M % L;
    let position = this.position;
    let phase = this.phase;
    for (let n = 0; n < count; n++) {
      const start = position - half + 1;
      const scaled = phase * INTERPOLATED_PHASES;
      const row = Math.floor(scaled / L);
      const blend = (scaled - row * L) / L;
      const a = row * span;
      const b = a + span;
      let lower = 0;
      let upper = 0;
      for (let k = 0; k < span; k++) {
        const sample = x[start + k]!;
        lower += c[a + k]! * sample;
        upper += c[b + k]! * sample;
      }
      out[n] = toInt16(lower + blend * (upper - lower));
      position += step;
      phase += stepPhase;
      if (phase >= L) {
        phase -= L;
        position++;
      }
    }
  }
}

/**
 * Creates a streaming resampler for mono PCM16 from `fromRate` to `toRate` (integers from
 * 8000 to 48000 Hz). Equal rates give a pass-through that returns its input untouched.
 *
 * Filter tables are computed once per rate pair and quality and shared; each stream keeps
 * only its input history (about two filter spans).
 *
 * @throws EarshotError `unsupported_audio_format` for a rate outside 8000–48000 or not an
 * integer, or an unknown quality.
 *
 * @example
 * ```ts
 * const resampler = createResampler(8000, 16000);
 * const out = resampler.process(decodeMulaw(chunk)); // 16 kHz samples, ~2× as many
 * const tail = resampler.flush();                    // at the end of the stream
 * ```
 */
export function createResampler(
  fromRate: number,
  toRate: number,
  options: ResamplerOptions = {},
): Resampler {
  checkRate('input rate', fromRate);
  checkRate('output rate', toRate);
  const quality = options.quality ?? 'default';
  if (!Object.hasOwn(QUALITY, quality)) {
    throw new EarshotError('unsupported_audio_format', `unknown resampler quality ${quality}`);
  }
  if (fromRate === toRate) return new PassThrough(fromRate, toRate);
  return new PolyphaseResampler(fromRate, toRate, quality);
}
