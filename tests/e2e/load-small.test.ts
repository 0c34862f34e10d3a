import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

// The load bench (bench/load) at a CI-sized scale: 40 real-time sessions of 20 ms frames
// through Earshot, held 15 s, then 2 cycles of connecting and dropping all of them. It asserts
// only what a shared machine cannot make flaky: every session held, no errors, each dropped
// session's upstream closed within a second, memory not grown by the cycles. Latency and CPU
// are reported by `pnpm bench:load`, against a bare relay in the same run, never asserted.
const SESSIONS = 40;
const CYCLES = 2;

/** The part of bench/load's LoadRunResult this test reads. */
interface UpstreamCloses {
  readonly dropped: number;
  readonly closedWithin1s: number;
  readonly notClosed: number;
}
interface ClientsOutcome {
  readonly clients: number;
  readonly held: number;
  readonly errors: string[];
  readonly errorCount: number;
  readonly crossed: number;
}
interface LoadRunResult {
  readonly hold: ClientsOutcome & { readonly samples: number };
  readonly holdDrop: UpstreamCloses;
  readonly cycles: readonly (ClientsOutcome & { readonly closes: UpstreamCloses })[];
  readonly beforeCycles: { readonly rssMb: number };
  readonly afterCycles: { readonly rssMb: number; readonly sessions: number };
  readonly unstampedFrames: number;
}

describe('Earshot under load (CI scale)', () => {
  it('holds 40 real-time sessions without error, closes each dropped upstream within a second, and keeps its memory over connect-drop cycles', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'earshot-load-'));
    try {
      const json = join(dir, 'load.json');
      // The bench runs its emulator and server in child processes of its own, so it runs as
      // one here too, exactly as `pnpm bench:load` runs it.
      await promisify(execFile)(
        process.execPath,
        [
          '--conditions=@earshot/source',
          '--import',
          'tsx',
          'bench/load/run.ts',
          ...['--servers', 'earshot', '--sessions', String(SESSIONS), '--frame-ms', '20'],
          ...['--hold', '15', '--cycles', String(CYCLES), '--json', json],
        ],
        { timeout: 240_000, maxBuffer: 16 * 1024 * 1024 },
      );
      const [run] = JSON.parse(await readFile(json, 'utf8')) as LoadRunResult[];

      expect(run!.hold.errors).toEqual([]);
      expect(run!.hold.held).toBe(SESSIONS);
      expect(run!.hold.crossed).toBe(0);
      expect(run!.hold.samples).toBeGreaterThan(0);
      expect(run!.unstampedFrames).toBe(0);
      expect(run!.holdDrop).toMatchObject({ dropped: SESSIONS, closedWithin1s: SESSIONS });
      expect(run!.cycles).toHaveLength(CYCLES);
      for (const cycle of run!.cycles) {
        expect(cycle.errors).toEqual([]);
        expect(cycle.held).toBe(SESSIONS);
        expect(cycle.closes).toMatchObject({ dropped: SESSIONS, closedWithin1s: SESSIONS });
      }
      expect(run!.afterCycles.sessions).toBe(0);
      expect(run!.afterCycles.rssMb).toBeLessThanOrEqual(1.5 * run!.beforeCycles.rssMb);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 300_000);
});
