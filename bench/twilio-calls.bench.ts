// Many simultaneous phone calls on one server process: CPU and memory per call, and that no
// call's audio reaches another call's session. Twilio (the callers, at real-time pace, 50
// frames a second each) and Deepgram (the emulator, μ-law passed through untouched, the real
// SDK on the server side) run in a child process; this process is the server alone. A run
// with few calls is the baseline the big run is compared to, side by side.
// Run from the repository root: npx tsx --conditions=@earshot/source bench/twilio-calls.bench.ts
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { SttProvider } from '@earshot/providers';
import { createDeepgramProvider } from '@earshot/providers/deepgram';
import { listen } from '@earshot/server/node';

const SECONDS = 10;
const RUNS = [10, 200];

const tsx = createRequire(import.meta.url).resolve('tsx');
const child = spawn(
  process.execPath,
  [
    '--conditions=@earshot/source',
    '--import',
    tsx,
    fileURLToPath(new URL('./support/twilio-load.ts', import.meta.url)),
  ],
  { stdio: ['pipe', 'pipe', 'inherit'] },
);
const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
const next = async () =>
  JSON.parse((await lines.next()).value as string) as Record<string, unknown>;
const { endpoint, apiKey } = (await next()) as { endpoint: string; apiKey: string };

// What each provider stream was written: the byte values seen (each call sends one value).
const seen: Set<number>[] = [];
const deepgram = createDeepgramProvider({ apiKey, baseUrl: endpoint });
const provider: SttProvider = {
  ...deepgram,
  name: deepgram.name,
  capabilities: deepgram.capabilities,
  async open(options) {
    const stream = await deepgram.open(options);
    const values = new Set<number>();
    seen.push(values);
    const write = stream.write.bind(stream);
    stream.write = (bytes: Uint8Array) => {
      for (const value of new Set(bytes)) values.add(value);
      return write(bytes);
    };
    return stream;
  },
};
const server = await listen({ provider, port: 0, twilio: {}, resilience: false });
const url = `${server.url.replace('http', 'ws')}/v1/twilio`;

// A first run, not reported: loads the SDK, warms the JIT and the connection paths.
child.stdin!.write(`${JSON.stringify({ url, calls: 10, seconds: 3 })}\n`);
await next();
await new Promise((resolve) => setTimeout(resolve, 1000));

const rows: Record<string, string | number>[] = [];
let baselineCpu = Number.NaN;
for (const calls of RUNS) {
  seen.length = 0;
  global.gc?.();
  const idle = process.memoryUsage();
  let peakRss = idle.rss;
  let peakHeap = idle.heapUsed;
  const sampler = setInterval(() => {
    const now = process.memoryUsage();
    peakRss = Math.max(peakRss, now.rss);
    peakHeap = Math.max(peakHeap, now.heapUsed);
  }, 250);
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  child.stdin!.write(`${JSON.stringify({ url, calls, seconds: SECONDS })}\n`);
  await next();
  const wall = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  clearInterval(sampler);
  const cpuMsPerCallSecond = (cpu.user + cpu.system) / 1000 / (calls * SECONDS);
  if (calls === RUNS[0]) baselineCpu = cpuMsPerCallSecond;
  const isolated = seen.length === calls && seen.every((values) => values.size === 1);
  const distinct = new Set(seen.flatMap((values) => [...values])).size;
  rows.push({
    calls,
    'wall s': wall.toFixed(1),
    'server CPU ms per call-second': cpuMsPerCallSecond.toFixed(2),
    'CPU cores busy': ((cpu.user + cpu.system) / 1e6 / wall).toFixed(2),
    'per call ÷ baseline': (cpuMsPerCallSecond / baselineCpu).toFixed(2),
    'RSS per call KiB': ((peakRss - idle.rss) / calls / 1024).toFixed(0),
    'heap per call KiB': ((peakHeap - idle.heapUsed) / calls / 1024).toFixed(0),
    'each stream one call’s audio':
      isolated && distinct === calls ? 'yes' : `NO (${seen.length} streams, ${distinct} values)`,
  });
}
console.table(rows);
child.stdin!.write('exit\n');
await once(child, 'exit');
await server.close();
