// In-process Opus decoding (our WebM demuxer + libopus in WASM) against one FFmpeg child per
// session, side by side in one run, on the same 60 s of WebM/Opus (a PocketSphinx recording
// looped, 32 kbit/s, with MediaRecorder's unknown Segment/Cluster sizes), fed in 4 KB chunks.
// Reported per concurrency level (1, 10, 50 sessions decoding at once):
//   × real time per core  audio seconds decoded per CPU second (in-process: this process's
//                          CPU; FFmpeg: this process's CPU plus its reaped children's, from
//                          /proc/self/stat cutime+cstime);
//   memory per session     in-process: growth of this process's RSS with N live decoders, / N
//                          (the WASM instance's touched pages + buffers); FFmpeg: VmRSS of each
//                          child mid-stream, averaged (its own RSS, shared libraries included).
// Run from the repository root:  npx tsx --conditions=@earshot/source bench/opus-decode.bench.ts
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { AudioSink, AudioStage } from '../packages/server/src/audio/audio-stage.js';
import { toLiveWebm } from '../packages/server/src/audio/opus/__fixtures__/opus-fixtures.js';
import { FfmpegOpusStage, WebmOpusStage } from '../packages/server/src/audio/opus/index.js';

const RECORDING =
  '/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav';
const AUDIO_SECONDS = 60;
const CHUNK = 4096;
const LEVELS = [1, 10, 50];

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

function rssKb(): number {
  gc?.();
  return process.memoryUsage().rss / 1024;
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

async function run(
  n: number,
  make: (sink: Counter) => AudioStage,
  measureMemory: (stages: AudioStage[], sinks: Counter[], baseline: number) => Promise<number>,
): Promise<Result> {
  const baseline = rssKb();
  const cpu0 = ownCpuSeconds();
  const child0 = childrenCpuSeconds();
  const sinks = Array.from({ length: n }, counter);
  const stages = sinks.map(make);
  const half = chunks.length >> 1;
  for (let k = 0; k < half; k++) for (const s of stages) s.write(chunks[k]!);
  const memoryKb = await measureMemory(stages, sinks, baseline);
  for (let k = half; k < chunks.length; k++) for (const s of stages) s.write(chunks[k]!);
  await Promise.all(stages.map((s) => s.end()));
  for (const s of stages) s.destroy();
  const cpu = ownCpuSeconds() - cpu0 + (childrenCpuSeconds() - child0);
  const expected = AUDIO_SECONDS * RATE * 2;
  const outputOk = sinks.every((s) => Math.abs(s.bytes - expected) < RATE && s.errors === 0);
  return { xRealTime: (n * AUDIO_SECONDS) / cpu, memoryKb, outputOk };
}

const wasm = (n: number) =>
  run(
    n,
    (sink) => new WebmOpusStage(sink, { outputSampleRate: RATE }),
    async (_stages, sinks, baseline) => {
      // Let every WASM decoder load and decode its first half, then weigh the process.
      await Promise.all(sinks.map((s) => s.reached(1)));
      return (rssKb() - baseline) / n;
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

// Warm-up: compile the WASM module and page in FFmpeg once, outside the measurements.
await wasm(1);
await ffmpeg(1);

const rows: string[][] = [];
for (const n of LEVELS) {
  const a = await wasm(n);
  const b = await ffmpeg(n);
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
  `gc exposed: ${gc !== undefined} (run with NODE_OPTIONS=--expose-gc for steadier memory figures)`,
);
