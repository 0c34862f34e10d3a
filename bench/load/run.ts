// Load bench: Earshot against a bare `ws` relay (the baseline), each between the same load
// generator and the same Deepgram emulator, run one after the other in the same invocation.
// See bench/load/README.md for what is measured and how to read it.
//
//   pnpm bench:load                                   full scale: 400 × 20 ms and 1000 × 100 ms,
//                                                     5 min hold, 10 connect-drop cycles
//   npx tsx --conditions=@earshot/source bench/load/run.ts --sessions 40 --frame-ms 20 --hold 15 --cycles 2
//   … run.ts --soak                                   200 sessions × 20 ms for an hour (Earshot)
//   … run.ts --profile .earshot/load-profile --servers earshot --sessions 200 --hold 30 --cycles 0
//
// Options: --sessions N and --frame-ms MS (one shape; default both full-scale shapes), --hold S,
// --cycles N, --cycle-seconds S, --connect-rate PER_S, --servers bare,earshot,
// --store transient|memory, --resume-grace S, --utterance-seconds S, --json FILE,
// --profile DIR (CPU profile of each server process, summarised), --heap-snapshot DIR (heap
// snapshots of each server idle and at the plateau, compared per session; the pause they
// cause spoils the hold's outcome), --soak [--soak-minutes M].
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { summariseHeapGrowth } from './heap-summary.js';
import { type LoadRunResult, runLoad } from './load-run.js';
import { summariseCpuProfile } from './profile-summary.js';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string' },
    'frame-ms': { type: 'string' },
    hold: { type: 'string', default: '300' },
    cycles: { type: 'string', default: '10' },
    'cycle-seconds': { type: 'string', default: '3' },
    'connect-rate': { type: 'string', default: '200' },
    servers: { type: 'string', default: 'bare,earshot' },
    store: { type: 'string', default: 'transient' },
    'resume-grace': { type: 'string', default: '0' },
    'utterance-seconds': { type: 'string', default: '2' },
    json: { type: 'string' },
    profile: { type: 'string' },
    'heap-snapshot': { type: 'string' },
    soak: { type: 'boolean', default: false },
    'soak-minutes': { type: 'string', default: '60' },
  },
});

const number = (name: keyof typeof values) => Number(values[name]);
const soak = values.soak === true;
const shapes: { sessions: number; frameMs: number }[] = soak
  ? [{ sessions: Number(values.sessions ?? 200), frameMs: Number(values['frame-ms'] ?? 20) }]
  : values.sessions !== undefined || values['frame-ms'] !== undefined
    ? [{ sessions: Number(values.sessions ?? 400), frameMs: Number(values['frame-ms'] ?? 20) }]
    : [
        { sessions: 400, frameMs: 20 },
        { sessions: 1000, frameMs: 100 },
      ];
const servers = (soak && values.servers === 'bare,earshot' ? 'earshot' : values.servers!)
  .split(',')
  .map((s) => s.trim()) as ('bare' | 'earshot')[];
const store = values.store === 'memory' ? 'memory' : 'transient';
const log = (line: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

const results: LoadRunResult[] = [];
for (const shape of shapes) {
  for (const server of servers) {
    const profileDir = values.profile
      ? resolve(values.profile, `${server}-${shape.sessions}x${shape.frameMs}ms`)
      : undefined;
    if (profileDir) mkdirSync(profileDir, { recursive: true });
    const heapDir = values['heap-snapshot']
      ? resolve(values['heap-snapshot'], `${server}-${shape.sessions}x${shape.frameMs}ms`)
      : undefined;
    if (heapDir) mkdirSync(heapDir, { recursive: true });
    const result = await runLoad({
      server,
      sessions: shape.sessions,
      frameMs: shape.frameMs,
      holdSeconds: soak ? number('soak-minutes') * 60 : number('hold'),
      cycles: soak ? 0 : number('cycles'),
      cycleSeconds: number('cycle-seconds'),
      connectPerSecond: number('connect-rate'),
      store,
      resumeGraceSeconds: number('resume-grace'),
      utteranceSeconds: number('utterance-seconds'),
      cpuProfileDir: profileDir,
      heapSnapshotDir: heapDir,
      gcSampleSeconds: soak ? 60 : undefined,
      log,
    });
    results.push(result);
    if (heapDir) {
      console.log(`\nHeap of ${server} at the plateau against idle (${heapDir}):`);
      console.log(
        summariseHeapGrowth(
          join(heapDir, 'idle.heapsnapshot'),
          join(heapDir, 'plateau.heapsnapshot'),
          shape.sessions,
        ),
      );
      if (result.options.cycles > 0) {
        console.log(`\nHeap of ${server} after the cycles against before (all sessions gone):`);
        console.log(
          summariseHeapGrowth(
            join(heapDir, 'before-cycles.heapsnapshot'),
            join(heapDir, 'after-cycles.heapsnapshot'),
            1,
            12,
          ).replace('per session', 'in all'),
        );
      }
    }
    if (profileDir) {
      for (const file of readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'))) {
        console.log(`\nCPU profile of ${server} (${join(profileDir, file)}):`);
        console.log(summariseCpuProfile(join(profileDir, file)));
      }
    }
  }
  report(
    results.filter(
      (r) => r.options.sessions === shape.sessions && r.options.frameMs === shape.frameMs,
    ),
  );
}
if (soak) for (const r of results) reportTimeline(r);
if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);

function report(runs: LoadRunResult[]): void {
  const first = runs[0];
  if (!first) return;
  const { sessions, frameMs, holdSeconds, cycles } = first.options;
  const base = runs.find((r) => r.options.server === 'bare');
  console.log(
    `\n${sessions} sessions × ${frameMs} ms frames, held ${holdSeconds} s, ${cycles} connect-drop cycles`,
  );
  const perSessionKb = (r: LoadRunResult) => ((r.plateau.rssMb - r.idle.rssMb) * 1024) / sessions;
  const rows: Record<string, Record<string, string>> = {};
  for (const r of runs) {
    const ratio = (value: number, baseline: number | undefined) =>
      base && r !== base && baseline ? ` (${(value / baseline).toFixed(2)}×)` : '';
    const held = r.hold.held;
    const cyclesHeld = r.cycles.reduce((sum, c) => sum + c.held, 0);
    const closes = [r.holdDrop, ...r.cycles.map((c) => c.closes)];
    const dropped = closes.reduce((sum, c) => sum + c.dropped, 0);
    const within1s = closes.reduce((sum, c) => sum + c.closedWithin1s, 0);
    const slowest = Math.max(...closes.map((c) => c.maxMs));
    const reopened = closes.reduce((sum, c) => sum + c.reopened, 0);
    rows[r.options.server === 'bare' ? 'bare relay' : 'Earshot'] = {
      'sessions held': `${held}/${sessions}`,
      errors: String(r.hold.errorCount + r.cycles.reduce((sum, c) => sum + c.errorCount, 0)),
      'RTT p50 ms': `${r.hold.p50Ms.toFixed(1)}${ratio(r.hold.p50Ms, base?.hold.p50Ms)}`,
      'RTT p99 ms': `${r.hold.p99Ms.toFixed(1)}${ratio(r.hold.p99Ms, base?.hold.p99Ms)}`,
      'server CPU % core': `${(r.cpu.server * 100).toFixed(0)}${ratio(r.cpu.server, base?.cpu.server)}`,
      'CPU ms/session-s': ((r.cpu.server * 1000) / sessions).toFixed(2),
      'RSS idle→plateau MB': `${r.idle.rssMb.toFixed(0)}→${r.plateau.rssMb.toFixed(0)}`,
      'RSS/session KB': `${perSessionKb(r).toFixed(0)}${ratio(perSessionKb(r), base && perSessionKb(base))}`,
      'RSS before→after cycles MB': `${r.beforeCycles.rssMb.toFixed(0)}→${r.afterCycles.rssMb.toFixed(0)}`,
      'heap before→after cycles MB': `${r.beforeCycles.heapUsedMb.toFixed(1)}→${r.afterCycles.heapUsedMb.toFixed(1)}`,
      'cycles: sessions held': `${cyclesHeld}/${sessions * r.cycles.length}`,
      'upstream closed ≤1 s after drop': `${within1s}/${dropped} (slowest ${slowest.toFixed(0)} ms${reopened > 0 ? `, ${reopened} reconnected after the drop` : ''})`,
    };
  }
  console.table(rows);
  const context: Record<string, Record<string, string>> = {};
  for (const r of runs) {
    context[r.options.server === 'bare' ? 'bare relay' : 'Earshot'] = {
      'window s': r.hold.windowSeconds.toFixed(0),
      'ramp s': r.hold.connectSeconds.toFixed(1),
      'RTT samples': String(r.hold.samples),
      'RTT max ms': r.hold.maxMs.toFixed(0),
      'generator send lag p99 ms': r.hold.sendLagP99Ms.toFixed(1),
      'emulator CPU % core': (r.cpu.emulator * 100).toFixed(0),
      'generator CPU % core': (r.cpu.generator * 100).toFixed(0),
      'machine busy, cores': r.cpu.machine.toFixed(2),
      'others’ work, cores': (
        r.cpu.machine -
        r.cpu.server -
        r.cpu.emulator -
        r.cpu.generator
      ).toFixed(2),
      'upstreams open at plateau': String(r.hold.upstreamsOpen),
      'upstream connections': String(r.hold.upstreamConnections),
      'upstream closes so far': JSON.stringify(r.hold.upstreamCloseCodes),
      'peak RSS MB': r.peakRssMb.toFixed(0),
      'heap/session KB': (((r.plateau.heapUsedMb - r.idle.heapUsedMb) * 1024) / sessions).toFixed(
        0,
      ),
      'external/session KB': (
        ((r.plateau.externalMb - r.idle.externalMb) * 1024) /
        sessions
      ).toFixed(0),
      'unstamped frames': String(r.unstampedFrames),
      'crossed results': String(r.hold.crossed),
    };
  }
  console.table(context);
  for (const r of runs) {
    const errors = [...r.hold.errors, ...r.cycles.flatMap((c) => c.errors)];
    if (errors.length > 0)
      console.log(`${r.options.server} errors (first few):`, errors.slice(0, 5));
  }
}

function reportTimeline(r: LoadRunResult): void {
  console.log(`\nSoak (${r.options.server}): memory after a full GC through the hold`);
  console.table(
    r.timeline.map(([s, m]) => ({
      minute: (s / 60).toFixed(0),
      'RSS MB': m.rssMb.toFixed(1),
      'heap MB': m.heapUsedMb.toFixed(1),
      'external MB': m.externalMb.toFixed(1),
      sessions: m.sessions,
    })),
  );
  // Least squares over the readings after the first tenth (warm-up).
  const points = r.timeline.filter(([s]) => s >= r.options.holdSeconds / 10);
  if (points.length >= 3) {
    const slope = (pick: (m: (typeof points)[number][1]) => number) => {
      const xs = points.map(([s]) => s / 3600);
      const ys = points.map(([, m]) => pick(m));
      const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
      const my = ys.reduce((a, b) => a + b, 0) / ys.length;
      const num = xs.reduce((sum, x, i) => sum + (x - mx) * (ys[i]! - my), 0);
      const den = xs.reduce((sum, x) => sum + (x - mx) ** 2, 0);
      return num / den;
    };
    console.log(
      `after warm-up: RSS ${slope((m) => m.rssMb).toFixed(1)} MB/h, heap ${slope((m) => m.heapUsedMb).toFixed(1)} MB/h`,
    );
  }
}
