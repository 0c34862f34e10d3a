import { EarshotClient } from '@earshot/client';
import type { Logger, ServerMessageInput, TranscriptMessage } from '@earshot/protocol';
import { createLocalProvider } from '@earshot/providers/local';
import { createMemoryStore } from '@earshot/server';
import { listen, type RunningServer } from '@earshot/server/node';
import { type RedisServer, speechWithPauses, startRedis, until } from '@earshot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';

// Two nodes, one Redis, one store. Sessions run on node A while Redis crashes (SIGKILL) and
// comes back empty on the same port, or freezes (SIGSTOP) and thaws. What "survived" means:
//
// - the sessions running on node A go on transcribing through the outage: none dropped, no
//   crash, no unhandled rejection;
// - node B's REST answers what it cannot know with 503 `cluster_unavailable`, at once or
//   within the command timeout, never a hang and never a wrong "not found" / "ended";
// - once Redis is back the registry is whole again (node A's sessions visible from node B,
//   though Redis lost every key), `end` and `broadcast` sent to node B reach node A's
//   sessions, and a client that reconnects to node B resumes its session there.
const PCM16 = { encoding: 'pcm16', sampleRate: 16000, channels: 1 } as const;
const FRAME = 3200; // 100 ms of PCM16 16 kHz
const COMMAND_TIMEOUT_MS = 1000;
const REQUEST_TIMEOUT_MS = 3000;
// What "at once or within the timeouts" allows on a loaded shared machine.
const PROMPT_MS = COMMAND_TIMEOUT_MS + REQUEST_TIMEOUT_MS + 4000;
const store = createMemoryStore();
const warnings: string[] = [];
const logger: Logger = {
  debug() {},
  info() {},
  warn: (_fields: unknown, message?: string) => void warnings.push(String(message)),
  error: (_fields: unknown, message?: string) => void warnings.push(`error: ${message}`),
};
const unexpected: unknown[] = [];
const recordUnexpected = (error: unknown) => void unexpected.push(error);
const providers = [
  createLocalProvider({ maxConcurrentStreams: 4 }),
  createLocalProvider({ maxConcurrentStreams: 4 }),
];
let redis: RedisServer;
let a: RunningServer;
let b: RunningServer;
let speech: Buffer;

beforeAll(async () => {
  process.on('unhandledRejection', recordUnexpected);
  process.on('uncaughtException', recordUnexpected);
  redis = await startRedis();
  const node = (nodeId: string, provider: (typeof providers)[number]) =>
    listen({
      provider,
      store,
      port: 0,
      nodeId,
      logger,
      tokenSecret: 'shared by every node',
      cluster: {
        redisUrl: redis.url,
        heartbeatSeconds: 1,
        requestTimeoutMs: REQUEST_TIMEOUT_MS,
        commandTimeoutMs: COMMAND_TIMEOUT_MS,
      },
      limits: { resumeGraceSeconds: 30 },
    });
  [a, b] = await Promise.all([node('node-a', providers[0]!), node('node-b', providers[1]!)]);
  // Three LibriVox recordings with pauses: a final every few seconds, about 19 s in all.
  speech = await speechWithPauses(3, 0.8);
});

afterAll(async () => {
  redis?.resume();
  await Promise.all([a?.close(), b?.close()]);
  await Promise.all(providers.map((p) => p.close()));
  await redis?.stop();
  process.off('unhandledRejection', recordUnexpected);
  process.off('uncaughtException', recordUnexpected);
});

interface Connected {
  readonly client: EarshotClient;
  readonly sessionId: string;
  readonly finals: TranscriptMessage[];
  readonly messages: ServerMessageInput[];
}

async function connect(url: string, userId: string, reconnect = false): Promise<Connected> {
  const client = new EarshotClient({
    url,
    reconnect: reconnect ? { initialDelayMs: 100, maxDelayMs: 1000 } : false,
  });
  const finals: TranscriptMessage[] = [];
  const messages: ServerMessageInput[] = [];
  client.on('transcript', (t) => t.isFinal && t.text !== '' && finals.push(t));
  client.on('broadcast', (m) => messages.push(m));
  client.on('closed', (m) => messages.push(m));
  client.on('error', (e) => messages.push(e.toWire()));
  await client.start({ audio: PCM16, metadata: { userId } });
  return { client, sessionId: client.sessionId!, finals, messages };
}

const wsUrl = (server: RunningServer) => `${server.url.replace('http', 'ws')}/v1/listen`;

/** A REST call, with how long it took to answer. */
async function rest(url: string, init?: RequestInit) {
  const started = Date.now();
  const res = await fetch(url, {
    ...init,
    headers: { 'content-type': 'application/json' },
    signal: AbortSignal.timeout(60_000),
  });
  const body = (await res.json()) as Record<string, unknown> & {
    error?: { code: string; message: string };
  };
  return { status: res.status, body, ms: Date.now() - started };
}

/** Whether node B sees each of `ids` running on node A. */
async function bSeesOnA(ids: readonly string[]): Promise<boolean> {
  try {
    const live = await b.earshot.control.listLive();
    return ids.every((id) => live.some((s) => s.sessionId === id && s.node === 'node-a'));
  } catch {
    return false;
  }
}

/** Streams `audio` to `client` in real time from `from` until `stop()`; resolves where it got to. */
function streamInRealTime(client: EarshotClient, audio: Buffer) {
  let stopped = false;
  let at = 0;
  const done = (async () => {
    for (; at < audio.byteLength && !stopped; at += FRAME) {
      client.sendAudio(audio.subarray(at, at + FRAME));
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return at;
  })();
  return {
    get seconds() {
      return at / 32_000;
    },
    stop: async () => {
      stopped = true;
      return done;
    },
  };
}

describe('a cluster whose Redis is killed and restarted', () => {
  it('keeps its sessions transcribing, answers 503 cluster_unavailable meanwhile, and is whole again once Redis is back', async () => {
    const ann = await connect(wsUrl(a), 'ann');
    const bob = await connect(wsUrl(a), 'bob');
    const proxy: TcpProxy = await startTcpProxy(Number(new URL(a.url).port));
    try {
      // Carol goes through a balancer, so her reconnect can land on node B later.
      const carol = await connect(`ws://127.0.0.1:${proxy.port}/v1/listen`, 'carol', true);
      let resumed = 0;
      carol.client.on('resumed', () => resumed++);
      const onA = [ann.sessionId, bob.sessionId, carol.sessionId];
      await until(() => bSeesOnA(onA), 10_000);

      // Ann talks all along, in real time; Redis dies once her first final is in.
      const talk = streamInRealTime(ann.client, speech);
      await until(() => ann.finals.length >= 1, 30_000);
      const finalsBeforeOutage = ann.finals.length;
      await redis.kill();

      // Node B cannot know about node A's sessions: it says so, at once, with a typed error.
      const ended = await rest(`${b.url}/v1/sessions/${bob.sessionId}/end`, { method: 'POST' });
      expect(ended.status).toBe(503);
      expect(ended.body.error?.code).toBe('cluster_unavailable');
      expect(ended.ms).toBeLessThan(PROMPT_MS);
      const detail = await rest(`${b.url}/v1/sessions/${ann.sessionId}`);
      expect([detail.status, detail.body.error?.code]).toEqual([503, 'cluster_unavailable']);
      const sent = await rest(`${b.url}/v1/broadcast`, {
        method: 'POST',
        body: JSON.stringify({ sessionId: ann.sessionId, payload: 'lost?' }),
      });
      expect([sent.status, sent.body.error?.code]).toEqual([503, 'cluster_unavailable']);
      expect(sent.ms).toBeLessThan(PROMPT_MS);
      // What a node can answer alone it still answers: its list, its own sessions.
      expect((await rest(`${b.url}/v1/sessions?status=active`)).status).toBe(200);
      const own = await rest(`${a.url}/v1/sessions/${ann.sessionId}`);
      expect(own.status).toBe(200);
      expect(own.body.live).toMatchObject({ sessionId: ann.sessionId, node: 'node-a' });
      await until(() => warnings.some((w) => w.includes('Redis unreachable')), 10_000);

      // Ann's session goes on transcribing while Redis is away.
      await until(() => ann.finals.length > finalsBeforeOutage, 30_000);
      const finalsDuringOutage = ann.finals.length - finalsBeforeOutage;

      // Redis comes back on the same port, empty: every key of the registry is gone.
      await redis.start();
      await until(() => bSeesOnA(onA), 15_000);

      // Broadcast and end sent to node B reach node A's sessions.
      const broadcast = await rest(`${b.url}/v1/broadcast`, {
        method: 'POST',
        body: JSON.stringify({ sessionId: ann.sessionId, payload: { text: 'Redis is back' } }),
      });
      expect([broadcast.status, broadcast.body]).toEqual([200, { delivered: 1 }]);
      await until(() => ann.messages.some((m) => m.type === 'broadcast'), 10_000);
      const endBob = await rest(`${b.url}/v1/sessions/${bob.sessionId}/end`, { method: 'POST' });
      expect(endBob.status).toBe(200);
      expect(endBob.body).toMatchObject({ status: 'ended', final: { node: 'node-a' } });
      await until(() => bob.messages.some((m) => m.type === 'closed'), 10_000);
      expect(bob.messages.find((m) => m.type === 'closed')).toMatchObject({ reason: 'ended' });

      // Carol's connection drops and the balancer sends her to node B: she resumes there.
      for (let at = 0; at < 20 * FRAME; at += FRAME) {
        carol.client.sendAudio(speech.subarray(at, at + FRAME));
      }
      proxy.retarget(Number(new URL(b.url).port));
      await proxy.cut({ losingMs: 200 });
      await until(() => resumed === 1, 20_000);
      await until(() => b.earshot.getSession(carol.sessionId) !== undefined, 10_000);
      expect(a.earshot.getSession(carol.sessionId)).toBeUndefined();
      for (let at = 20 * FRAME; at < 40 * FRAME; at += FRAME) {
        carol.client.sendAudio(speech.subarray(at, at + FRAME));
      }
      const carolClosed = await carol.client.stop();
      expect(carolClosed.reason).toBe('stopped');
      expect((await store.getSession(carol.sessionId))?.metrics?.resumes).toBe(1);

      // Ann never noticed: her session ran on to her stop, every final stored.
      await talk.stop();
      const annClosed = await ann.client.stop();
      expect(annClosed.reason).toBe('stopped');
      expect(ann.messages.filter((m) => m.type === 'error')).toEqual([]);
      expect(annClosed.summary.finalSegments).toBeGreaterThanOrEqual(ann.finals.length);
      const stored = await store.getSegments(ann.sessionId);
      for (const final of ann.finals) {
        expect(stored.find((s) => s.segmentId === final.segmentId)?.text).toBe(final.text);
      }
      console.log(
        `Redis killed after ann's final ${finalsBeforeOutage}; ${finalsDuringOutage} more during the outage, ${ann.finals.length} in all`,
      );
      expect(unexpected).toEqual([]);
      expect(warnings.filter((w) => w.startsWith('error:'))).toEqual([]);
    } finally {
      if (!redis.running) await redis.start();
      await proxy.close();
    }
  }, 180_000);

  it('answers within the command timeout while Redis is frozen, and recovers when it thaws', async () => {
    const dave = await connect(wsUrl(a), 'dave');
    await until(() => bSeesOnA([dave.sessionId]), 10_000);
    const talk = streamInRealTime(dave.client, speech);
    redis.pause();
    try {
      // Redis takes the commands and never answers: without a timeout these would hang.
      const ended = await rest(`${b.url}/v1/sessions/${dave.sessionId}/end`, { method: 'POST' });
      expect([ended.status, ended.body.error?.code]).toEqual([503, 'cluster_unavailable']);
      expect(ended.ms).toBeLessThan(PROMPT_MS);
      const listed = await rest(`${b.url}/v1/sessions?status=active`);
      expect(listed.status).toBe(200);
      expect(listed.ms).toBeLessThan(PROMPT_MS);
      // Dave's session on node A does not wait on Redis either.
      const finals = dave.finals.length;
      await until(() => dave.finals.length > finals, 30_000);
    } finally {
      redis.resume();
    }
    await until(() => bSeesOnA([dave.sessionId]), 15_000);
    await talk.stop();
    // Dave was talking: the end answers once node A's provider has flushed his last finals,
    // which on a loaded machine takes longer than the request timeout (it did: a 503).
    const ended = await rest(`${b.url}/v1/sessions/${dave.sessionId}/end`, { method: 'POST' });
    expect(ended.status).toBe(200);
    await until(() => dave.messages.some((m) => m.type === 'closed'), 10_000);
    expect(dave.messages.find((m) => m.type === 'closed')).toMatchObject({ reason: 'ended' });
    expect(dave.messages.filter((m) => m.type === 'error')).toEqual([]);
    expect(unexpected).toEqual([]);
  }, 120_000);
});
