import { EarshotClient } from '@earshot/client';
import { CloseCode, type ServerMessage, type ServerMessageInput } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import {
  type RedisServer,
  readWavPcm16,
  speechFixtures,
  startRedis,
  until,
} from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { listen, type RunningServer } from '../src/adapters/node.js';
import {
  BroadcastResponseSchema,
  EndSessionResponseSchema,
  SessionDetailResponseSchema,
  SessionListResponseSchema,
} from '../src/rest/rest-schemas.js';
import { createMemoryStore } from '../src/stores/memory-store.js';

// The REST admin of one node acts on sessions another node runs: two nodes in one process
// share a real Redis and one store, and a client streams to node A while the admin talks to
// node B only.
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const store = createMemoryStore();
const provider = createLocalProvider();
let redis: RedisServer;
let a: RunningServer;
let b: RunningServer;
let speech: Buffer;

beforeAll(async () => {
  redis = await startRedis();
  const node = (nodeId: string) =>
    listen({
      provider,
      store,
      port: 0,
      nodeId,
      tokenSecret: 'shared by every node',
      cluster: { redisUrl: redis.url, heartbeatSeconds: 1 },
    });
  [a, b] = await Promise.all([node('node-a'), node('node-b')]);
  const [fixture] = await speechFixtures();
  speech = (await readWavPcm16(fixture!.path)).pcm;
});

afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await provider.close();
  await redis?.stop();
});

describe('the REST admin on a node that does not run the session', () => {
  it('lists, reads, broadcasts to, observes and ends a session running on another node', async () => {
    const client = new EarshotClient({
      url: `${a.url.replace('http', 'ws')}/v1/listen`,
      reconnect: false,
    });
    const received: ServerMessageInput[] = [];
    client.on('broadcast', (m) => received.push(m));
    client.on('closed', (m) => received.push(m));
    await client.start({ audio: PCM16, metadata: { userId: 'ann' } });
    const sessionId = client.sessionId!;

    const list = SessionListResponseSchema.parse(
      await (await fetch(`${b.url}/v1/sessions?userId=ann`)).json(),
    );
    expect(list.sessions).toMatchObject([
      { id: sessionId, status: 'active', stored: true, live: { node: 'node-a' } },
    ]);
    const detail = SessionDetailResponseSchema.parse(
      await (await fetch(`${b.url}/v1/sessions/${sessionId}`)).json(),
    );
    expect(detail.live).toMatchObject({ sessionId, node: 'node-a', metadata: { userId: 'ann' } });

    // An observer on node B, recording from the first frame.
    const observed: ServerMessage[] = [];
    const observer = new WebSocket(
      `${b.url.replace('http', 'ws')}/v1/sessions/${sessionId}/events`,
    );
    observer.on('message', (data) => observed.push(JSON.parse(String(data)) as ServerMessage));
    const observerClosed = new Promise<number>((resolve) => observer.once('close', resolve));
    await until(() => observed.length > 0, 10_000);
    expect(observed[0]).toMatchObject({ type: 'session_info', sessionId, node: 'node-a' });

    const broadcast = await fetch(`${b.url}/v1/broadcast`, {
      method: 'POST',
      body: JSON.stringify({ userId: 'ann', payload: { text: 'across nodes' } }),
    });
    expect(BroadcastResponseSchema.parse(await broadcast.json())).toEqual({ delivered: 1 });
    await until(() => received.some((m) => m.type === 'broadcast'), 10_000);

    for (let at = 0; at < speech.byteLength; at += 3200) {
      client.sendAudio(speech.subarray(at, at + 3200));
    }
    await until(() => observed.some((m) => m.type === 'ack'), 10_000);
    const ended = await fetch(`${b.url}/v1/sessions/${sessionId}/end`, { method: 'POST' });
    expect(ended.status).toBe(200);
    expect(EndSessionResponseSchema.parse(await ended.json())).toMatchObject({
      sessionId,
      status: 'ended',
      final: { node: 'node-a' },
    });
    await until(() => received.some((m) => m.type === 'closed'), 20_000);
    expect(await observerClosed).toBe(CloseCode.Normal);
    expect(observed.at(-1)).toMatchObject({ type: 'closed', reason: 'ended' });
    expect(observed.some((m) => m.type === 'broadcast')).toBe(true);
    expect((await store.getSession(sessionId))?.status).toBe('ended');
  });
});
