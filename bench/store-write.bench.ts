// What storing a final before sending it costs: the time of one final's write through the
// server's StoreWriter (the path every final takes), for each store, side by side in one run,
// as a ratio to the in-memory store. PostgreSQL is a throwaway local server (fsync off: the
// network round trip and the query, not the disk); SQLite writes a file with synchronous=FULL.
// Run from the repository root: npx tsx --conditions=@earshot/source bench/store-write.bench.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@earshot/protocol';
import {
  createMemoryStore,
  createPostgresStore,
  createSqliteStore,
  type Store,
  StoreWriter,
} from '@earshot/server';
import { startPostgres } from '@earshot/testing';

const FINALS = 400;
const dir = mkdtempSync(join(tmpdir(), 'earshot-store-bench-'));
const postgres = await startPostgres();

const stores: [string, () => Promise<Store>][] = [
  ['memory', async () => createMemoryStore()],
  ['sqlite', () => createSqliteStore({ path: join(dir, 'bench.db') })],
  [
    'postgres',
    async () => createPostgresStore({ connectionString: await postgres.createDatabase() }),
  ],
];

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;

const rows: Record<string, string | number>[] = [];
let baseline = Number.NaN;
for (const [kind, open] of stores) {
  const store = await open();
  const writer = new StoreWriter(store, silentLogger);
  await store.createSession({
    id: 's',
    status: 'active',
    createdAt: new Date().toISOString(),
    metadata: { userId: 'bench' },
  });
  const times: number[] = [];
  for (let seq = 0; seq < FINALS + 20; seq++) {
    const words = Array.from({ length: 12 }, (_, i) => ({
      word: `word${i}`,
      start: seq + i * 0.1,
      end: seq + i * 0.1 + 0.08,
    }));
    const started = performance.now();
    await writer.write({
      sessionId: 's',
      what: 'appendSegment',
      run: (s) =>
        s.appendSegment('s', {
          segmentId: `s:${seq}`,
          seq,
          text: words.map((w) => w.word).join(' '),
          start: seq,
          end: seq + 1.2,
          confidence: 0.9,
          words,
          createdAt: new Date().toISOString(),
        }),
    });
    if (seq >= 20) times.push(performance.now() - started); // the first 20 warm up
  }
  times.sort((a, b) => a - b);
  const median = quantile(times, 0.5);
  if (kind === 'memory') baseline = median;
  rows.push({
    store: kind,
    'median ms': median.toFixed(3),
    'p95 ms': quantile(times, 0.95).toFixed(3),
    'max ms': times[times.length - 1]!.toFixed(3),
    'median ÷ memory': (median / baseline).toFixed(1),
  });
  await store.close();
}
console.table(rows);
await postgres.destroy();
rmSync(dir, { recursive: true, force: true });
