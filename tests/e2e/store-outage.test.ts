import { EarshotClient } from '@earshot/client';
import type { EarshotError, TranscriptMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { createPostgresStore, type Store } from '@earshot/server';
import { listen, type RunningServer } from '@earshot/server/node';
import { type PostgresServer, speechWithPauses, startPostgres, until } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// PostgreSQL goes down in the middle of a session for 30 s and comes back. The session must go
// on (finals still reach the client, held in memory by the server), the client must be told,
// and once the store is back every final the client received must be stored.
const OUTAGE_MS = 30_000;
const provider = createLocalProvider();
let postgres: PostgresServer;
let store: Store;
let server: RunningServer;
let speech: Buffer;

beforeAll(async () => {
  postgres = await startPostgres();
  store = await createPostgresStore({
    connectionString: await postgres.createDatabase(),
    connectionTimeoutMs: 1000,
  });
  server = await listen({
    provider,
    store,
    port: 0,
    storeWrites: { retryMs: 100, maxRetryMs: 500 },
  });
  // Every recording, a second of silence after each: a pause, so a final, every few seconds.
  speech = await speechWithPauses();
});
afterAll(async () => {
  await server?.close();
  await store?.close();
  await provider.close();
  await postgres?.destroy();
});

describe('a store outage mid-session', () => {
  it('does not end the session; the client is told; every final is stored once the store is back', async () => {
    const client = new EarshotClient({ url: `${server.url.replace('http', 'ws')}/v1/listen` });
    const finals: TranscriptMessage[] = [];
    const errors: EarshotError[] = [];
    client.on('transcript', (t) => t.isFinal && t.text && finals.push(t));
    client.on('error', (e) => errors.push(e));
    await client.start({ audio: { encoding: 'pcm16', sampleRate: 16000, channels: 1 } });
    const sessionId = client.sessionId!;

    let finalsBeforeOutage = -1;
    let finalsAtRecovery = -1;
    let outageFrom = 0;
    const frame = 3200; // 100 ms at twice real time; silence once the speech is sent
    const silence = Buffer.alloc(frame);
    for (let at = 0; at < speech.byteLength || finalsAtRecovery < 0; at += frame) {
      client.sendAudio(at < speech.byteLength ? speech.subarray(at, at + frame) : silence);
      await new Promise((resolve) => setTimeout(resolve, 50));
      if (finalsBeforeOutage < 0 && finals.length > 0) {
        finalsBeforeOutage = finals.length;
        await postgres.stop();
        outageFrom = Date.now();
      }
      // Back after 30 s, once at least one final went out while it was down.
      const down = finalsBeforeOutage > 0 && finalsAtRecovery < 0;
      if (down && finals.length > finalsBeforeOutage && Date.now() - outageFrom >= OUTAGE_MS) {
        finalsAtRecovery = finals.length;
        await postgres.start();
      }
    }
    if (!postgres.running) await postgres.start();
    const closed = await client.stop();

    expect(finalsAtRecovery).toBeGreaterThan(finalsBeforeOutage);
    expect(closed.reason).toBe('stopped');
    expect(errors.map((e) => e.code)).toContain('store_unavailable');
    expect(errors.every((e) => !e.fatal)).toBe(true);

    // The held writes reach the store once it answers again, in order.
    await until(() => server.earshot.storeStatus().pendingWrites === 0, 20_000);
    const stored = await store.getSegments(sessionId);
    for (const final of finals) {
      expect(stored.find((s) => s.segmentId === final.segmentId)?.text).toBe(final.text);
    }
    expect(stored.map((s) => s.seq)).toEqual(stored.map((_, i) => i));
    expect(await store.getSession(sessionId)).toMatchObject({
      status: 'ended',
      endReason: 'stopped',
    });
    console.log(
      `outage of ${OUTAGE_MS / 1000} s: ${finalsBeforeOutage} finals before, ${finalsAtRecovery - finalsBeforeOutage} during, ${finals.length} in all; ${stored.length} stored`,
    );
  }, 150_000);
});
