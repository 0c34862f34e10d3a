import { EarshotClient } from '@earshot/client';
import type { Logger, ServerMessageInput, TranscriptMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import {
  type RedisServer,
  speechWithPauses,
  startRedis,
  until,
  wordErrorRate,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../../../tests/support/tcp-proxy.js';
import { listen, type RunningServer } from '../../src/adapters/node.js';
import { createMemoryStore } from '../../src/stores/memory-store.js';

// Two nodes in one process, one Redis, one store: what a load balancer in front of several
// Earshot processes needs. Each node sees every session, acts on the node that runs it, and a
// client that comes back through the balancer to the other node resumes its session there.
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const store = createMemoryStore();
const warnings: string[] = [];
const logger: Logger = {
  debug() {},
  info() {},
  warn: (_fields: unknown, message?: string) => void warnings.push(String(message)),
  error() {},
};
const providers = [createLocalProvider(), createLocalProvider()];
let redis: RedisServer;
let a: RunningServer;
let b: RunningServer;
let speech: Buffer;

const wsUrl = (server: RunningServer) => `${server.url.replace('http', 'ws')}/v1/listen`;

beforeAll(async () => {
  redis = await startRedis();
  const node = (nodeId: string, provider: (typeof providers)[number]) =>
    listen({
      provider,
      store,
      port: 0,
      nodeId,
      logger,
      tokenSecret: 'shared by every node',
      cluster: { redisUrl: redis.url, heartbeatSeconds: 1 },
      limits: { resumeGraceSeconds: 10 },
    });
  [a, b] = await Promise.all([node('node-a', providers[0]!), node('node-b', providers[1]!)]);
  speech = await speechWithPauses(3, 0.5);
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await Promise.all(providers.map((p) => p.close()));
  await redis?.stop();
});

async function connect(server: RunningServer, userId: string) {
  const client = new EarshotClient({ url: wsUrl(server), reconnect: false });
  const messages: ServerMessageInput[] = [];
  client.on('broadcast', (m) => messages.push(m));
  client.on('closed', (m) => messages.push(m));
  await client.start({ audio: PCM16, metadata: { userId } });
  return { client, messages, sessionId: client.sessionId! };
}

describe('two nodes sharing a Redis', () => {
  it('each lists the sessions of both, with the node that runs each', async () => {
    const ann = await connect(a, 'ann');
    const bob = await connect(b, 'bob');
    await until(async () => (await b.earshot.control.listLive()).length === 2, 5000);
    const seen = await b.earshot.control.listLive();
    expect(seen.map((s) => [s.sessionId, s.node]).sort()).toEqual(
      [
        [ann.sessionId, 'node-a'],
        [bob.sessionId, 'node-b'],
      ].sort(),
    );
    expect((await a.earshot.control.listLive({ userId: 'bob' })).map((s) => s.sessionId)).toEqual([
      bob.sessionId,
    ]);
    expect((await b.earshot.control.getLive(ann.sessionId))?.metadata).toEqual({ userId: 'ann' });
    await Promise.all([ann.client.stop(), bob.client.stop()]);
  });

  it('routes a broadcast to one user, and an end, to the node that runs the session', async () => {
    const ann = await connect(a, 'ann');
    const bob = await connect(b, 'bob');
    expect(await b.earshot.control.broadcast({ userId: 'ann' }, { text: 'room 4 is free' })).toBe(
      1,
    );
    await until(() => ann.messages.length === 1);
    expect(ann.messages[0]).toEqual({ type: 'broadcast', payload: { text: 'room 4 is free' } });
    expect(bob.messages).toEqual([]);
    expect(await a.earshot.control.broadcast({ all: true }, 'to everyone')).toBe(2);

    const ended = await b.earshot.control.end(ann.sessionId);
    expect(ended).toMatchObject({ sessionId: ann.sessionId, node: 'node-a' });
    await until(() => ann.messages.some((m) => m.type === 'closed'));
    expect(ann.messages.find((m) => m.type === 'closed')).toMatchObject({ reason: 'ended' });
    await bob.client.stop();
  });

  it('lets an observer on one node follow a session on the other', async () => {
    const ann = await connect(a, 'ann');
    const seen: ServerMessageInput[] = [];
    const stop = await b.earshot.control.observe(ann.sessionId, (m) => seen.push(m));
    for (let at = 0; at < speech.byteLength; at += 3200)
      ann.client.sendAudio(speech.subarray(at, at + 3200));
    await ann.client.stop();
    await until(() => seen.some((m) => m.type === 'closed'), 20_000);
    stop();
    expect(seen.some((m) => m.type === 'transcript' && m.isFinal && m.text)).toBe(true);
  });

  it('resumes a session on the other node when the client comes back there: every final once', async () => {
    const proxy: TcpProxy = await startTcpProxy(Number(new URL(a.url).port));
    /** Streams the speech through the balancer; with `moveAt`, cuts there and reconnects to b. */
    const run = async (moveAt?: number) => {
      proxy.retarget(Number(new URL(a.url).port));
      const client = new EarshotClient({
        url: `ws://127.0.0.1:${proxy.port}/v1/listen`,
        reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
      });
      const finals: TranscriptMessage[] = [];
      client.on('transcript', (t) => t.isFinal && finals.push(t));
      await client.start({ audio: PCM16, metadata: { userId: 'ann' } });
      const frame = 3200;
      for (let at = 0, k = 0; at < speech.byteLength; at += frame, k++) {
        if (k === moveAt) {
          // The balancer sends the reconnect to the other node.
          proxy.retarget(Number(new URL(b.url).port));
          await proxy.cut({ losingMs: 200 });
        }
        client.sendAudio(speech.subarray(at, at + frame));
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      const closed = await client.stop();
      return { finals, closed, sessionId: client.sessionId! };
    };
    try {
      const unbroken = await run();
      const { finals, closed, sessionId } = await run(Math.floor(speech.byteLength / 3200 / 2));
      expect(b.earshot.getSession(sessionId)).toBeUndefined(); // ended on node b
      expect(closed.summary.finalSegments).toBe(finals.length);

      const ids = finals.map((f) => f.segmentId);
      expect(new Set(ids).size).toBe(ids.length);
      const stored = await store.getSegments(sessionId);
      expect(stored.map((s) => s.segmentId)).toEqual(ids);
      expect(stored.map((s) => s.seq)).toEqual(stored.map((_, i) => i));
      expect(finals.some((f) => f.segmentId.includes(':h1:'))).toBe(true); // some came from b
      const record = await store.getSession(sessionId);
      expect(record).toMatchObject({ status: 'ended', endReason: 'stopped' });
      expect(record?.metrics?.resumes).toBe(1);
      expect(record?.metrics?.audioSeconds).toBeCloseTo(speech.byteLength / 32000, 1);

      // Against the same audio unbroken on one node: the words are the same but for the
      // utterance the move split in two (the old node's provider finished it early).
      const baseline = unbroken.finals.map((f) => f.text).join(' ');
      const text = finals.map((f) => f.text).join(' ');
      const wer = wordErrorRate(baseline, text);
      console.log(
        `resumed on the other node: ${finals.length} finals, WER ${wer.toFixed(3)} vs unbroken`,
      );
      expect(wer).toBeLessThan(0.2);
    } finally {
      await proxy.close();
    }
  });

  it('goes on as single nodes when Redis stops, with a warning, and no crash', async () => {
    await redis.stop();
    try {
      const bob = await connect(b, 'bob');
      const listed = await b.earshot.control.listLive();
      expect(listed.map((s) => s.sessionId)).toEqual([bob.sessionId]);
      expect(await a.earshot.control.broadcast({ all: true }, 'still here')).toBe(0);
      expect(warnings.some((w) => w.includes('Redis unreachable'))).toBe(true);
      await bob.client.stop();
    } finally {
      await redis.start();
    }
    // Back together within a heartbeat or two (until then node B says it cannot tell).
    const ann = await connect(a, 'ann');
    await until(
      async () =>
        (await b.earshot.control.getLive(ann.sessionId).catch(() => undefined)) !== undefined,
      10_000,
    );
    await ann.client.stop();
  });
});
