// In-process Opus decoding (our WebM demuxer + libopus in WASM) against one FFmpeg child per
// session, side by side in one run, on the same 60 s of WebM/Opus (a PocketSphinx recording
// looped, 32 kbit/s, with MediaRecorder's unknown Segment/Cluster sizes), fed in 4 KB chunks.
// Reported per concurrency level (1, 10, 50 sessions decoding at once):
//   × real time per core  audio seconds decoded per CPU second (in-process: this process's
//                          CPU; FFmpeg: this process's CPU plus its reaped children's, from
//                          /proc/self/stat cutime+cstime);
//   memory per session     in-process: the JS heap and ArrayBuffers that N live sessions hold,
//                          after GC, / N, plus one decoder state's bytes inside the shared
//                          libopus instance (the instance itself, 28 MiB of address space
//                          of which ~1 MB is touched, is started once per process by the
//                          warm-up). RSS growth is too noisy to weigh ~100 KB at N = 1;
//                          FFmpeg: VmRSS of each child mid-stream, averaged (its own RSS,
//                          shared libraries included).
// Each figure is the median of 3 rounds.
// Run from the repository root:  npx tsx --conditions=@earshot/source bench/opus-decode.bench.ts
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AudioSink, AudioStage } from '../packages/server/src/audio/audio-stage.js';
import { toLiveWebm } from '../packages/server/src/audio/opus/__fixtures__/opus-fixtures.js';
import { FfmpegOpusStage, WebmOpusStage } from '../packages/server/src/audio/opus/index.js';
import { OpusWasmHeap } from '../packages/server/src/audio/opus/opus-wasm-heap.js';

const RECORDING =
  '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav';
const AUDIO_SECONDS = 60;
const CHUNK = 4096;
const LEVELS = [1, 10, 50];
const ROUNDS = 3;

const dir = mkdtempSync(join(tmpdir(), 'earshot-opus-bench-'));
const file = join(dir, 'long.webm');
await promisify(execFile)('ffmpeg', [
  ...['-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', '-1', '-i', RECORDING],
  ...['-t', String(AUDIO_SECONDS), '-c:a', 'libopus', '-b:a', '32k', '-f', 'webm', file],
]);
const webm = toLiveWebm(new Uint8Array(readFileSync(file)));
rmSync(dir, { recursive: true, force: true });
const chunks: Uint8Array[] = [];
for (let at = 0; at < webm.byteLength; at += CHUNK) chunks.push(webm.subarray(at, at + CHUNK));

interface Counter extends AudioSink {
  bytes: number;
  errors: number;
  reached(bytes: number): Promise<void>;
}

function counter(): Counter {
  let waiter: { bytes: number; resolve: () => void } | undefined;
  const sink: Counter = {
    bytes: 0,
    errors: 0,
    data(chunk) {
      sink.bytes += chunk.byteLength;
      if (waiter && sink.bytes >= waiter.bytes) {
        waiter.resolve();
        waiter = undefined;
      }
    },
    error(error) {
      sink.errors++;
      console.error('decoder error:', error.message);
    },
    reached(bytes) {
      if (sink.bytes >= bytes) return Promise.resolve();
      return new Promise((resolve) => {
        waiter = { bytes, resolve };
      });
    },
  };
  return sink;
}

function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

function vmRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
}

const gc = (globalThis as { gc?: () => void }).gc;

// CPU spent collecting garbage for the memory figures, kept out of the speed figures.
let measuringCpu = 0;

function settled<T>(read: () => T): T {
  const cpu0 = ownCpuSeconds();
  gc?.();
  gc?.();
  const value = read();
  measuringCpu += ownCpuSeconds() - cpu0;
  return value;
}

function rssKb(): number {
  return settled(() => process.memoryUsage().rss / 1024);
}

/** JS objects and ArrayBuffers the process holds, after collecting garbage. */
function jsRetainedKb(): number {
  return settled(() => {
    const m = process.memoryUsage();
    return (m.heapUsed + m.arrayBuffers) / 1024;
  });
}

interface Result {
  xRealTime: number;
  memoryKb: number;
  outputOk: boolean;
}

// All sessions get chunk k before any gets chunk k+1, as live sessions would.
// The decode rate: 16 kHz by default, what a session feeding the local engine decodes to
// (libopus decodes to it directly); OPUS_BENCH_RATE=48000 for the full-band decode.
const RATE = Number(process.env.OPUS_BENCH_RATE ?? 16000) as 8000 | 12000 | 16000 | 24000 | 48000;

// What one decoder state takes inside the shared libopus instance, everything it allocates
// (libopus's state, the wrapper's PCM buffer, allocator headers): the distance between two
// states created one after the other in a fresh instance.
const wasmStateKb = await (async () => {
  const heap = await OpusWasmHeap.create();
  const a = heap.createState(RATE, 1, 0);
  const b = heap.createState(RATE, 1, 0);
  if (a === undefined || b === undefined) throw new Error('could not create two Opus states');
  return (b.pointer - a.pointer) / 1024;
})();

async function run(
  n: number,
  make: (sink: Counter) => AudioStage,
  measureMemory?: (
    stages: AudioStage[],
    sinks: Counter[],
    baseline: number,
    rss0: number,
  ) => Promise<number>,
): Promise<Result> {
  const weighInProcess = make === makeWasm && measureMemory !== undefined;
  const baseline = weighInProcess ? jsRetainedKb() : 0;
  const rss0 = weighInProcess && n === 50 ? rssKb() : 0;
  const measuring0 = measuringCpu;
  const cpu0 = ownCpuSeconds();
  const child0 = childrenCpuSeconds();
  const sinks = Array.from({ length: n }, counter);
  const stages = sinks.map(make);
  const half = chunks.length >> 1;
  for (let k = 0; k < half; k++) for (const s of stages) s.write(chunks[k]!);
  const memoryKb = (await measureMemory?.(stages, sinks, baseline, rss0)) ?? Number.NaN;
  for (let k = half; k < chunks.length; k++) for (const s of stages) s.write(chunks[k]!);
  await Promise.all(stages.map((s) => s.end()));
  for (const s of stages) s.destroy();
  const cpu =
    ownCpuSeconds() - cpu0 + (childrenCpuSeconds() - child0) - (measuringCpu - measuring0);
  const expected = AUDIO_SECONDS * RATE * 2;
  const outputOk = sinks.every((s) => Math.abs(s.bytes - expected) < RATE && s.errors === 0);
  return { xRealTime: (n * AUDIO_SECONDS) / cpu, memoryKb, outputOk };
}

const makeWasm = (sink: Counter): AudioStage => new WebmOpusStage(sink, { outputSampleRate: RATE });

const rssGrowthAt50Kb: number[] = [];

// Weighing collects garbage mid-run, and V8 then sweeps on its helper threads, whose CPU
// the speed figure would count: the in-process speed comes from runs that do not weigh.
const wasm = (n: number, weigh: boolean) =>
  run(
    n,
    makeWasm,
    !weigh
      ? undefined
      : async (_stages, sinks, baseline, rss0) => {
          // Every session has decoded its first half: weigh what they hold.
          await Promise.all(sinks.map((s) => s.reached(1)));
          if (n === 50) rssGrowthAt50Kb.push((rssKb() - rss0) / n);
          return (jsRetainedKb() - baseline) / n + wasmStateKb;
        },
  );

const ffmpeg = (n: number) =>
  run(
    n,
    (sink) => new FfmpegOpusStage(sink, { container: 'webm', outputSampleRate: RATE }),
    async (stages, sinks) => {
      await Promise.all(sinks.map((s) => s.reached(AUDIO_SECONDS * RATE * 0.8)));
      const rss = stages.map((s) => vmRssKb((s as FfmpegOpusStage).pid!));
      return rss.reduce((a, b) => a + b, 0) / n;
    },
  );

// Warm-up: start the shared libopus instance, let V8 optimise the decode path (it takes a
// few sessions' worth of audio, as it would in a server's first minutes) and page in FFmpeg,
// outside the measurements.
for (let i = 0; i < 3; i++) await wasm(1, false);
await ffmpeg(1);

/** Medians of `ROUNDS` runs: speed from `timed`, memory from `weighed` (or the timed runs). */
async function median(
  timed: () => Promise<Result>,
  weighed?: () => Promise<Result>,
): Promise<Result> {
  const speedRuns: Result[] = [];
  for (let r = 0; r < ROUNDS; r++) speedRuns.push(await timed());
  const memoryRuns: Result[] = [];
  if (weighed) for (let r = 0; r < ROUNDS; r++) memoryRuns.push(await weighed());
  else memoryRuns.push(...speedRuns);
  const mid = (values: number[]) => values.sort((x, y) => x - y)[values.length >> 1]!;
  return {
    xRealTime: mid(speedRuns.map((r) => r.xRealTime)),
    memoryKb: mid(memoryRuns.map((r) => r.memoryKb)),
    outputOk: [...speedRuns, ...memoryRuns].every((r) => r.outputOk),
  };
}

const rows: string[][] = [];
for (const n of LEVELS) {
  const a = await median(
    () => wasm(n, false),
    () => wasm(n, true),
  );
  const b = await median(() => ffmpeg(n));
  rows.push([
    String(n),
    `${a.xRealTime.toFixed(0)}×`,
    `${b.xRealTime.toFixed(0)}×`,
    `${(a.xRealTime / b.xRealTime).toFixed(2)}`,
    `${a.memoryKb.toFixed(0)} KB`,
    `${b.memoryKb.toFixed(0)} KB`,
    `${(b.memoryKb / a.memoryKb).toFixed(1)}`,
    a.outputOk && b.outputOk ? 'yes' : 'NO',
  ]);
}

const header = [
  'sessions',
  'wasm ×RT/core',
  'ffmpeg ×RT/core',
  'speed wasm/ffmpeg',
  'wasm mem/session',
  'ffmpeg mem/session',
  'mem ffmpeg/wasm',
  'all audio out',
];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(
  `Opus decode, ${AUDIO_SECONDS} s of WebM/Opus 32 kbit/s mono per session, ${CHUNK} B chunks`,
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const r of rows) console.log(line(r));
console.log(
  `cross-check: RSS growth per in-process session at 50 sessions: ${rssGrowthAt50Kb.map((k) => `${k.toFixed(0)} KB`).join(', ')}; one decoder state in the shared instance: ${wasmStateKb.toFixed(1)} KB`,
);
console.log(
  `gc exposed: ${gc !== undefined} (run with NODE_OPTIONS=--expose-gc for steadier memory figures)`,
);
