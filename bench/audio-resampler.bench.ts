// The audio pipeline's resampler against two baselines, side by side in one run:
//   speed    μ-law 8 kHz → PCM16 16 kHz over 60 s of audio in 20 ms chunks: our G.711 table +
//            our resampler vs our G.711 table + speex-resampler (WASM) at speex's default
//            quality (4) and its VoIP quality (3), and at the npm package's own default (7);
//   quality  log sine sweeps resampled by ours and by `sox … rate <to>` (its default quality,
//            `-h`; `-D` so sox adds no dither), each compared with the mathematically ideal
//            resampled sweep: in-band SNR, and the energy that aliases from a sweep above the
//            output's Nyquist.
// Run from the repository root: npx tsx --conditions=@earshot/source bench/audio-resampler.bench.ts
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import speexModule from 'speex-resampler';
import { decodeMulaw, encodeMulaw } from '../packages/server/src/audio/g711.js';
import { pcm16ToBytes } from '../packages/server/src/audio/pcm16.js';
import { createResampler, type ResamplerQuality } from '../packages/server/src/audio/resampler.js';

// The package is CommonJS with `exports.default`; ESM sees the whole exports object.
const SpeexResampler = speexModule.default;

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const SECONDS = 60;
const CHUNK = 160; // 20 ms of 8 kHz μ-law

// ---------------------------------------------------------------------------------------
// Speed

function speechLike(rate: number, seconds: number): Int16Array {
  // A few drifting harmonics with noise and a syllable-rate envelope: enough variety that no
  // path is favoured by silence or by a pure tone.
  const n = rate * seconds;
  const out = new Int16Array(n);
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    const f0 = 120 + 40 * Math.sin(2 * Math.PI * 0.3 * t);
    let v = 0;
    for (let h = 1; h <= 12; h++) v += Math.sin(2 * Math.PI * f0 * h * t) / h;
    seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
    const envelope = 0.5 + 0.5 * Math.sin(2 * Math.PI * 4 * t);
    out[i] = Math.round(envelope * (6000 * v + (seed >> 20)));
  }
  return out;
}

const mulaw = encodeMulaw(speechLike(8000, SECONDS));

function oursOnce(quality: ResamplerQuality): number {
  const resampler = createResampler(8000, 16000, { quality });
  const scratch = new Int16Array(CHUNK);
  let samples = 0;
  for (let at = 0; at < mulaw.length; at += CHUNK) {
    const pcm = decodeMulaw(mulaw.subarray(at, at + CHUNK), scratch);
    samples += pcm16ToBytes(resampler.process(pcm)).length >> 1;
  }
  return samples + resampler.flush().length;
}

function speexOnce(quality: number): number {
  const resampler = new SpeexResampler(1, 8000, 16000, quality);
  const scratch = new Int16Array(CHUNK);
  let samples = 0;
  for (let at = 0; at < mulaw.length; at += CHUNK) {
    const pcm = decodeMulaw(mulaw.subarray(at, at + CHUNK), scratch);
    samples +=
      resampler.processChunk(Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength)).length >> 1;
  }
  return samples;
}

function cpuSeconds(run: () => number): { cpu: number; samples: number } {
  const before = process.cpuUsage();
  const samples = run();
  const used = process.cpuUsage(before);
  return { cpu: (used.user + used.system) / 1e6, samples };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

await SpeexResampler.initPromise;

const speedCases: Array<{ name: string; run: () => number }> = [
  { name: 'ours default', run: () => oursOnce('default') },
  { name: 'ours voip', run: () => oursOnce('voip') },
  { name: 'ours high', run: () => oursOnce('high') },
  { name: 'speex q4 (default)', run: () => speexOnce(4) },
  { name: 'speex q3 (voip)', run: () => speexOnce(3) },
  { name: 'speex q7 (npm default)', run: () => speexOnce(7) },
];

// Warm every path up first so each is measured at its optimised tier; rounds interleave the
// cases so a noisy neighbour hits them all alike.
for (const c of speedCases) c.run();
const cpu = new Map<string, number[]>(speedCases.map((c) => [c.name, []]));
for (let round = 0; round < ROUNDS; round++) {
  for (const c of speedCases) cpu.get(c.name)!.push(cpuSeconds(c.run).cpu);
}
const realTime = new Map(speedCases.map((c) => [c.name, SECONDS / median(cpu.get(c.name)!)]));

console.log(
  `\nμ-law 8 kHz → PCM16 16 kHz, ${SECONDS} s of audio in 20 ms chunks, median of ${ROUNDS}`,
);
console.table(
  speedCases.map((c) => ({
    path: c.name,
    'ms CPU': +(median(cpu.get(c.name)!) * 1000).toFixed(1),
    '× real time / core': Math.round(realTime.get(c.name)!),
  })),
);
const ratio = (a: string, b: string) => (realTime.get(a)! / realTime.get(b)!).toFixed(2);
console.log(
  `ours default / speex q4 = ${ratio('ours default', 'speex q4 (default)')}×, ` +
    `ours voip / speex q3 = ${ratio('ours voip', 'speex q3 (voip)')}×, ` +
    `ours high / speex q7 = ${ratio('ours high', 'speex q7 (npm default)')}×`,
);

// ---------------------------------------------------------------------------------------
// Quality

const AMPLITUDE = 16384; // -6 dBFS
const SWEEP_SECONDS = 8;
const EDGE_SECONDS = 0.1; // the ends of a stream meet silence; they are not measured

/** A log sweep as a function of time, so it can be sampled at any rate. */
function logSweep(f0: number, f1: number): (t: number) => number {
  const k = Math.log(f1 / f0) / SWEEP_SECONDS;
  return (t) => AMPLITUDE * Math.sin(((2 * Math.PI * f0) / k) * (Math.exp(k * t) - 1));
}

function sampled(signal: (t: number) => number, rate: number): Int16Array {
  const out = new Int16Array(Math.round(rate * SWEEP_SECONDS));
  for (let i = 0; i < out.length; i++) out[i] = Math.round(signal(i / rate));
  return out;
}

function resampleOurs(
  input: Int16Array,
  from: number,
  to: number,
  quality: ResamplerQuality,
): Int16Array {
  const resampler = createResampler(from, to, { quality });
  const head = resampler.process(input);
  const tail = resampler.flush();
  const out = new Int16Array(head.length + tail.length);
  out.set(head);
  out.set(tail, head.length);
  return out;
}

const dir = mkdtempSync(join(tmpdir(), 'earshot-resampler-bench-'));
function resampleSox(input: Int16Array, from: number, to: number): Int16Array {
  const raw = ['-t', 'raw', '-e', 'signed-integer', '-b', '16', '-c', '1', '-L'];
  writeFileSync(join(dir, 'in.raw'), pcm16ToBytes(input));
  execFileSync('sox', [
    '-D',
    ...raw,
    '-r',
    String(from),
    join(dir, 'in.raw'),
    ...raw,
    join(dir, 'out.raw'),
    'rate',
    String(to),
  ]);
  const bytes = readFileSync(join(dir, 'out.raw'));
  return Int16Array.from({ length: bytes.length >> 1 }, (_, i) => bytes.readInt16LE(2 * i));
}

/**
 * SNR (dB) of `out` against the ideal signal sampled at `rate`, away from the edges; `lag`
 * output samples are skipped first (speex delays its output, ours and sox's do not).
 */
function snr(out: Int16Array, ideal: (t: number) => number, rate: number, lag = 0): number {
  let signal = 0;
  let error = 0;
  const from = Math.round(EDGE_SECONDS * rate);
  const to = Math.min(out.length - lag, Math.round((SWEEP_SECONDS - EDGE_SECONDS) * rate));
  for (let i = from; i < to; i++) {
    const want = ideal(i / rate);
    signal += want * want;
    error += (out[i + lag]! - want) ** 2;
  }
  return 10 * Math.log10(signal / error);
}

function resampleSpeex(input: Int16Array, from: number, to: number, quality: number): Int16Array {
  const resampler = new SpeexResampler(1, from, to, quality);
  const bytes = resampler.processChunk(
    Buffer.from(input.buffer, input.byteOffset, input.byteLength),
  );
  return Int16Array.from({ length: bytes.length >> 1 }, (_, i) => bytes.readInt16LE(2 * i));
}

// Speex's delay is a whole number of output samples for these ratios; take its best lag.
function speexSnr(out: Int16Array, ideal: (t: number) => number, rate: number): number {
  let best = Number.NEGATIVE_INFINITY;
  for (let lag = 0; lag < 128; lag++) best = Math.max(best, snr(out, ideal, rate, lag));
  return best;
}

/** Energy (dB) left in `out` by a sweep that lies wholly above the output's Nyquist. */
function aliasing(out: Int16Array, rate: number): number {
  let energy = 0;
  const from = Math.round(EDGE_SECONDS * rate);
  const to = Math.min(out.length, Math.round((SWEEP_SECONDS - EDGE_SECONDS) * rate));
  for (let i = from; i < to; i++) energy += out[i]! ** 2;
  return 10 * Math.log10(energy / (((to - from) * (AMPLITUDE * AMPLITUDE)) / 2));
}

interface QualityCase {
  name: string;
  from: number;
  to: number;
  signal: (t: number) => number;
  metric: 'SNR' | 'aliasing';
}

const qualityCases: QualityCase[] = [
  {
    name: '8k→16k sweep 20 Hz–3.6 kHz',
    from: 8000,
    to: 16000,
    signal: logSweep(20, 3600),
    metric: 'SNR',
  },
  {
    name: '48k→16k sweep 20 Hz–7.2 kHz',
    from: 48000,
    to: 16000,
    signal: logSweep(20, 7200),
    metric: 'SNR',
  },
  {
    name: '44.1k→16k sweep 20 Hz–7.2 kHz',
    from: 44100,
    to: 16000,
    signal: logSweep(20, 7200),
    metric: 'SNR',
  },
  {
    name: '48k→16k sweep 20 Hz–7.6 kHz',
    from: 48000,
    to: 16000,
    signal: logSweep(20, 7600),
    metric: 'SNR',
  },
  {
    name: '48k→16k sweep 10–23 kHz',
    from: 48000,
    to: 16000,
    signal: logSweep(10000, 23000),
    metric: 'aliasing',
  },
];

const fmt = (db: number) => (Number.isFinite(db) ? +db.toFixed(1) : db < 0 ? '-∞ (all 0)' : '∞');
const rows = [];
try {
  for (const c of qualityCases) {
    const input = sampled(c.signal, c.from);
    const measure = (out: Int16Array) =>
      c.metric === 'SNR' ? snr(out, c.signal, c.to) : aliasing(out, c.to);
    const sox = measure(resampleSox(input, c.from, c.to));
    const ours = measure(resampleOurs(input, c.from, c.to, 'default'));
    const high = measure(resampleOurs(input, c.from, c.to, 'high'));
    const voip = measure(resampleOurs(input, c.from, c.to, 'voip'));
    // Speex's delay is fractional for non-integer ratios, so only integer ratios can be
    // lined up with the ideal signal.
    const integerRatio = c.from % c.to === 0 || c.to % c.from === 0;
    const speexOut = resampleSpeex(input, c.from, c.to, 4);
    const speex = !integerRatio
      ? 'n/a'
      : c.metric === 'SNR'
        ? fmt(speexSnr(speexOut, c.signal, c.to))
        : fmt(aliasing(speexOut, c.to));
    rows.push({
      case: c.name,
      metric: c.metric === 'SNR' ? 'SNR dB (higher is better)' : 'alias dB (lower is better)',
      sox: fmt(sox),
      'ours default': fmt(ours),
      'default − sox': fmt(ours - sox),
      'ours high': fmt(high),
      'ours voip': fmt(voip),
      'speex q4': speex,
    });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log(
  `\nQuality against the ideal resampled signal (${SWEEP_SECONDS} s log sweeps at -6 dBFS, PCM16 out)`,
);
console.table(rows);
