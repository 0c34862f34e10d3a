import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { EarshotClient } from '@earshot/client';
import type { TranscriptMessage } from '@earshot/protocol';
import { createStoreFromUrl } from '@earshot/server';
import { type PostgresServer, readWavPcm16, speechFixtures, startPostgres } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// `kill -9` of the server in the middle of a session: every final the client received must be
// in the store, because a final is committed before it is sent.
const dir = mkdtempSync(join(tmpdir(), 'earshot-kill-'));
const script = fileURLToPath(new URL('../support/store-server.ts', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');
let postgres: PostgresServer;
let speech: Buffer;

beforeAll(async () => {
  postgres = await startPostgres();
  const [a, b] = await speechFixtures();
  speech = Buffer.concat([(await readWavPcm16(a!.path)).pcm, (await readWavPcm16(b!.path)).pcm]);
});
afterAll(async () => {
  await postgres?.destroy();
  rmSync(dir, { recursive: true, force: true });
});

/** Starts the server process on `storeUrl`; resolves it and the URL it listens on. */
async function startServer(storeUrl: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(
    process.execPath,
    ['--conditions=@earshot/source', '--import', tsx, script, storeUrl],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout! });
  const [line] = (await once(lines, 'line')) as [string];
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

const stores: [string, () => Promise<string>][] = [
  ['sqlite', async () => `sqlite:${join(dir, 'kill.db')}`],
  ['postgres', () => postgres.createDatabase()],
];

describe.each(stores)('kill -9 of a server on %s mid-session', (_kind, makeUrl) => {
  it('loses no final the client received', async () => {
    const storeUrl = await makeUrl();
    const { child, url } = await startServer(storeUrl);
    const client = new EarshotClient({
      url: url.replace('http', 'ws') + '/v1/listen',
      reconnect: false,
    });
    const received: TranscriptMessage[] = [];
    client.on('transcript', (t) => {
      if (!t.isFinal || !t.text) return;
      received.push(t);
      // Killed without warning the moment the client holds a final: a server that sent it
      // before committing it would lose it here.
      child.kill('SIGKILL');
    });
    client.on('error', () => {}); // the connection dies with the server
    await client.start({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } });
    const sessionId = client.sessionId!;
    const exited = once(child, 'exit');
    const frame = 3200; // 100 ms, sent at twice real time
    for (let at = 0; at < speech.byteLength && received.length === 0; at += frame) {
      client.sendAudio(speech.subarray(at, at + frame));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGKILL');
    await exited;
    expect(received.length).toBeGreaterThan(0);
    await client.close();

    const store = await createStoreFromUrl(storeUrl);
    const stored = await store.getSegments(sessionId);
    await store.close();
    for (const final of received) {
      expect(stored.find((s) => s.segmentId === final.segmentId)?.text).toBe(final.text);
    }
    console.log(`${_kind}: killed after ${received.length} finals; ${stored.length} stored`);
  });
});
