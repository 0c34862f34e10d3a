// What Earshot adds on top of the engine it wraps. Three ways to transcribe the same
// recordings, run side by side in one process on one machine, reported as ratios:
//   baseline  `pocketsphinx_continuous -infile <wav>`, the engine's own CLI (a child process);
//   provider  the local provider alone (libpocketsphinx in process through koffi);
//   relay     EarshotClient → WebSocket → server → local provider → SQLite store → client.
// Each is given all audio at once ("fast"), so the figure is CPU cost per second of audio,
// as a real-time factor (audio seconds per wall second) and CPU seconds per audio second.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { transcribeFile } from '@earshot/client/node';
import { PCM16_16K_MONO } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { createSqliteStore } from '@earshot/server';
import { listen } from '@earshot/server/node';
import { readWavPcm16, speechFixtures } from '@earshot/testing';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const fixtures = await speechFixtures();
const audioSeconds = (await Promise.all(fixtures.map((f) => readWavPcm16(f.path)))).reduce(
  (sum, w) => sum + w.pcm.byteLength / 32000,
  0,
);

interface Sample {
  wall: number;
  cpu: number;
}

async function measure(run: () => Promise<void>, childCpu = false): Promise<Sample> {
  const cpuBefore = process.cpuUsage();
  const childBefore = childCpu ? childrenCpuSeconds() : 0;
  const start = performance.now();
  await run();
  const wall = (performance.now() - start) / 1000;
  const own = process.cpuUsage(cpuBefore);
  const cpu = childCpu ? childrenCpuSeconds() - childBefore : (own.user + own.system) / 1e6;
  return { wall, cpu };
}

// The CPU of finished (reaped) child processes, from the kernel's accounting of this
// process: fields cutime and cstime of /proc/self/stat, in clock ticks of 1/100 s.
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

const cli = async () => {
  for (const f of fixtures) {
    await promisify(execFile)('pocketsphinx_continuous', [
      '-infile',
      f.path,
      '-logfn',
      '/dev/null',
    ]);
  }
};

const provider = createLocalProvider({ maxConcurrentStreams: 1, warmDecoders: 1 });
await provider.warmUp();
const direct = async () => {
  for (const f of fixtures) {
    const { pcm } = await readWavPcm16(f.path);
    const stream = await provider.open({
      audio: PCM16_16K_MONO,
      language: 'en-US',
      interimResults: true,
      keywords: [],
      diarize: false,
    });
    stream.write(pcm);
    await stream.end();
  }
};

const dir = mkdtempSync(join(tmpdir(), 'earshot-bench-'));
const store = await createSqliteStore({ path: join(dir, 'bench.db') });
const serverProvider = createLocalProvider({ maxConcurrentStreams: 1, warmDecoders: 1 });
await serverProvider.warmUp();
const server = await listen({ provider: serverProvider, store, port: 0 });
const wsUrl = `${server.url.replace('http', 'ws')}/v1/listen`;
const relay = async () => {
  for (const f of fixtures) await transcribeFile(wsUrl, f.path, { pace: 'fast' });
};

const runs: Record<string, Sample[]> = { baseline: [], provider: [], relay: [] };
for (let round = 0; round < ROUNDS; round++) {
  runs.baseline!.push(await measure(cli, true));
  runs.provider!.push(await measure(direct));
  runs.relay!.push(await measure(relay));
}
await server.close();
await serverProvider.close();
await provider.close();
await store.close();
rmSync(dir, { recursive: true, force: true });

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const wall = (k: string) => median(runs[k]!.map((s) => s.wall));
const cpu = (k: string) => median(runs[k]!.map((s) => s.cpu));
console.log(
  `${fixtures.length} recordings, ${audioSeconds.toFixed(1)} s of audio, median of ${ROUNDS} rounds`,
);
for (const k of ['baseline', 'provider', 'relay']) {
  const cpuText = `${(cpu(k) / audioSeconds).toFixed(3)} CPU-s per audio-s`;
  console.log(
    `${k.padEnd(9)} ${(audioSeconds / wall(k)).toFixed(1).padStart(6)}× real time   ${cpuText}`,
  );
}
console.log(
  `provider wall time / baseline: ${(wall('provider') / wall('baseline')).toFixed(2)}, CPU / baseline: ${(cpu('provider') / cpu('baseline')).toFixed(2)}`,
);
console.log(
  `relay wall time / provider:    ${(wall('relay') / wall('provider')).toFixed(2)}, CPU / provider: ${(cpu('relay') / cpu('provider')).toFixed(2)}  (what the WebSocket, session and store add)`,
);
